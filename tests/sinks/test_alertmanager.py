"""agentwatch alerts as Alertmanager v2 alerts: bounded labels, per-task annotations, self-resolving."""

from datetime import UTC, datetime, timedelta

from agentwatch.sinks.alertmanager import MAX_LABEL_VALUE, postable_alert

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
ALERT = {"schema": "agentwatch.alert/v1", "alert_id": "a" * 64, "kind": "tool_loop", "severity": "critical",
         "action": "terminate", "ts": "2026-12-02T11:59:58.000Z", "task_id": "t" * 32, "trace_id": "f" * 32,
         "agent": "looping-bot", "service": "bots", "resource": {"k8s.namespace.name": "prod", "k8s.pod.name": "p-1"},
         "rule": "default/tool_loop", "observed": 5, "threshold": 5, "message": "search called 5x with same args"}


def test_labels_are_the_bounded_set_and_the_task_goes_in_annotations() -> None:
    out = postable_alert(ALERT, resolve_after_s=300, trace_url="https://tempo/trace/{trace_id}", now=NOW)
    assert out["labels"] == {"alertname": "agentwatch_tool_loop", "kind": "tool_loop", "severity": "critical",
                             "action": "terminate", "agent": "looping-bot", "service": "bots", "namespace": "prod"}
    ann = out["annotations"]
    assert ann["task_id"] == "t" * 32 and ann["trace_id"] == "f" * 32 and ann["alert_id"] == "a" * 64
    assert (ann["observed"], ann["threshold"], ann["summary"]) == ("5", "5", ALERT["message"])
    assert ann["trace_url"] == out["generatorURL"] == "https://tempo/trace/" + "f" * 32
    # another task of the same agent and kind is the same Alertmanager alert (labels are its identity)
    other = postable_alert({**ALERT, "task_id": "u" * 32, "trace_id": "e" * 32}, resolve_after_s=300, now=NOW)
    assert other["labels"] == out["labels"]


def test_alerts_resolve_by_themselves_after_the_window() -> None:
    out = postable_alert(ALERT, resolve_after_s=300, now=NOW)
    starts, ends = datetime.fromisoformat(out["startsAt"]), datetime.fromisoformat(out["endsAt"])
    assert starts == datetime(2026, 12, 2, 11, 59, 58, tzinfo=UTC)
    assert ends == NOW + timedelta(seconds=300)  # from when it is sent, even if sent late
    assert "generatorURL" not in out and "trace_url" not in out["annotations"]


def test_hostile_and_missing_fields() -> None:
    out = postable_alert({"agent": "x" * 1000 + "\x1b[31m", "ts": "not a time", "resource": "nope"},
                         resolve_after_s=60, now=NOW)
    assert len(out["labels"]["agent"]) == MAX_LABEL_VALUE and out["labels"]["agent"].isprintable()
    assert out["labels"]["alertname"] == "agentwatch_unknown" and "namespace" not in out["labels"]
    assert datetime.fromisoformat(out["startsAt"]) == NOW


STALL = {**ALERT, "kind": "stalled_task", "severity": "warning", "action": "review", "alert_id": "s" * 64,
         "rule": "default/stall_s"}


def test_an_all_clear_resolves_the_alert_it_ends_at_once() -> None:
    stall = postable_alert(STALL, resolve_after_s=300, now=NOW)
    cleared = postable_alert({**STALL, "alert_id": "c" * 64, "severity": "info", "action": "notify",
                              "resolves": {"alert_id": "s" * 64, "severity": "warning", "action": "review"},
                              "ts": "2026-12-02T12:00:30.000Z"}, resolve_after_s=300, now=NOW)
    assert cleared["labels"] == stall["labels"]  # the same Alertmanager alert...
    assert datetime.fromisoformat(cleared["endsAt"]) == NOW  # ...ended now
    assert datetime.fromisoformat(cleared["startsAt"]) <= NOW
    assert cleared["annotations"]["resolves"] == "s" * 64
    # a stall is per task: another task's stall of the same agent is another Alertmanager alert
    other = postable_alert({**STALL, "task_id": "u" * 32}, resolve_after_s=300, now=NOW)
    assert other["labels"] != stall["labels"] and stall["labels"]["task_id"] == "t" * 32
    assert "task_id" not in postable_alert(ALERT, resolve_after_s=300, now=NOW)["labels"]
