"""Silent agents: an agent that normally closes a task every G has closed none for `silence_multiple` x G.

G is the median of the agent's last `MAX_GAPS` gaps between task ends (summary `end`); no verdict before
`MIN_TASKS` tasks, and never before `MIN_SILENCE_S` (60 s) of silence, since an agent whose tasks end in
bursts has a median gap near 0. Fires once per silence (warning, notify; rule "<rule>/silence_multiple", ordinal = the
agent's silence number, so replays give the same IDs) and, when the agent closes a task again, one info
all-clear that `resolves` it.

**Judged on heard time, so a quiet input never makes every agent silent.** The clock is the input's own
event time: the newest span end the workers have read (real spans only, never the heartbeats that move
the task clock while input is quiet), fed in by `heard` (each worker sends it every tick). Silence is
measured in *heard time*: the clock's advances, each counted only up to `MAX_STEP_S` (10 s). While no
span arrives at all (nights, a Collector outage, a paused broker) heard time stands still, and the jump
when input resumes after an outage counts at most 10 s, so no agent is silent because the system was.
An agent is silent only while others are heard. Consequences: one agent alone is never judged silent,
and where the whole input is sparser than one span per 10 s, heard time runs slower than event time, so
a silence is seen late (never early).

State per agent (bounded by the per-agent stage's `max_agents`): its last gaps, last task end and task,
silence count and flag, and heard time since its last task (persisted with its baseline when it changes;
after a restart heard time is counted again from what was persisted, so a silence can be seen late, never
early).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from ..model import Finding
from ..policy import Rule
from ..sinks.alerts import alert_id

KIND = "agent_silent"
MIN_TASKS = 30
MAX_GAPS = 64
MAX_STEP_S = 10.0
MIN_SILENCE_S = 60.0  # never silent sooner: tasks that end in bursts have a median gap near 0
_NS = 1_000_000_000


@dataclass(slots=True)
class AgentSilence:
    gaps: list[int] = field(default_factory=list)  # ns between consecutive task ends (newest last)
    tasks: int = 0
    last_end_ns: int = 0
    last_task: tuple[str, str] = ("", "")           # task ID, trace ID of the newest task
    heard_at_last: int = 0                           # the stage's heard time (ns) at the newest task end
    silences: int = 0
    silent: bool = False
    gap_ns: int = 0                                  # median of gaps (0: no verdict yet)

    def to_dict(self, heard_ns: int) -> dict[str, Any]:
        return {"gaps": self.gaps, "tasks": self.tasks, "last_end_ns": self.last_end_ns,
                "last_task": list(self.last_task), "quiet_ns": max(heard_ns - self.heard_at_last, 0),
                "silences": self.silences, "silent": self.silent}

    @classmethod
    def from_dict(cls, d: dict[str, Any], heard_ns: int) -> AgentSilence:
        s = cls([int(g) for g in d["gaps"]][-MAX_GAPS:], int(d["tasks"]), int(d["last_end_ns"]),
                (str(d["last_task"][0]), str(d["last_task"][1])), heard_ns - int(d["quiet_ns"]),
                int(d["silences"]), bool(d["silent"]))
        s.gap_ns = int(median(s.gaps)) if s.tasks >= MIN_TASKS and s.gaps else 0
        return s


class SilenceDetector:
    """Per-agent silence over heard time; each agent's rule gives its `silence_multiple` (None: off)."""

    def __init__(self, max_agents: int) -> None:
        self.max_agents = max_agents
        self.agents: dict[str, AgentSilence] = {}  # first seen first
        self.clock_ns = 0   # newest input span end heard
        self.heard_ns = 0   # heard time: the clock's advances, each capped at MAX_STEP_S

    def heard(self, clock_ns: int, rule_for: Callable[[str], Rule]) -> list[tuple[str, Finding]]:
        """The input was read up to `clock_ns`. Returns (agent, finding) for every agent silent now."""
        if clock_ns <= self.clock_ns:
            return []
        if self.clock_ns:
            self.heard_ns += min(clock_ns - self.clock_ns, int(MAX_STEP_S * _NS))
        self.clock_ns = clock_ns
        out = []
        for agent, s in self.agents.items():
            if s.silent or not s.gap_ns:
                continue
            rule = rule_for(agent)
            multiple = rule.silence_multiple
            if multiple is None:
                continue
            quiet = self.heard_ns - s.heard_at_last
            limit = max(multiple * s.gap_ns, MIN_SILENCE_S * _NS)
            if quiet > limit:
                s.silent = True
                s.silences += 1
                out.append((agent, Finding(
                    kind=KIND, severity="warning", action="notify", rule=rule.name("silence_multiple"),
                    observed=round(quiet / _NS, 3), threshold=round(limit / _NS, 3),
                    ts_ns=clock_ns, ordinal=s.silences,
                    evidence={"median_gap_s": round(s.gap_ns / _NS, 3), "tasks": s.tasks,
                              "last_task_end": s.last_end_ns},
                    message=f"agent {agent} closed no task for {quiet / _NS:.0f}s of input; it usually closes "
                            f"one every {s.gap_ns / _NS:.0f}s (silence at {multiple:g}x)")))
        return out

    def task_closed(self, agent: str, task_id: str, trace_id: str, end_ns: int, rule: Rule) -> Finding | None:
        """A task of `agent` ended at `end_ns`; returns the all-clear if the agent was silent."""
        s = self.agents.get(agent)
        if s is None:
            if len(self.agents) >= self.max_agents:
                del self.agents[next(iter(self.agents))]
            s = self.agents[agent] = AgentSilence(heard_at_last=self.heard_ns)
        s.tasks += 1
        if end_ns > s.last_end_ns:
            if s.last_end_ns:
                s.gaps.append(end_ns - s.last_end_ns)
                if len(s.gaps) > MAX_GAPS:
                    del s.gaps[0]
            s.last_end_ns = end_ns
            # heard time since this end (the summary comes a close-grace after it): at most what was heard
            s.heard_at_last = max(s.heard_at_last, self.heard_ns - max(min(self.clock_ns - end_ns,
                                                                           self.heard_ns), 0))
        s.gap_ns = int(median(s.gaps)) if s.tasks >= MIN_TASKS and s.gaps else 0
        if not s.silent:
            s.last_task = (task_id, trace_id)
            return None
        s.silent = False
        silent_task = s.last_task
        s.last_task = (task_id, trace_id)
        return Finding(
            kind=KIND, severity="info", action="notify", rule=rule.name("silence_multiple") + ":heard",
            observed=0.0, threshold=0.0, ts_ns=end_ns, ordinal=s.silences, evidence={"silence": s.silences},
            resolves={"alert_id": alert_id(KIND, silent_task[0], rule.name("silence_multiple"), s.silences),
                      "severity": "warning",
                      "action": "notify"},
            message=f"agent {agent} closed a task again after its silence")

    def state(self, agent: str) -> dict[str, Any] | None:
        s = self.agents.get(agent)
        return None if s is None else s.to_dict(self.heard_ns)

    def adopt(self, agent: str, d: dict[str, Any]) -> None:
        self.agents[agent] = AgentSilence.from_dict(d, self.heard_ns)

    def forget(self, agent: str) -> None:
        self.agents.pop(agent, None)

