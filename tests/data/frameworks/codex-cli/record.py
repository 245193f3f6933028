"""Records the OpenTelemetry export of the real OpenAI Codex CLI (`codex exec`, npm @openai/codex) for two tasks.

Usage: record.py CODEX_BIN RESPONSES_PORT OTLP_PORT OTLP_DIR SERVER_LOG MCP_LOG WORK OUT_DIR
(record.sh starts fake_responses_server.py and otlp_receiver.py and passes their ports.)

Codex reads no OTEL_* variables: the export is configured in $CODEX_HOME/config.toml `[otel]` (written below),
OTLP/HTTP protobuf to the loopback receiver. Each task is one `codex exec` process (it flushes its exporters at
exit). The tool is get_weather from weather_mcp.py, an MCP stdio server Codex starts itself.
expected.json is tallied from what the fake server returned (server log) and what the MCP tool ran (MCP log),
never from the spans; the trace id is the one in the `traceparent` header Codex sent to the fake (checked
against the trace of the `session_task.turn` span).
"""

import base64
import glob
import json
import os
import subprocess
import sys
import time

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = "aw-fw-codex-cli"
TASKS = [("What's the weather in Paris?", "Paris"), ("What's the weather in Tokyo?", "Tokyo")]

CONFIG = """\
model = "gpt-5-codex-fake"
model_provider = "awfake"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.awfake]
name = "aw fake"
base_url = "http://127.0.0.1:{port}/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 10000

[mcp_servers.weather]
command = "{python}"
args = ["{mcp}"]
env = {{ AW_MCP_LOG = "{mcp_log}" }}

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
environment = "aw-fixture"
exporter = {{ otlp-http = {{ endpoint = "http://127.0.0.1:{oport}/v1/logs", protocol = "binary" }} }}
trace_exporter = {{ otlp-http = {{ endpoint = "http://127.0.0.1:{oport}/v1/traces", protocol = "binary" }} }}
metrics_exporter = "none"
"""


