"""Per-agent stage (pure): task summaries and late evaluation scores -> drift and error alerts.

Fed by a copy of the task summaries, partitioned by agent (so all of one agent's tasks meet on one
worker), and by evaluation scores that arrived after their task closed. Holds the agents' rolling baselines
(`baselines.py`) and daily spend, and runs the detectors in `detectors/drift.py`,
`detectors/errors.py`, the daily budget of `detectors/budget.py` and agent silence (`detectors/silence.py`,
on the input clock each worker sends every per-agent partition: `observe_clock`). The worker
persists each changed agent's baseline (`take_dirty`) and adopts recovered ones after a rebalance.
Bounds: `DriftConfig.max_agents` baselines; error-burst groups per `ErrorBurstDetector`; `MAX_RECENT_TASKS`
task IDs per agent.

Idempotent input (`observe_message`): each agent remembers the offset of the last per-agent message it
absorbed (a message read again after a crash is skipped) and the IDs of its last `MAX_RECENT_TASKS`
summaries (a task closed again after a crash, its summary sent twice, is counted once). Both are persisted
with the baseline at every checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .baselines import AgentBaseline, rfc3339_ns
from .detectors.budget import DailyCost
from .detectors.drift import DriftConfig, DriftDetector
from .detectors.errors import ErrorBurstDetector, NewErrorTypeDetector
from .detectors.silence import SilenceDetector
from .model import Finding
from .policy import Policy
from .sinks.alerts import alert_json
from .tasks import remember

MAX_RECENT_TASKS = 256


class AgentStage:
    def __init__(self, policy: Policy, config: DriftConfig | None = None) -> None:
        self.policy = policy
        self.config = config or DriftConfig()
        self.drift = DriftDetector(self.config)
        self.new_errors = NewErrorTypeDetector(self.drift.baselines, self.config.min_baseline_tasks)
        self.bursts = ErrorBurstDetector()
        self.daily = DailyCost(self.config.max_agents)
        self.silence = SilenceDetector(self.config.max_agents)
        self.dirty: set[str] = set()
        self.absorbed: dict[str, int] = {}            # agent -> offset of the last per-agent message folded in
        self.recent: dict[str, dict[str, None]] = {}  # agent -> its last MAX_RECENT_TASKS task IDs (oldest first)

    def observe_message(self, summaries: Sequence[Mapping[str, Any]], late_scores: Sequence[Mapping[str, Any]],
                        offset: int = -1) -> list[dict[str, Any]]:
        """One per-agent message (read at `offset`, -1 if unknown): its summaries, then its late scores. What
        an agent absorbed before (this offset or a task ID it has seen) is skipped."""
        absorbed, recent = self.absorbed, self.recent
        touched: set[str] = set()
        alerts: list[dict[str, Any]] = []
        for summary in summaries:
            agent = str(summary["agent"])
            if 0 <= offset <= absorbed.get(agent, -1):
                continue
            seen = recent.get(agent)
            if seen is None:
                if len(recent) >= self.config.max_agents:  # bounded like the baselines (first seen goes first)
                    oldest = next(iter(recent))
                    del recent[oldest]
                    absorbed.pop(oldest, None)
                seen = recent[agent] = {}
            if not remember(seen, str(summary["task_id"]), MAX_RECENT_TASKS):
                continue
            touched.add(agent)
            alerts += self.observe_summary(summary)
        for late in late_scores:
            agent = str(late["agent"])
            if 0 <= offset <= absorbed.get(agent, -1):
                continue
            touched.add(agent)
            alerts += self.observe_score(late)
        if offset >= 0:
            for agent in touched:
                absorbed[agent] = offset
        return alerts

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
        out = [alert_json(f, task_id=summary["task_id"], trace_id=summary["trace_id"],
                          conversation_id=summary.get("conversation_id"), agent=agent,
                          service=summary.get("service", ""), resource=summary.get("resource") or {})
               for f in findings]
        heard = self.silence.task_closed(agent, str(summary["task_id"]), str(summary["trace_id"]), now, rule)
        if heard is not None:
            out.append(self._agent_alert(heard, agent, str(summary["task_id"]), str(summary["trace_id"])))
        return out

    def observe_clock(self, clock_ns: int) -> list[dict[str, Any]]:
        """The input was read up to `clock_ns` (newest span end, event time): agents silent since."""
        alerts = []
        for agent, f in self.silence.heard(clock_ns, self.policy.rule_for):
            self.dirty.add(agent)
            task_id, trace_id = self.silence.agents[agent].last_task
            alerts.append(self._agent_alert(f, agent, task_id, trace_id))
        return alerts

    @staticmethod
    def _agent_alert(f: Finding, agent: str, task_id: str, trace_id: str) -> dict[str, Any]:
        # about the agent, not a task: no service or resource, so a silence and its all-clear have one identity
        return alert_json(f, task_id=task_id, trace_id=trace_id, conversation_id=None, agent=agent, service="",
                          resource={})

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
                out.append((agent, {"baseline": ab.to_dict(), "daily": self.daily.state(agent),
                                    "silence": self.silence.state(agent),
                                    "absorbed": self.absorbed.get(agent, -1),
                                    "recent": list(self.recent.get(agent, ()))}))
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
        if state.get("silence"):
            self.silence.adopt(agent, state["silence"])
        self.absorbed[agent] = int(state.get("absorbed", -1))
        self.recent[agent] = dict.fromkeys(state.get("recent", ()))
        return True

    def drop(self, keep: Callable[[str], bool]) -> int:
        gone = [a for a in self.drift.baselines if not keep(a)]
        for agent in gone:
            self.drift.baselines.remove(agent)
            self.daily.forget(agent)
            self.silence.forget(agent)
            self.dirty.discard(agent)
            self.absorbed.pop(agent, None)
            self.recent.pop(agent, None)
        return len(gone)
