"""Stalled tasks: open (root span not ended) and no span for `stall_s`; and the all-clear when it moves.

A hung tool call has no span at all (spans are exported when they end), so a stall is only visible
as silence after the last ended span. The clock is passed in: span time in replay, the worker's
event-time clock in a worker. Fires once per task. When a stalled task moves again (a new span) or
closes, `resolve_stall` gives one info alert that `resolves` it (once per task), so Alertmanager and the
guard stop treating the task as stuck.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Finding
from ..policy import Rule
from ..sinks.alerts import alert_id
from ..tasks import TaskState

if TYPE_CHECKING:
    from ..dormant import Dormant

KIND = "stalled_task"
_KEY = "/stall_s"
_RESOLVED = ":resolved"


def stall_due(task: TaskState | Dormant, rule: Rule, now_ns: int) -> bool:
    """`check_stall` would fire now (what a dormant task is thawed for)."""
    return (rule.stall_s is not None and task.open and (now_ns - task.end_ns) / 1e9 >= rule.stall_s
            and rule.name("stall_s") not in task.fired)


def check_stall(task: TaskState, rule: Rule, now_ns: int) -> Finding | None:
    if not stall_due(task, rule, now_ns):
        return None
    task.fire_once(rule.name("stall_s"))
    silent_s = (now_ns - task.end_ns) / 1e9
    return Finding(
        kind=KIND, severity="warning", action="review", rule=rule.name("stall_s"),
        observed=round(silent_s, 3), threshold=float(rule.stall_s), ts_ns=task.end_ns + int(rule.stall_s * 1e9),
        evidence={"last_span_end": task.end_ns, "llm_calls": task.llm_calls, "tool_calls": task.tool_calls},
        message=f"task open with no span for {silent_s:.0f}s (stall threshold {rule.stall_s:.0f}s)")


def resolve_stall(task: TaskState, stalled_since_ns: int, ts_ns: int, why: str) -> Finding | None:
    """The all-clear of a task whose stall fired and was not resolved yet: it moved at `ts_ns` (a span
    ending then; its last span before had ended at `stalled_since_ns`) or closed (`why`)."""
    fired = next((r for r in task.fired if r.endswith(_KEY)), None)
    if fired is None or not task.fire_once(fired + _RESOLVED):
        return None
    stalled_s = round(max(ts_ns - stalled_since_ns, 0) / 1e9, 3)
    return Finding(
        kind=KIND, severity="info", action="notify", rule=fired + _RESOLVED, observed=stalled_s, threshold=0.0,
        ts_ns=ts_ns, evidence={"last_span_end": stalled_since_ns},
        resolves={"alert_id": alert_id(KIND, task.task_id, fired, 0), "severity": "warning", "action": "review"},
        message=f"stalled task {why} after {stalled_s:.0f}s without a span")
