"""`agentwatch notify` between the session's broker and Debian's real `prometheus-alertmanager`, which
delivers to a webhook receiver run by the test: notifications arrive with agentwatch's labels, grouped,
resolve by themselves, and nothing is lost while Alertmanager restarts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kafka_helpers import produce_each, wait_until

from agentwatch.local.alertmanager import Alertmanager, Notify, Webhook, alertmanager_installed
from agentwatch.local.broker import EmbeddedBroker
from agentwatch.stream.kafka_admin import ensure_topics

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not alertmanager_installed(),
                       reason="Debian's prometheus-alertmanager is not installed (make setup)"),
]


def _alert(kind: str, agent: str, severity: str = "critical") -> bytes:
    task = uuid.uuid4().hex
    return json.dumps({
        "schema": "agentwatch.alert/v1", "alert_id": uuid.uuid4().hex * 2, "kind": kind, "severity": severity,
        "action": "terminate", "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "task_id": task,
        "trace_id": task, "agent": agent, "service": agent, "resource": {"k8s.namespace.name": "e2e"},
        "rule": f"*/{kind}", "observed": 9000, "threshold": 8000, "message": f"{kind} for {agent}"}).encode()


@pytest.fixture
def stack(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[tuple[str, Webhook, Alertmanager, Mapping[str, Any]]]:
    topic = f"alerts-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, {topic: 2})
    hook = Webhook()
    am = Alertmanager(hook.url, tmp_path).start()
    notify = Notify(am.url, broker.url, topic, "--resolve-after", "3",
                    "--trace-url", "https://tempo.example/trace/{trace_id}", directory=tmp_path).start()
    try:
        yield topic, hook, am, {"notify": notify, "log": notify.log_path}
    finally:
        notify.stop()
        am.stop()
        hook.close()


def test_alerts_reach_the_webhook_grouped_labelled_and_resolve(broker: EmbeddedBroker, stack) -> None:
    topic, hook, _, procs = stack
    produce_each(broker.bootstrap, topic, [_alert("token_budget", "bot-a"), _alert("token_budget", "bot-b"),
                                       _alert("tool_loop", "bot-a", "warning")])
    wait_until(lambda: len(hook.alerts("firing")) >= 3, 60, f"3 firing alerts ({procs['log'].read_text()[-2000:]})")
    groups = {b["groupLabels"]["alertname"]: b for b in hook.bodies if b["status"] == "firing"}
    budget = groups["agentwatch_token_budget"]
    assert sorted(a["labels"]["agent"] for a in budget["alerts"]) == ["bot-a", "bot-b"]  # one notification
    a = budget["alerts"][0]
    assert a["labels"]["severity"] == "critical" and a["labels"]["namespace"] == "e2e"
    assert a["labels"]["action"] == "terminate" and a["labels"]["kind"] == "token_budget"
    assert a["annotations"]["trace_url"].startswith("https://tempo.example/trace/")
    assert a["annotations"]["observed"] == "9000" and a["generatorURL"] == a["annotations"]["trace_url"]
    # endsAt = sent + 3 s: Alertmanager resolves them by itself
    wait_until(lambda: len(hook.alerts("resolved")) >= 3, 30, "3 resolved alerts")


def test_alertmanager_restarted_mid_stream_loses_nothing(broker: EmbeddedBroker, stack) -> None:
    topic, hook, am, procs = stack
    produce_each(broker.bootstrap, topic, [_alert("stalled_task", "bot-1", "warning")])
    wait_until(lambda: len(hook.alerts("firing")) >= 1, 60, f"the first alert ({procs['log'].read_text()[-2000:]})")
    am.stop()
    produce_each(broker.bootstrap, topic, [_alert("cost_budget", f"bot-{i}") for i in range(2, 6)])
    time.sleep(3)  # notify retries with backoff meanwhile
    am.start()
    want = {f"bot-{i}" for i in range(1, 6)}
    wait_until(lambda: {a["labels"]["agent"] for a in hook.alerts("firing")} >= want, 60,
          f"every agent's alert after the restart ({procs['log'].read_text()[-2000:]})")
    assert "retry in" in procs["log"].read_text()