def _hexify(obj):
    if isinstance(obj, dict):
        return {k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _hexify(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hexify(x) for x in obj]
    return obj


def _read_export(otlp_dir, signal):
    """All bodies received for one signal, in arrival order, as OTLP/JSON dicts (hex IDs)."""
    docs = []
    for path in sorted(glob.glob(os.path.join(otlp_dir, f"*-{signal}.*"))):
        with open(path, "rb") as f:
            body = f.read()
        if path.endswith(".json"):
            docs.append(json.loads(body))
            continue
        msg = ExportTraceServiceRequest() if signal == "traces" else ExportLogsServiceRequest()
        msg.ParseFromString(body)
        docs.append(_hexify(MessageToDict(msg)))
    return docs


def _bodies(otlp_dir):
    return sorted(glob.glob(os.path.join(otlp_dir, "*")))


def _has_turn_span(paths):
    for path in paths:
        if "-traces." not in path:
            continue
        with open(path, "rb") as f:
            body = f.read()
        if b"session_task.turn" in body:
            return True
    return False


def run_task(codex, env, ws, question, otlp_dir):
    """One `codex exec`; returns (process, paths of the OTLP bodies it exported)."""
    before = set(_bodies(otlp_dir))
    proc = subprocess.run([codex, "exec", "--skip-git-repo-check", question], cwd=ws, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    deadline, last = time.time() + 10, -1  # let the receiver write the last bodies
    while time.time() < deadline:
        n = len(_bodies(otlp_dir))
        if n == last:
            break
        last = n
        time.sleep(0.5)
    return proc, [p for p in _bodies(otlp_dir) if p not in before]


def main():
    codex, port, oport, otlp_dir, server_log, mcp_log, work, out = sys.argv[1:9]
    home, ws = os.path.join(work, "codex-home"), os.path.join(work, "workspace")
    os.makedirs(home, exist_ok=True)
    os.makedirs(ws, exist_ok=True)
    with open(os.path.join(home, "config.toml"), "w") as f:
        f.write(CONFIG.format(port=port, oport=oport, python=sys.executable, mcp=os.path.join(HERE, "weather_mcp.py"),
                              mcp_log=mcp_log))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_", "OTEL_"))}
    # service.name is Codex's originator (default `codex_exec`); this is Codex's own override for it.
    env.update(CODEX_HOME=home, HOME=work, CODEX_INTERNAL_ORIGINATOR_OVERRIDE=SERVICE,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    # A `codex exec` whose turn fails exits(1) without shutting its OTel providers down, so whatever its batch
    # processors still hold is lost (with the SDK default of 5 s: the whole run). The Rust SDK reads the standard
    # batch-delay variables; 1 ms makes it export each span as it ends. Content and keys are unchanged.
    env.update(OTEL_BSP_SCHEDULE_DELAY="1", OTEL_BLRP_SCHEDULE_DELAY="1")

    tallies = []
    for question, city in TASKS:
        for attempt in range(1, 6):
            srv_before = _lines(server_log)
            mcp_before = _lines(mcp_log)
            proc, paths = run_task(codex, env, ws, question, otlp_dir)
            print(f"--- codex exec {question!r} (attempt {attempt}): exit {proc.returncode}, {len(paths)} OTLP bodies")
            if _has_turn_span(paths):
                break
            # the exit raced the exporter and the turn span was lost: drop this run's export and run it again
            print("    no session_task.turn span was exported; discarding this attempt")
            for path in paths:
                os.remove(path)
        else:
            raise SystemExit("codex never exported its turn span")
        print("stdout:", proc.stdout.strip()[-400:])
        print("stderr tail:", "\n".join(proc.stderr.strip().splitlines()[-6:]))
        tallies.append(tally(_lines(server_log)[len(srv_before):], _lines(mcp_log)[len(mcp_before):], city, proc))

    traces = _read_export(otlp_dir, "traces")
    logs = _read_export(otlp_dir, "logs")
    spans_doc = {"resourceSpans": [rs for d in traces for rs in d.get("resourceSpans", [])]}
    logs_doc = {"resourceLogs": [rl for d in logs for rl in d.get("resourceLogs", [])]}
    turn_traces = []  # trace of each task's turn span, in run order (one codex process per task)
    for d in traces:
        for rs in d.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    if s["name"] == "session_task.turn":
                        turn_traces.append((int(s["startTimeUnixNano"]), s["traceId"]))
    turn_traces = [t for _, t in sorted(turn_traces)]
    assert len(turn_traces) == len(tallies), turn_traces
    for t, trace_id in zip(tallies, turn_traces, strict=True):
        assert t["trace_id"] == trace_id, (t["trace_id"], trace_id)  # traceparent seen by the fake == turn trace
    with open(os.path.join(out, "spans.json"), "w") as f:
        json.dump(spans_doc, f, separators=(",", ":"))
        f.write("\n")
    with open(os.path.join(out, "logs.json"), "w") as f:
        json.dump(logs_doc, f, indent=1)
        f.write("\n")
    n_spans = sum(len(ss.get("spans", [])) for rs in spans_doc["resourceSpans"] for ss in rs.get("scopeSpans", []))
    n_logs = sum(len(sl.get("logRecords", [])) for rl in logs_doc["resourceLogs"] for sl in rl.get("scopeLogs", []))
    version = subprocess.run([codex, "--version"], capture_output=True, text=True, env=env).stdout.strip()
    source = (f"Recorded with @openai/codex 0.171.0 ({version}, native x86_64-unknown-linux-musl binary, its own OTLP "
              "exporters: opentelemetry-rust sdk 0.31.0) via `codex exec`, [otel] exporter/trace_exporter = otlp-http "
              "binary to a loopback receiver; model provider wire_api=responses against the scripted fake "
              "fake_responses_server.py; tool get_weather = MCP stdio server weather_mcp.py. task1 = Paris tool call "
              "then answer, task2 = Tokyo tool call then HTTP 500 (request_max_retries=0).")
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"source": source, "tasks": tallies}, f, indent=2)
        f.write("\n")
    print(f"wrote {n_spans} spans ({len(turn_traces)} task traces) and {n_logs} log records")


def _lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def tally(server, mcp, city, proc):
    t = {"trace_id": None, "llm_calls": 0, "tool_calls": 0, "tools": {},
         "tokens": {"input": 0, "output": 0, "cache_read": 0, "reasoning": 0, "total": 0},
         "models": [], "agent": None,  # no agent name on any span (only agent_name="/root" in the tool_result log)
         "tool_args_recorded": False,  # spans carry only arguments_length; the arguments are in the logs only
         "errors": {}}
    for entry in server:
        if entry.get("path", "").split("?")[0].rstrip("/").endswith("/responses") and "request" in entry:
            t["llm_calls"] += 1
            model = entry["request"].get("model")
            if model and model not in t["models"]:
                t["models"].append(model)
            if t["trace_id"] is None and entry.get("traceparent"):  # Codex propagates W3C trace context
                t["trace_id"] = entry["traceparent"].split("-")[1]
            if entry["status"] != 200:
                # Codex reports a failed request only as `error.message = "http <status>"` (codex.api_request event)
                key = f"http {entry['status']}"
                t["errors"][key] = t["errors"].get(key, 0) + 1
                continue
            u = next(ev for ev in entry["reply"] if ev["type"] == "response.completed")["response"]["usage"]
            tok = t["tokens"]
            tok["input"] += u["input_tokens"]
            tok["output"] += u["output_tokens"]
            tok["cache_read"] += u["input_tokens_details"]["cached_tokens"]
            tok["reasoning"] += u["output_tokens_details"]["reasoning_tokens"]
            tok["total"] += u["total_tokens"]
    for call in mcp:
        t["tool_calls"] += 1
        t["tools"][call["name"]] = t["tools"].get(call["name"], 0) + 1
    assert city in json.dumps(mcp), (city, mcp)
    if city == "Tokyo":
        assert proc.returncode != 0 or "500" in proc.stderr, "expected the second task to fail"
    return t


if __name__ == "__main__":
    main()
