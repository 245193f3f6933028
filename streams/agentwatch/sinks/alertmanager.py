"""An `agentwatch.alert/v1` alert as an Alertmanager v2 API alert (`POST /api/v2/alerts`). Pure.

Alertmanager identifies an alert by its label set, so labels come only from the bounded set (`alertname`
per kind, `severity`, `agent`, `namespace`, `service`, `kind`, `action`): one Alertmanager alert per agent
and kind, however many tasks raise it, which is what its grouping and inhibition work on. Everything per
task (message, task and trace IDs, observed vs threshold, a trace link) goes in the annotations.

agentwatch's alerts are one-shot findings, so each carries `endsAt` = its time + `resolve_after_s`:
Alertmanager resolves it by itself unless the same agent raises the kind again, which extends it.
An all-clear (an alert with `resolves`: a stall that moved, a silent agent heard again) is posted with the
labels of the alert it ends and `endsAt` = now, which resolves that one at once. A stall is about one task,
and an agent may have several stalled at a time, so `stalled_task` alone also carries the `task_id` label:
one task moving must not resolve another's stall (stalls are rare and each fires once, so this stays small).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

MAX_LABEL_VALUE = 128   # characters; agent and service names come from span attributes
MAX_ANNOTATION = 1024
PER_TASK_KINDS = frozenset({"stalled_task"})


def _text(value: Any, limit: int) -> str:
    s = "" if value is None else str(value)
    s = "".join(c if c.isprintable() else " " for c in s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _time(ts: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(ts))
    except ValueError:
        return None


def postable_alert(alert: dict[str, Any], *, resolve_after_s: float, trace_url: str = "",
                   now: datetime) -> dict[str, Any]:
    """The Alertmanager alert for one agentwatch alert. `trace_url` is a template with `{trace_id}` (and
    optionally `{task_id}`), e.g. `https://tempo.example/trace/{trace_id}`; empty: no link."""
    kind = _text(alert.get("kind") or "unknown", MAX_LABEL_VALUE)
    resource = alert.get("resource") if isinstance(alert.get("resource"), dict) else {}
    resolves = alert.get("resolves") if isinstance(alert.get("resolves"), dict) else None
    ended = resolves or alert  # an all-clear takes the labels of the alert it ends
    trace_id, task_id = str(alert.get("trace_id") or ""), str(alert.get("task_id") or "")
    labels = {
        "alertname": f"agentwatch_{kind}",
        "kind": kind,
        "severity": _text(ended.get("severity") or "warning", MAX_LABEL_VALUE),
        "action": _text(ended.get("action") or "notify", MAX_LABEL_VALUE),
        "agent": _text(alert.get("agent") or "unknown", MAX_LABEL_VALUE),
        "service": _text(alert.get("service") or "", MAX_LABEL_VALUE),
        "namespace": _text(resource.get("k8s.namespace.name") or "", MAX_LABEL_VALUE),
    }
    if kind in PER_TASK_KINDS:
        labels["task_id"] = _text(task_id, MAX_LABEL_VALUE)
    labels = {k: v for k, v in labels.items() if v}  # Alertmanager drops empty labels; so do we, visibly
    annotations = {
        "summary": _text(alert.get("message") or kind, MAX_ANNOTATION),
        "task_id": task_id,
        "trace_id": trace_id,
        "alert_id": str(alert.get("alert_id") or ""),
        "rule": _text(alert.get("rule"), MAX_ANNOTATION),
        "observed": _text(alert.get("observed"), 64),
        "threshold": _text(alert.get("threshold"), 64),
    }
    link = ""
    if trace_url and trace_id:
        link = trace_url.replace("{trace_id}", trace_id).replace("{task_id}", task_id)
        annotations["trace_url"] = link
    start = _time(alert.get("ts")) or now
    if resolves is not None:
        annotations["resolves"] = str(resolves.get("alert_id") or "")
        start, end = min(start, now), now
    else:
        end = max(start, now) + timedelta(seconds=resolve_after_s)
    out: dict[str, Any] = {
        "labels": labels,
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": start.isoformat(),
        "endsAt": end.isoformat(),
    }
    if link:
        out["generatorURL"] = link
    return out
