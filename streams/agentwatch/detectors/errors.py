"""Error alerts from task summaries: an error type new to an agent, and error bursts across agents.

(c) `NewErrorTypeDetector` (kind `new_error_type`, warning, review; rule "<rule>/new_error_type"): an
    `error.type` in the summary's `errors` that this agent has not raised within the baseline window
    (7 days). The known types live on the agent's `AgentBaseline` (shared `Baselines` map: at most 256
    types per agent, least recently seen evicted), so a type fires once and not again while it stays
    in the window; after 7 quiet days (or eviction) it counts as new again. Warm-up: a type counts as new
    only once the agent has `min_baseline_tasks` (30) tasks in the window before this one, so a
    brand-new agent's first errors do not all alert; types seen during warm-up become known. Several new
    types in one task give one finding each, ordinal = position in the sorted list of them.

(d) `ErrorBurstDetector` (kind `error_burst`, critical, review; rule "<rule>/error_burst"): tasks with
    errors (an `errors` count > 0 or outcome "error") from `min_agents` (3) or more distinct agents that
    share a conversation (`conversation_id`) or a lineage (same `trace_id`) within `window_s` (60 s) of
    event time (the summaries' `end`). Fires once per group per burst: the group re-arms only when fewer
    than `min_agents` agents have errors inside the window again. A task in both a conversation and a
    trace group that fires in both reports once (the conversation). Ordinal = the group's burst number.
    Bounds: at most `max_groups` (10,000) groups, least recently updated evicted first; at most
    `max_agents_per_group` (64) agents remembered per group.

Both take the clock as an argument and read no wall clock; `to_dict()`/`from_dict()` give plain JSON data.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..baselines import ERRORS, MAX_NAME_LEN, Baselines, rfc3339_ns, window_label
from ..model import Finding

_NS = 1_000_000_000


class NewErrorTypeDetector:
    """(c): first-seen error types per agent; see the module docstring."""

    __slots__ = ("baselines", "long_label", "min_baseline_tasks")

    def __init__(self, baselines: Baselines, min_baseline_tasks: int = 30) -> None:
        self.baselines = baselines
        self.min_baseline_tasks = min_baseline_tasks
        self.long_label = window_label(baselines.config.baseline_window_s)

    def observe(self, summary: Mapping[str, Any], rule: str, now_ns: int) -> list[Finding]:
        """Record the task's error types (and count the task); findings for types new to the agent."""
        agent = str(summary["agent"])
        end_ns = rfc3339_ns(summary["end"])
        ab = self.baselines.get(agent, max(now_ns, end_ns))
        prior = ab.tasks_in_window()
        errors = summary.get("errors") or {}
        new = ab.record_errors(errors, end_ns, max(now_ns, end_ns))
        if prior < self.min_baseline_tasks or not new:
            return []
        n, mean, sd = ab.baseline(ERRORS)
        baseline = {"mean": mean, "stddev": sd, "n": n, "window": self.long_label}
        counts = {k[:MAX_NAME_LEN]: int(c) for k, c in errors.items()}
        out = []
        for i, name in enumerate(new):
            count = counts[name]
            out.append(Finding(
                kind="new_error_type", severity="warning", action="review", rule=f"{rule}/new_error_type",
                observed=float(count), threshold=0.0, ts_ns=end_ns, ordinal=i, baseline=dict(baseline),
                evidence={"error_type": name, "count": count, "known_types": len(ab.error_types) - len(new)},
                message=f"{agent} raised error type {name!r} ({count}x), not seen in its last "
                        f"{self.long_label} ({prior:,} tasks)"))
        return out


