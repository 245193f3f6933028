"""Alert and task-summary JSON (contract §3: `agentwatch.alert/v1`, `agentwatch.task/v1`).

`alert_id` = sha256("kind|task_id|rule|ordinal"): the same finding replayed gives the same ID, so
consumers dedupe on it under at-least-once delivery.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from typing import Any

from ..model import Finding
from ..redact import redact
from ..tasks import TaskState

ALERT_SCHEMA = "agentwatch.alert/v1"
TASK_SCHEMA = "agentwatch.task/v1"


@functools.lru_cache(maxsize=4096)
def _second(s: int) -> str:
    return datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def rfc3339(ns: int) -> str:
    """UTC with milliseconds (truncated), e.g. 2026-11-24T01:02:03.456Z; two per summary, so the date
    part is cached per second (datetime formatting was ~2% of a worker)."""
    s, rest = divmod(ns, 1_000_000_000)
    return f"{_second(s)}.{rest // 1_000_000:03d}Z"


def alert_id(kind: str, task_id: str, rule: str, ordinal: int) -> str:
    return hashlib.sha256(f"{kind}|{task_id}|{rule}|{ordinal}".encode()).hexdigest()


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def alert_json(f: Finding, *, task_id: str, trace_id: str, conversation_id: str | None, agent: str,
               service: str, resource: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": ALERT_SCHEMA,
        "alert_id": alert_id(f.kind, task_id, f.rule, f.ordinal),
        "kind": f.kind,
        "severity": f.severity,
        "action": f.action,
        "ts": rfc3339(f.ts_ns),
        "task_id": task_id,
        "trace_id": trace_id,
        "conversation_id": conversation_id,
        "agent": redact(agent),
        "service": redact(service),
        "resource": resource,
        "rule": redact(f.rule),
        "observed": f.observed,
        "threshold": f.threshold,
        "baseline": f.baseline,
        "evidence": _clean(f.evidence),
        "message": redact(f.message),
    }
    if f.resolves is not None:
        out["resolves"] = f.resolves
    return out


def task_alert_json(f: Finding, task: TaskState) -> dict[str, Any]:
    return alert_json(f, task_id=task.task_id, trace_id=task.trace_id, conversation_id=task.conversation_id,
                      agent=task.agent, service=task.resource.service, resource=task.resource.as_dict())


def summary_json(task: TaskState, outcome: str) -> dict[str, Any]:
    i, o, c, r, total = task.tokens()
    return {
        "schema": TASK_SCHEMA,
        "task_id": task.task_id,
        "trace_id": task.trace_id,
        "conversation_id": task.conversation_id,
        "agent": task.agent,
        "service": task.resource.service,
        "resource": task.resource.as_dict(),
        "start": rfc3339(task.start_ns),
        "end": rfc3339(task.end_ns),
        "duration_s": round(max(task.end_ns - task.start_ns, 0) / 1e9, 3),
        "outcome": outcome,
        "llm_calls": task.llm_calls,
        "tool_calls": task.tool_calls,
        "tokens": {"input": i, "output": o, "cache_read": c, "reasoning": r, "total": total},
        "cost_usd": None if task.cost_unknown_calls else round(task.cost_usd, 6),
        "cost_usd_known": round(task.cost_usd, 6),  # extension: the priced calls only (daily budget)
        "models": sorted(task.models),
        "tools": dict(task.tools),
        "max_tool_repeat": task.max_repeat,
        "errors": task.error_counts(),
        "scores": {k: round(s / n, 6) for k, (s, n) in task.scores.items() if n},
        "alerts": list(task.alerts),
    }
