"""Per-agent stage (pure): task summaries and late evaluation scores -> drift and error alerts.

Fed by a copy of the task summaries, partitioned by agent (so all of one agent's tasks meet on one
worker), and by evaluation scores that arrived after their task closed. Holds the agents' rolling baselines
(`baselines.py`) and daily spend, and runs the detectors in `detectors/drift.py`,
`detectors/errors.py` and the daily budget of `detectors/budget.py`. The worker
persists each changed agent's baseline (`take_dirty`) and adopts recovered ones after a rebalance.
Bounds: `DriftConfig.max_agents` baselines; error-burst groups per `ErrorBurstDetector`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .baselines import AgentBaseline, rfc3339_ns
from .detectors.budget import DailyCost
from .detectors.drift import DriftConfig, DriftDetector
from .detectors.errors import ErrorBurstDetector, NewErrorTypeDetector
from .model import Finding
from .policy import Policy
from .sinks.alerts import alert_json


class AgentStage:
    def __init__(self, policy: Policy, config: DriftConfig | None = None) -> None:
        self.policy = policy
        self.config = config or DriftConfig()
        self.drift = DriftDetector(self.config)
        self.new_errors = NewErrorTypeDetector(self.drift.baselines, self.config.min_baseline_tasks)
        self.bursts = ErrorBurstDetector()
        self.daily = DailyCost(self.config.max_agents)
        self.dirty: set[str] = set()

    def observe_summary(self, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
        agent = str(summary["agent"])
        rule = self.policy.rule_for(agent)
        now = rfc3339_ns(summary["end"])
        findings: list[Finding] = self.drift.observe(summary, rule.match, rule.drift_sigma, rule.cost_multiple, now)
        findings += self.new_errors.observe(summary, rule.match, now)
        findings += self.bursts.observe(summary, rule.match, now)
        cost = summary.get("cost_usd_known", summary.get("cost_usd"))
        daily = self.daily.add(agent, rule, float(cost or 0.0), now)
        if daily is not None:
            findings.append(daily)
        self.dirty.add(agent)
        return [alert_json(f, task_id=summary["task_id"], trace_id=summary["trace_id"],
                           conversation_id=summary.get("conversation_id"), agent=agent,
                           service=summary.get("service", ""), resource=summary.get("resource") or {})
                for f in findings]

    def observe_score(self, late: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A score whose task had closed: {agent, evaluation, score, ts_ns, trace_id}."""
        agent = str(late["agent"])
        rule = self.policy.rule_for(agent)  # not the rule of the agent's last summary: that may come later
        findings = self.drift.observe_score(agent, late["evaluation"], float(late["score"]), int(late["ts_ns"]),
                                            rule=rule.match, drift_sigma=rule.drift_sigma)
        self.dirty.add(agent)
        return [alert_json(f, task_id=late["trace_id"], trace_id=late["trace_id"], conversation_id=None,
                           agent=agent, service="", resource={}) for f in findings]

    # -- persistence ---------------------------------------------------------------------------------
    def take_dirty(self) -> list[tuple[str, dict[str, Any]]]:
        """(agent, {baseline, daily}) for every agent changed since the last call."""
        out = []
        for agent in self.dirty:
            ab = self.drift.baselines.peek(agent)
            if ab is not None:
                out.append((agent, {"baseline": ab.to_dict(), "daily": self.daily.state(agent)}))
        self.dirty = set()
        return out

    def adopt(self, agent: str, state: Mapping[str, Any]) -> bool:
        if agent in self.drift.baselines:
            return False
        try:
            self.drift.baselines.put(agent, AgentBaseline.from_dict(state["baseline"], self.drift.baselines.config))
        except ValueError:  # stored with another window geometry: start afresh
            return False
        if state.get("daily"):
            self.daily.adopt(agent, state["daily"])
        return True

    def drop(self, keep: Callable[[str], bool]) -> int:
        gone = [a for a in self.drift.baselines if not keep(a)]
        for agent in gone:
            self.drift.baselines.remove(agent)
            self.daily.forget(agent)
            self.dirty.discard(agent)
        return len(gone)
