"""`agentwatch doctor` checks that need no broker, and `agentwatch alerts`' one-line format."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from prometheus_client import CollectorRegistry

from agentwatch.alerts_cli import format_alert
from agentwatch.cli import main
from agentwatch.doctor import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    check_broker,
    check_lag,
    check_metrics_port,
    check_policy,
    check_prices,
    check_protobuf,
    check_settings,
    check_topics,
    run_doctor,
)
from agentwatch.local.broker import free_port
from agentwatch.policy import parse_policy
from agentwatch.settings import Settings
from agentwatch.stream.http import Health, serve

ALERT = {
    "schema": "agentwatch.alert/v1", "alert_id": "ab" * 32, "kind": "tool_loop", "severity": "critical",
    "action": "terminate", "ts": "2025-06-01T22:14:03.250Z", "task_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "conversation_id": None, "agent": "looping-bot",
    "service": "svc", "resource": {}, "rule": "*/tool_repeat", "observed": 3.0, "threshold": 3.0,
    "baseline": None, "evidence": {"tool": "search", "repeats": 3},
    "message": "tool 'search' called 3 times in a row with the same arguments",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in [v for v in os.environ if v.startswith("AGENTWATCH_")]:
        monkeypatch.delenv(var)


# -- format_alert ---------------------------------------------------------------------------------------------


def test_format_alert_one_line() -> None:
    local = datetime.fromisoformat(ALERT["ts"]).astimezone().strftime("%H:%M:%S")
    assert format_alert(ALERT, color=False) == (
        f"{local}  CRITICAL  tool_loop       looping-bot     task 4bf92f35…  observed 3 / threshold 3  "
        "tool 'search' called 3 times in a row with the same arguments"
    )


def test_format_alert_colours_only_the_severity() -> None:
    line = format_alert(ALERT, color=True)
    assert "\x1b[1;31mCRITICAL\x1b[0m" in line
    assert format_alert({**ALERT, "severity": "warning"}, color=True).count("\x1b[33mWARNING ") == 1
    assert "\x1b" not in format_alert(ALERT, color=False)


def test_format_alert_tolerates_missing_fields_and_odd_numbers() -> None:
    line = format_alert({"kind": "cost_budget", "observed": 2.73125, "threshold": 2.5}, color=False)
    assert line.startswith("--:--:--  -         cost_budget     -               task -  observed 2.731 / threshold 2.5")
    assert "observed" not in format_alert({"kind": "stalled_task"}, color=False)
    assert "observed 123456.7 / threshold 100000" in format_alert({"observed": 123456.7, "threshold": 1e5}, False)


def test_format_alert_strips_control_characters_and_truncates_agent() -> None:
    evil = {**ALERT, "agent": "bot\x1b[2J" + "x" * 60, "message": "line one\nline two\x07"}
    line = format_alert(evil, color=False)
    assert "\x1b" not in line and "\n" not in line and "\x07" not in line
    assert "bot?[2J" in line and "line one line two?" in line
    assert "x" * 40 not in line and "…" in line


# -- doctor: checks without a broker --------------------------------------------------------------------------


def test_protobuf_and_settings() -> None:
    assert check_protobuf().status == PASS
    check, settings = check_settings({})
    assert check.status == PASS and settings == Settings()
    check, settings = check_settings({"AGENTWATCH_PARTITIONS": "zero"})
    assert check.status == FAIL and "AGENTWATCH_PARTITIONS" in check.detail and settings is None
    check, _ = check_settings({"AGENTWATCH_SASL_MECHANISM": "PLAIN"})
    assert check.status == FAIL and "SECURITY_PROTOCOL" in check.detail


def test_invalid_policy_fails_naming_the_line(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('agents:\n  - match: "a-*"\n    tool_repeat: 1\n')
    check, policy = check_policy(str(path))
    assert check.status == FAIL and policy is None
    assert f"{path}:3:" in check.detail and "tool_repeat" in check.detail and "at least 2" in check.detail
    check, _ = check_policy(str(tmp_path / "absent.yaml"))
    assert check.status == FAIL and "cannot read" in check.detail


def test_valid_policy_reports_rules_and_overrides(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('agents:\n  - match: "a-*"\n  - match: "*"\nprices:\n  my-ft: {input: 1, output: 2}\n')
    check, policy = check_policy(str(path))
    assert check.status == PASS and policy is not None
    assert "2 rules, 1 price override(s)" in check.detail
    assert check_policy(None)[0].detail.startswith("built-in defaults")


def test_unknown_model_warns_and_points_to_policy_prices() -> None:
    now = time.time_ns()
    check = check_prices({"gpt-4o-mini": 3, "my-finetune": 1, "__other__": 1}, 4, parse_policy(""), now)
    assert check.status == WARN
    assert "my-finetune" in check.detail and "gpt-4o-mini" not in check.detail and "prices:" in check.detail
    assert "1 of 2 model(s) in the last 4 task(s)" in check.detail
    priced = parse_policy("prices:\n  my-finetune: {input: 0.5, output: 1.5}\n")
    check = check_prices({"gpt-4o-mini": 3, "my-finetune": 1}, 4, priced, now)
    assert check.status == PASS and "1 override(s)" in check.detail
    assert check_prices({}, 0, priced, now).status == PASS


def test_unreachable_broker_fails_within_the_bound() -> None:
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    check = check_broker(f"127.0.0.1:{port}", timeout_s=1.0)
    assert time.monotonic() - t0 < 3.0
    assert check.status == FAIL and f"127.0.0.1:{port}" in check.detail


def test_doctor_without_broker_skips_broker_checks_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    dead, metrics = free_port(), free_port()
    checks = run_doctor(brokers=f"127.0.0.1:{dead}", metrics_port=metrics, timeout_s=0.5, env={})
    by_name = {c.name: c.status for c in checks}
    assert by_name == {"protobuf": PASS, "settings": PASS, "policy": PASS, "broker": FAIL, "topics": SKIP,
                       "consumer lag": SKIP, "prices": SKIP, "metrics port": PASS}
    assert main(["doctor", "--brokers", f"127.0.0.1:{dead}", "--metrics-port", str(metrics), "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "\nFAIL  broker        " in out and "FAILED: " in out
    assert main(["doctor", "--brokers", f"127.0.0.1:{dead}", "--timeout", "0.5", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and {"name": "broker", "status": FAIL} in [
        {k: c[k] for k in ("name", "status")} for c in doc["checks"]]


def test_topics_partition_mismatch_fails_and_missing_input_warns() -> None:
    s = Settings(partitions=8)
    counts = {"otlp_spans": None, "agentwatch-spans-by-task": 4, "agentwatch.alerts": 3, "agentwatch.tasks": 8,
              "agentwatch.dlq": 1, "agentwatch-task_state-changelog": 8}
    checks = {c.detail.split(":")[0]: c for c in check_topics(counts, s)}
    assert checks["otlp_spans"].status == WARN and "Collector" in checks["otlp_spans"].detail
    internal = checks["agentwatch-spans-by-task"]
    assert internal.status == FAIL and "AGENTWATCH_PARTITIONS=8" in internal.detail
    assert "AGENTWATCH_PARTITIONS=4" in internal.detail  # the way out
    assert checks["agentwatch.alerts"].status == PASS  # output topics may have any partition count
    assert checks["agentwatch-task_state-changelog"].status == PASS
    bad_changelog = check_topics({**counts, "agentwatch-task_state-changelog": 2}, s)
    assert [c.status for c in bad_changelog if "changelog" in c.detail.split(":")[0]] == [FAIL]
    (by_agent,) = check_topics({"agentwatch-summaries-by-agent": 3}, s)
    assert by_agent.status == FAIL and "agent hash" in by_agent.detail


def test_lag() -> None:
    none = check_lag(None)
    assert none.status == WARN and "rebalancing" in none.detail
    ok = check_lag({("otlp_spans", 0): 0, ("otlp_spans", 1): 5})
    assert ok.status == PASS and "otlp_spans 5" in ok.detail and "otlp_spans[1]" in ok.detail
    assert check_lag({("otlp_spans", 0): 50_000}).status == WARN


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_metrics_port_free_worker_and_taken() -> None:
    port = free_port()
    check = check_metrics_port(port)
    assert check.status == PASS and "free" in check.detail

    worker = serve(port, CollectorRegistry(), Health(), host="127.0.0.1")
    try:
        check = check_metrics_port(port)
        assert check.status == PASS and "worker answering" in check.detail
    finally:
        worker.shutdown()
        worker.server_close()

    other = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    Thread(target=other.serve_forever, daemon=True).start()
    try:
        check = check_metrics_port(other.server_address[1])
        assert check.status == WARN and "404" in check.detail
    finally:
        other.shutdown()
        other.server_close()

    with socket.socket() as silent:  # listens, never speaks HTTP
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        check = check_metrics_port(silent.getsockname()[1], timeout_s=0.3)
        assert check.status == WARN and "does not answer HTTP" in check.detail
