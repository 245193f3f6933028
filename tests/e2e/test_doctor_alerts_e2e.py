"""`agentwatch doctor` and `agentwatch alerts` against the session's embedded broker.

Topics get unique names per test (the session broker is shared); only the re-key topic's name is fixed,
so the doctor's expected partition count is read back from what `ensure_topics` reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from kafka_helpers import produce_each

from agentwatch.alerts_cli import follow_alerts
from agentwatch.cli import main
from agentwatch.doctor import FAIL, PASS, WARN, run_doctor
from agentwatch.local.broker import EmbeddedBroker, free_port
from agentwatch.settings import from_env
from agentwatch.stream.kafka_admin import ensure_topics
from agentwatch.stream.topology import AGENTS_TOPIC, INTERNAL_TOPIC, topics_to_create

pytestmark = pytest.mark.e2e


def _alert(kind: str, severity: str, agent: str, observed: float, threshold: float, message: str) -> dict:
    task = uuid.uuid4().hex
    return {
        "schema": "agentwatch.alert/v1", "alert_id": uuid.uuid4().hex * 2, "kind": kind, "severity": severity,
        "action": "terminate" if severity == "critical" else "review", "ts": "2025-06-01T22:14:03.000Z",
        "task_id": task, "trace_id": task, "conversation_id": None, "agent": agent, "service": agent,
        "resource": {"k8s.namespace.name": "e2e"}, "rule": f"*/{kind}", "observed": observed, "threshold": threshold,
        "baseline": None, "evidence": {"span_ids": ["00f067aa0ba902b7"], "tool": "search", "repeats": 3},
        "message": message,
    }


@pytest.fixture
def env(broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AGENTWATCH_* for this test: unique topic names, created, with the re-key topic's real partition count."""
    uid = uuid.uuid4().hex[:8]
    env = {"AGENTWATCH_BROKERS": broker.url, "AGENTWATCH_SPANS_TOPIC": f"spans-{uid}",
           "AGENTWATCH_ALERTS_TOPIC": f"alerts-{uid}", "AGENTWATCH_TASKS_TOPIC": f"tasks-{uid}",
           "AGENTWATCH_DLQ_TOPIC": f"dlq-{uid}", "AGENTWATCH_PARTITIONS": "2",
           "AGENTWATCH_METRICS_PORT": str(free_port())}
    got = ensure_topics(broker.bootstrap, topics_to_create(from_env(env)))
    env["AGENTWATCH_PARTITIONS"] = str(got[INTERNAL_TOPIC])
    for var in [v for v in os.environ if v.startswith("AGENTWATCH_")]:
        monkeypatch.delenv(var)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def test_doctor_passes_broker_and_topics(broker: EmbeddedBroker, env: dict[str, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    summaries = [{"schema": "agentwatch.task/v1", "models": ["gpt-4o-mini", "my-finetune"]},
                 {"schema": "agentwatch.task/v1", "models": ["gpt-4o-mini"]}]
    produce_each(broker.bootstrap, env["AGENTWATCH_TASKS_TOPIC"], [json.dumps(s).encode() for s in summaries])
    t0 = time.monotonic()
    checks = run_doctor(env=env, timeout_s=5.0)
    assert time.monotonic() - t0 < 30
    assert not [c for c in checks if c.status == FAIL], checks
    assert next(c for c in checks if c.name == "broker").status == PASS
    n = env["AGENTWATCH_PARTITIONS"]
    topic_lines = {c.detail for c in checks if c.name == "topic" and c.status == PASS}
    for var in ("AGENTWATCH_SPANS_TOPIC", "AGENTWATCH_ALERTS_TOPIC", "AGENTWATCH_TASKS_TOPIC", "AGENTWATCH_DLQ_TOPIC"):
        assert f"{env[var]}: 2 partitions" in topic_lines
    assert any(d.startswith(f"{INTERNAL_TOPIC}: {n} partition") for d in topic_lines)
    lag = next(c for c in checks if c.name == "consumer lag")
    assert lag.status in (PASS, WARN)
    prices = next(c for c in checks if c.name == "prices")
    assert prices.status == WARN and "my-finetune" in prices.detail and "last 2 task(s)" in prices.detail

    # Re-key and per-agent topics with another partition count than AGENTWATCH_PARTITIONS FAIL, exit code 1.
    assert main(["doctor", "--timeout", "5"]) == 0
    capsys.readouterr()
    env_bad = {**env, "AGENTWATCH_PARTITIONS": str(int(n) + 1)}
    bad = sorted(c.detail for c in run_doctor(env=env_bad, timeout_s=5.0) if c.status == FAIL)
    assert [d.split(":")[0] for d in bad] == [INTERNAL_TOPIC, AGENTS_TOPIC]
    assert all(d.startswith(f"{d.split(':')[0]}: {n} partition") and f"AGENTWATCH_PARTITIONS={n}" in d for d in bad)


def test_alerts_prints_both_alerts_and_skips_garbage(broker: EmbeddedBroker, env: dict[str, str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    topic = env["AGENTWATCH_ALERTS_TOPIC"]
    alerts = [_alert("tool_loop", "critical", "looping-bot", 3.0, 3.0, "tool 'search' called 3 times in a row"),
              _alert("token_budget", "warning", "hungry-bot", 250000.0, 200000.0, "task used 250000 tokens")]
    produce_each(broker.bootstrap, topic,
                 [json.dumps(alerts[0]).encode(), b"\x00not json", json.dumps(alerts[1]).encode()])

    assert main(["alerts", "--from-beginning", "--no-follow", "--timeout", "10"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert any("CRITICAL" in ln and "tool_loop" in ln and "looping-bot" in ln and "observed 3 / threshold 3" in ln
               for ln in lines)
    assert any("WARNING" in ln and "token_budget" in ln and "observed 250000 / threshold 200000" in ln for ln in lines)
    assert "\x1b" not in out  # not a TTY: no colour
    assert err.count("skipped undecodable record") == 1

    assert main(["alerts", "--from-beginning", "--no-follow", "--json"]) == 0
    got = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert sorted(a["alert_id"] for a in got) == sorted(a["alert_id"] for a in alerts)

    # From the end (the default), --no-follow has nothing to print.
    assert main(["alerts", "--no-follow"]) == 0
    assert capsys.readouterr().out == ""


def test_alerts_follow_sees_new_alerts(broker: EmbeddedBroker, env: dict[str, str]) -> None:
    topic = env["AGENTWATCH_ALERTS_TOPIC"]
    seen: list[dict] = []
    thread = threading.Thread(target=follow_alerts, args=(broker.bootstrap, topic, lambda a, raw: seen.append(a)),
                              kwargs={"stop": lambda: bool(seen) or time.monotonic() > deadline}, daemon=True)
    deadline = time.monotonic() + 30
    thread.start()
    while not seen and time.monotonic() < deadline:  # keep sending: the reader starts at the end, whenever that is
        alert = _alert("stalled_task", "warning", "stuck-bot", 5, 4, "no span for 5 s")
        produce_each(broker.bootstrap, topic, [json.dumps(alert).encode()])
        time.sleep(0.5)
    thread.join(10)
    assert seen and seen[0]["kind"] == "stalled_task"


def test_alerts_ctrl_c_exits_0(broker: EmbeddedBroker, env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "agentwatch.cli", "alerts"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3.0)  # imported, connected, waiting for alerts
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
