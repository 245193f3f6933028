"""Budgets: the per-task token and cost envelopes, and the per-agent UTC-day cost budget.

The task envelopes fire once per task and rule (the task remembers what fired); they run in the task
stage. The daily budget runs in the per-agent stage (all of an agent's task summaries meet there, on
one worker), fires once per agent and UTC day, and keeps a bounded map agent -> [day, spent, fired]
(`MAX_AGENTS`, least recently updated dropped first).
"""

from __future__ import annotations

from typing import Any

from ..model import Finding
from ..policy import Rule
from ..tasks import TaskState

_DAY_NS = 86_400 * 10**9
MAX_AGENTS = 10_000


def check_task_budgets(task: TaskState, rule: Rule, ts_ns: int) -> list[Finding]:
    out = []
    total = task.tokens()[4]
    if rule.task_tokens is not None and total > rule.task_tokens and task.fire_once(rule.name("task_tokens")):
        out.append(Finding(
            kind="token_budget", severity="critical", action="terminate", rule=rule.name("task_tokens"),
            observed=float(total), threshold=float(rule.task_tokens), ts_ns=ts_ns,
            evidence={"llm_calls": task.llm_calls, "models": sorted(task.models)},
            message=f"task used {total:,} tokens, over the {rule.task_tokens:,}-token budget of "
                    f"rule {rule.match!r}"))
    if (rule.task_cost_usd is not None and task.cost_usd > rule.task_cost_usd
            and task.fire_once(rule.name("task_cost_usd"))):
        out.append(Finding(
            kind="cost_budget", severity="critical", action="terminate", rule=rule.name("task_cost_usd"),
            observed=round(task.cost_usd, 6), threshold=float(rule.task_cost_usd), ts_ns=ts_ns,
            evidence={"llm_calls": task.llm_calls, "unpriced_calls": task.cost_unknown_calls},
            message=f"task cost ${task.cost_usd:.2f}, over the ${rule.task_cost_usd:.2f} budget of "
                    f"rule {rule.match!r}"))
    return out


class DailyCost:
    """Per-agent spend per UTC day (event time), firing once per agent-day over `daily_cost_usd`."""

    def __init__(self, max_agents: int = MAX_AGENTS) -> None:
        self.max_agents = max_agents
        self.agents: dict[str, list[Any]] = {}  # agent -> [day, spent, fired]

    def add(self, agent: str, rule: Rule, cost: float, ts_ns: int) -> Finding | None:
        if cost <= 0:
            return None
        day = ts_ns // _DAY_NS
        entry = self.agents.pop(agent, None)  # re-insert: dict order = least recently used first
        if entry is None or entry[0] != day:
            entry = [day, 0.0, False]
        if len(self.agents) >= self.max_agents:
            del self.agents[next(iter(self.agents))]
        self.agents[agent] = entry
        entry[1] += cost
        limit = rule.daily_cost_usd
        if limit is None or entry[2] or entry[1] <= limit:
            return None
        entry[2] = True
        return Finding(
            kind="cost_budget", severity="critical", action="review", rule=rule.name("daily_cost_usd"),
            observed=round(entry[1], 6), threshold=float(limit), ts_ns=ts_ns,
            evidence={"scope": "agent_utc_day", "day": int(day)},
            message=f"agent {agent} spent ${entry[1]:.2f} today (UTC), over its ${limit:.2f} daily budget")

    def state(self, agent: str) -> list[Any] | None:
        return self.agents.get(agent)

    def adopt(self, agent: str, entry: list[Any]) -> None:
        self.agents[agent] = list(entry)

    def forget(self, agent: str) -> None:
        self.agents.pop(agent, None)
