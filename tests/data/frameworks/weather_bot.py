"""The agent task the `openai`-client fixtures record (otel-openai-v2, openinference-openai,
openllmetry-openai, openlit-openai), against fake_openai_server.py, and how they write their files.

Each record.py only wraps it in its framework's agent and tool spans: `chat_loop` runs the model / tool
round trips and tallies what the fake server returned (expected.json counts that, never the spans);
`run_two_tasks` runs the two tasks every fixture has; `write_fixture` writes spans.json (OTLP/JSON,
hex IDs) and expected.json. Needs only the OTel SDK and protobuf, which every fixture's venv has.
"""

import base64
import json
import os

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

MODEL = "gpt-4o-mini"
AGENT = "weather-bot"
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city", "parameters": WEATHER_SCHEMA}}]
WEATHER = {"Paris": {"temp_c": 18, "conditions": "cloudy"}, "Tokyo": {"temp_c": 24, "conditions": "sunny"}}


def weather(city):
    return {"city": city, **WEATHER[city]}


def new_tally(**extra):
    return {"trace_id": None, "llm_calls": 0, "tool_calls": 0, "tools": {},
            "tokens": {"input": 0, "output": 0, "cache_read": 0, "reasoning": 0, "total": 0},
            "models": [], "agent": AGENT, "tool_args_recorded": True, "errors": {}, **extra}


def chat_loop(client, openai, question, tally, call_tool, error_key):
    """One task's model calls and tool calls; returns the final answer, raises the model's error.

    `call_tool(tool_call, args)` runs the tool inside the framework's tool span and returns its result;
    `error_key(exc)` is the error type as the framework reports it."""
    messages = [{"role": "system", "content": "You are weather-bot."}, {"role": "user", "content": question}]
    for _ in range(3):
        try:
            resp = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        except openai.APIStatusError as e:
            key = error_key(e)
            tally["errors"][key] = tally["errors"].get(key, 0) + 1
            tally["llm_calls"] += 1
            raise
        tally["llm_calls"] += 1
        u, t = resp.usage, tally["tokens"]
        t["input"] += u.prompt_tokens
        t["output"] += u.completion_tokens
        t["total"] += u.total_tokens
        t["cache_read"] += u.prompt_tokens_details.cached_tokens
        t["reasoning"] += u.completion_tokens_details.reasoning_tokens
        if resp.model not in tally["models"]:
            tally["models"].append(resp.model)
        msg = resp.choices[0].message
        if not msg.tool_calls:
            return msg.content
        messages.append(msg.model_dump(exclude_none=True))
        for tc in msg.tool_calls:
            result = call_tool(tc, json.loads(tc.function.arguments))
            tally["tool_calls"] += 1
            tally["tools"][tc.function.name] = tally["tools"].get(tc.function.name, 0) + 1
            content = result if isinstance(result, str) else json.dumps(result)
            messages.append({"role": "tool", "tool_call_id": tc.id, "content": content})
    raise RuntimeError("agent did not finish")


def run_two_tasks(run_task, openai, **extra):
    """Task 1: a tool call, then the answer. Task 2: a tool call, then HTTP 500. `run_task(question,
    tally)` wraps `chat_loop` in the framework's agent span and sets tally["trace_id"]."""
    t1 = new_tally(**extra)
    answer = run_task("What's the weather in Paris?", t1)
    assert answer == "It is 18 C and cloudy in Paris.", answer
    t2 = new_tally(**extra)
    try:
        run_task("What's the weather in Tokyo?", t2)
        raise SystemExit("expected the second task to fail")
    except openai.InternalServerError:
        pass
    for t in (t1, t2):  # the failed call returned no model; the request model is what its span carries
        if not t["models"]:
            t["models"] = [MODEL]
    return [t1, t2]


def read_log(path):
    """The fake server's request log (one JSON object per request); empty before its first request."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def tally_replies(tally, lines):
    """Add what the fake returned to `tally` (`lines`: this task's records from `read_log`; every request is one
    model call). For the recorders whose framework runs its own model loop."""
    tk = tally["tokens"]
    for rec in lines:
        tally["llm_calls"] += 1
        reply = rec["reply"]
        if rec["status"] != 200:
            continue
        u = reply["usage"]
        tk["input"] += u["prompt_tokens"]
        tk["output"] += u["completion_tokens"]
        tk["total"] += u["total_tokens"]
        tk["cache_read"] += u["prompt_tokens_details"]["cached_tokens"]
        tk["reasoning"] += u["completion_tokens_details"]["reasoning_tokens"]
        if reply["model"] not in tally["models"]:
            tally["models"].append(reply["model"])


def _hexify(obj):
    if isinstance(obj, dict):
        return {k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _hexify(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hexify(x) for x in obj]
    return obj


def write_fixture(outdir, spans, tasks, source):
    """spans.json: the finished spans as one OTLP/JSON document (hex IDs, as the Collector writes them);
    expected.json: `source` and the tallies."""
    with open(os.path.join(outdir, "spans.json"), "w") as f:
        json.dump(_hexify(MessageToDict(encode_spans(spans))), f, indent=1)
        f.write("\n")
    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump({"source": source, "tasks": tasks}, f, indent=2)
        f.write("\n")
    print(f"wrote {len(spans)} spans in {len(tasks)} traces")
