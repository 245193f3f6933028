"""Tool loops: `tool_repeat` identical consecutive tool calls in one task.

Identity is tool name + sha256 of the canonical arguments. Arguments are opt-in in every
instrumentation; without them the weaker signal "same tool N times in a row with no LLM call between"
applies (tracked in `TaskState._tool`), and the alert says which signal fired. Fires once per task.
"""

from __future__ import annotations

from ..model import Finding
from ..policy import Rule
from ..tasks import TaskState


def check_loop(task: TaskState, rule: Rule) -> Finding | None:
    """The loop `TaskState` recorded when a run first reached `rule.tool_repeat`, once per task."""
    hit = task.loop_hit
    if hit is None or rule.tool_repeat is None or not task.fire_once(rule.name("tool_repeat")):
        return None
    tool, args_hash, args_seen, span_ids, end_ns, n = hit
    if args_seen:
        signal, how = "same tool, same arguments", "with identical arguments"
    else:
        signal = "same tool, no LLM call between (arguments not recorded)"
        how = "with no LLM call between (arguments not recorded, weaker signal)"
    return Finding(
        kind="tool_loop", severity="critical" if args_seen else "warning",
        action="terminate" if args_seen else "review", rule=rule.name("tool_repeat"),
        observed=float(n), threshold=float(rule.tool_repeat), ts_ns=end_ns,
        evidence={"span_ids": span_ids, "tool": tool, "args_sha256": args_hash or None, "repeats": n,
                  "signal": signal},
        message=f"tool {tool!r} called {n} times in a row {how}")