class ErrorBurstDetector:
    """(d): errors from several agents of one conversation or trace within a short window."""

    __slots__ = ("_groups", "bursts", "evictions", "max_agents_per_group", "max_groups", "min_agents",
                 "window_ns")

    def __init__(self, window_s: float = 60.0, min_agents: int = 3, max_groups: int = 10_000,
                 max_agents_per_group: int = 64) -> None:
        if min_agents < 2 or window_s <= 0 or max_groups < 1 or max_agents_per_group < min_agents:
            raise ValueError("need min_agents >= 2, window_s > 0, max_groups >= 1, "
                             "max_agents_per_group >= min_agents")
        self.window_ns = int(window_s * _NS)
        self.min_agents = min_agents
        self.max_groups = max_groups
        self.max_agents_per_group = max_agents_per_group
        self.evictions = 0
        self.bursts = 0
        # (kind, id) -> [armed, burst count, {agent: last error end_ns}]
        self._groups: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()

    def observe(self, summary: Mapping[str, Any], rule: str, now_ns: int) -> list[Finding]:
        """Note the task's errors in its conversation and trace groups; a finding when a burst starts.

        `now_ns` is accepted like the other detectors'; burst timing uses the summary's `end`.
        """
        errors = summary.get("errors") or {}
        if not (any(c > 0 for c in errors.values()) or summary.get("outcome") == "error"):
            return []
        agent = str(summary["agent"])
        end_ns = rfc3339_ns(summary["end"])
        out: list[Finding] = []
        for kind in ("conversation", "trace"):
            ident = summary.get(f"{kind}_id")
            if ident:
                f = self._note((kind, str(ident)), agent, end_ns, rule)
                if f is not None:
                    out.append(f)
        # A burst seen by both groups of this task is one burst: report it once (the conversation).
        return out[:1]

    def _note(self, key: tuple[str, str], agent: str, end_ns: int, rule: str) -> Finding | None:
        g = self._groups.get(key)
        if g is None:
            g = self._groups[key] = [True, 0, {}]
            if len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)
                self.evictions += 1
        else:
            self._groups.move_to_end(key)
        agents: dict[str, int] = g[2]
        horizon = end_ns - self.window_ns
        for name in [a for a, t in agents.items() if t < horizon]:
            del agents[name]  # older than the window as of this task
        if not g[0] and len(agents) < self.min_agents:
            g[0] = True  # the previous burst is over: re-armed
        if agents.get(agent, horizon) <= end_ns:
            agents[agent] = end_ns
        if len(agents) > self.max_agents_per_group:
            del agents[min(agents, key=lambda a: (agents[a], a))]
        if not g[0] or len(agents) < self.min_agents:
            return None
        g[0] = False
        g[1] += 1
        self.bursts += 1
        kind, ident = key
        inside = sorted(agents)
        return Finding(
            kind="error_burst", severity="critical", action="review", rule=f"{rule}/error_burst",
            observed=float(len(inside)), threshold=float(self.min_agents), ts_ns=end_ns, ordinal=g[1],
            evidence={"group": kind, "group_id": ident[:MAX_NAME_LEN], "agents": inside[:20],
                      "window_s": self.window_ns / _NS},
            message=f"{len(inside)} agents of one {kind} hit errors within {self.window_ns / _NS:g}s: "
                    f"{', '.join(inside[:5])}{' ...' if len(inside) > 5 else ''}")

    def __len__(self) -> int:
        return len(self._groups)

    def to_dict(self) -> dict[str, Any]:
        """Groups in recency order (oldest first), agents sorted: equal state gives equal data."""
        return {"window_ns": self.window_ns, "min_agents": self.min_agents, "evictions": self.evictions,
                "bursts": self.bursts,
                "groups": [[k, i, armed, n, sorted(agents.items())]
                           for (k, i), (armed, n, agents) in self._groups.items()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], max_groups: int = 10_000,
                  max_agents_per_group: int = 64) -> ErrorBurstDetector:
        out = cls(data["window_ns"] / _NS, int(data["min_agents"]), max_groups, max_agents_per_group)
        out.evictions = int(data["evictions"])
        out.bursts = int(data["bursts"])
        for kind, ident, armed, n, agents in data["groups"][-max_groups:]:
            out._groups[(kind, ident)] = [bool(armed), int(n), {a: int(t) for a, t in agents}]
        return out
