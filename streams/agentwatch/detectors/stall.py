"""Stalled tasks: open (root span not ended) and no span for `stall_s`.

A hung tool call has no span at all (spans are exported when they end), so a stall is only visible
as silence after the last ended span. The clock is passed in: span time in replay, the worker's
event-time clock in a worker. Fires once per task.
"""

from __future__ import annotations

from ..model import Finding
from ..policy import Rule
from ..tasks import TaskState


def check_stall(task: TaskState, rule: Rule, now_ns: int) -> Finding | None:
    if rule.stall_s is None or not task.open:
        return None
    silent_s = (now_ns - task.end_ns) / 1e9
    if silent_s < rule.stall_s or not task.fire_once(rule.name("stall_s")):
        return None
    return Finding(
        kind="stalled_task", severity="warning", action="review", rule=rule.name("stall_s"),
        observed=round(silent_s, 3), threshold=float(rule.stall_s), ts_ns=task.end_ns + int(rule.stall_s * 1e9),
        evidence={"last_span_end": task.end_ns, "llm_calls": task.llm_calls, "tool_calls": task.tool_calls},
        message=f"task open with no span for {silent_s:.0f}s (stall threshold {rule.stall_s:.0f}s)")
