"""The pure core's entry point: normalized spans in, alerts and task summaries out.

    decode -> normalize -> [Engine: group by task -> TaskState.apply -> detectors] -> sinks

`agentwatch replay` and each worker partition run this same class; only the clock differs (span
time in replay, the worker's event-time clock in a worker). Nothing here does I/O: metrics go
through the `Observer` it is given, alerts and summaries come back as JSON-ready dicts.

Bounds (each enforced here, each tested):
- open tasks: `max_active_tasks`; over it the least recently updated task closes as `evicted`.
- closed-task markers (task ID, agent, absorbed offsets), persisted by the worker, so spans read again
  after a crash are recognised as already counted and genuinely late ones as late: `max_closed`; the
  oldest is forgotten first (`expired`, tombstoned by the worker).
- alerts per (agent, kind) per minute of event time: `max_alerts_per_minute`; the excess is counted
  (`Observer.alert_suppressed`) and still listed in the task summary's `alerts`.
- trace -> conversation links (conversation task key): `max_closed` entries.
- tail-keep buffers (`keep`, off unless configured): per task and per worker, see keep.py.

Open tasks idle for `hibernate_after_s` of event time are frozen (`hibernate`, dormant.py) and thawed when
anything needs them; `tasks` holds both kinds, and every path that reads or changes a task thaws it first
(`_awake`), so outputs do not depend on what was frozen when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .detectors.budget import check_task_budgets
from .detectors.loop import check_loop
from .detectors.stall import check_stall, resolve_stall, stall_due
from .dormant import Dormant
from .keep import Flagged, KeptSpans, low_scores
from .model import Evaluation, Finding, Span
from .policy import Policy
from .pricing import Pricer
from .sinks.alerts import alert_id, summary_json, task_alert_json
from .tasks import RANK_STAMPED, TaskState, absorb, fresh

_MINUTE_NS = 60 * 10**9
_FAR_FUTURE_NS = 2**64  # past any span time the decoder accepts (< 2**63)


class Observer(Protocol):
    """Metric hooks (the Prometheus sink implements them; replay uses `NullObserver`)."""

    def spans(self, by_kind: list[int]) -> None: ...
    def llm(self, agent: str, model: str, provider: str, status: str, usage: list[float]) -> None: ...
    def tool(self, agent: str, tool: str, status: str, n: int) -> None: ...
    def task_closed(self, summary: dict[str, Any]) -> None: ...
    def alert(self, alert: dict[str, Any]) -> None: ...
    def alert_suppressed(self, agent: str, kind: str) -> None: ...
    def late_spans(self, n: int) -> None: ...
    def duplicate_spans(self, n: int) -> None: ...
    def tail_keep(self, status: str, reason: str, nbytes: int) -> None: ...


class NullObserver:
    def spans(self, by_kind: list[int]) -> None: pass
    def llm(self, agent: str, model: str, provider: str, status: str, usage: list[float]) -> None: pass
    def tool(self, agent: str, tool: str, status: str, n: int) -> None: pass
    def task_closed(self, summary: dict[str, Any]) -> None: pass
    def alert(self, alert: dict[str, Any]) -> None: pass
    def alert_suppressed(self, agent: str, kind: str) -> None: pass
    def late_spans(self, n: int) -> None: pass
    def duplicate_spans(self, n: int) -> None: pass
    def tail_keep(self, status: str, reason: str, nbytes: int) -> None: pass


@dataclass(frozen=True, slots=True)
class EngineConfig:
    task_key: str = "trace"             # trace | conversation
    max_active_tasks: int = 10_000
    max_closed: int = 50_000           # closed-task markers (~500 bytes each in memory: ~25 MB at the bound)
    close_grace_s: float = 2.0          # after the root span ends, wait this long for late children
    max_alerts_per_minute: int = 60     # per (agent, kind), event time
    keep: bool = False                  # tail-keep (keep.py): buffer open tasks' spans, flag those that alert
    keep_max_spans: int = 1000          # per task
    keep_max_task_bytes: int = 262_144  # per task, of compact rows
    keep_max_worker_bytes: int = 67_108_864  # over every open task
    hibernate_after_s: float = 0.0      # freeze open tasks idle this long (event time) at `hibernate`; 0 = never

    @classmethod
    def from_settings(cls, s: Any, keep: bool = False) -> EngineConfig:
        """The engine a worker (`keep`: as its settings say) or a replay (no tail-keep) runs from `Settings`."""
        return cls(task_key=s.task_key, max_active_tasks=s.max_active_tasks, close_grace_s=s.close_grace_s,
                   max_alerts_per_minute=s.max_alerts_per_minute, keep=keep and s.tail_keep,
                   keep_max_spans=s.keep_max_spans, keep_max_task_bytes=s.keep_max_task_bytes,
                   keep_max_worker_bytes=s.keep_max_worker_bytes, hibernate_after_s=s.hibernate_after_s)


@dataclass(slots=True)
class Closed:
    """What is kept of a closed task: its agent (for late scores) and what it had absorbed (to tell a span
    read again from a late one)."""

    agent: str
    absorbed: dict[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"closed": True, "agent": self.agent, "absorbed": list(self.absorbed.items())}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Closed:
        return cls(d["agent"], {src: off for src, off in d["absorbed"]})


@dataclass(slots=True)
class Output:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    # Evaluation scores whose task had closed (or was never seen here): for the agent's baseline.
    late_scores: list[dict[str, Any]] = field(default_factory=list)
    flagged: list[Flagged] = field(default_factory=list)  # closed tasks to publish whole (tail-keep)

    def extend(self, other: Output) -> None:
        self.alerts.extend(other.alerts)
        self.summaries.extend(other.summaries)
        self.late_scores.extend(other.late_scores)
        self.flagged.extend(other.flagged)


class Engine:
    def __init__(self, policy: Policy, config: EngineConfig | None = None, observer: Observer | None = None,
                 pricer: Pricer | None = None) -> None:
        self.policy = policy
        self.config = config or EngineConfig()
        self.observer: Observer = observer or NullObserver()
        self.pricer = pricer or Pricer(policy.prices)
        self.tasks: dict[str, TaskState | Dormant] = {}  # insertion order = least recently updated first
        self.dormant = 0                           # how many of them are frozen (dormant.py)
        self.closed: dict[str, Closed] = {}        # closed task ID -> marker (oldest first)
        self.conversations: dict[str, str] = {}    # trace ID -> conversation ID (conversation key only)
        self._alert_budget: dict[tuple[str, str], list[int]] = {}  # (agent, kind) -> [minute, count]
        self.clock_ns = 0                          # newest span end time seen
        self.kept_bytes = 0                        # tail-keep: rows buffered over every open task
        # Changes since `take_changes` (the worker persists them): tasks updated, tasks closed, markers forgotten.
        self.dirty: set[str] = set()
        self.just_closed: list[str] = []
        self.expired: list[str] = []
        # Metric deltas of the tasks settled in this call, summed by label set and handed to the observer once
        # at its end (`_report`): one update per agent and model per batch, not one per task.
        self._llm_deltas: dict[tuple[str, str, str, str], list[float]] = {}
        self._tool_deltas: dict[tuple[str, str, str], int] = {}

    # -- input ------------------------------------------------------------------------------------
    def task_key(self, span: Span) -> str:
        if self.config.task_key != "conversation":
            return span.trace_id
        return span.conversation_id or self.conversations.get(span.trace_id) or span.trace_id

    def process(self, spans: list[Span], now_ns: int | None = None) -> Output:
        """Fold a batch of spans (any tasks, any order) into task state and run the span-driven detectors.

        `now_ns` is the clock of these spans' tasks before this batch (the worker's watermark). A task
        closes `close_grace_s` after its root span ended; if the clock is already past that end when the
        root arrives (input was idle and the clock followed the wall; or the root came by a faster path
        than its siblings), the grace runs from the clock instead, so spans still on their way are counted.
        """
        out = Output()
        by_kind = [0, 0, 0, 0]
        if self.config.task_key == "conversation":
            self._link_conversations(spans)
        groups: dict[str, list[Span]] = {}
        key_of = self.task_key
        newest = self.clock_ns
        for s in spans:
            by_kind[s.kind] += 1
            if s.end_ns > newest:
                newest = s.end_ns
            k = key_of(s)
            g = groups.get(k)
            if g is None:
                groups[k] = [s]
            else:
                g.append(s)
        self.clock_ns = newest
        self.observer.spans(by_kind)
        late = duplicates = 0
        grace_ns = int(self.config.close_grace_s * 1e9)
        for key, group in groups.items():
            closed = self.closed.get(key)
            if closed is not None:
                new = fresh(closed.absorbed, group)
                late += len(new)
                duplicates += len(group) - len(new)
                continue
            task = self.tasks.get(key)
            if task is None:
                if len(self.tasks) >= self.config.max_active_tasks:
                    self._close(self._awake(next(iter(self.tasks.values()))), "evicted", out)
                task = TaskState(key, group[0].trace_id, group[0].resource)
                if self.config.keep:
                    task.kept = KeptSpans()
            else:
                task = self._awake(task)
                new = fresh(task.absorbed, group)
                if len(new) < len(group):
                    duplicates += len(group) - len(new)
                    if not new:  # all read before: the task is left exactly as it was
                        continue
                    group = new
                del self.tasks[key]
            self.tasks[key] = task
            self.dirty.add(key)
            absorb(task.absorbed, group)
            unseen = task.unseen(group)  # a record written twice upstream: same spans, other offsets
            if len(unseen) < len(group):
                duplicates += len(group) - len(unseen)
                if not unseen:
                    continue
                group = unseen
            rule = self.policy.rule_for(task.agent)
            task.loop_threshold = rule.tool_repeat or 0
            had_root, last_end = task.root_end_ns, task.end_ns
            task.apply(group, self.pricer)
            if task.kept is not None:
                c = self.config
                self.kept_bytes += task.kept.add(group, c.keep_max_spans, c.keep_max_task_bytes)
            if now_ns is not None and task.root_end_ns and not had_root:
                task._close_at_ns = max(task.root_end_ns, now_ns) + grace_ns
            ts = max(s.end_ns for s in group)
            rule = self.policy.rule_for(task.agent)
            findings = check_task_budgets(task, rule, ts)
            if task.fired:
                moved = resolve_stall(task, last_end, ts, "moved again")
                if moved is not None:
                    findings.append(moved)
            loop = check_loop(task, rule)
            if loop is not None:
                findings.append(loop)
            for f in findings:
                self._emit(task, f, out)
            if task.agent_rank >= RANK_STAMPED:
                self._settle(task)
        if self.kept_bytes > self.config.keep_max_worker_bytes:
            self._shed_kept()
        if late:
            self.observer.late_spans(late)
        if duplicates:
            self.observer.duplicate_spans(duplicates)
        self._report()
        return out

    def add_evaluations(self, evaluations: list[Evaluation]) -> Output:
        """Evaluation scores from the logs signal: onto the open task, else to the agent's baseline."""
        out = Output()
        for ev in evaluations:
            key = ev.trace_id
            if self.config.task_key == "conversation":
                key = self.conversations.get(ev.trace_id, ev.trace_id)
            task = self.tasks.get(key)
            if task is not None:
                task = self._awake(task)
                if ev.offset < 0 or ev.offset > task.absorbed.get(ev.src, -1):
                    task.add_score(ev.name, ev.score)
                    if ev.offset >= 0:
                        task.absorbed[ev.src] = ev.offset
                    self.dirty.add(key)
                continue
            closed = self.closed.get(key)
            if closed is not None and 0 <= ev.offset <= closed.absorbed.get(ev.src, -1):
                continue  # read again: it was counted before its task closed
            agent = closed.agent if closed is not None else ev.service or "unknown"
            out.late_scores.append({"agent": agent, "evaluation": ev.name, "score": ev.score,
                                    "ts_ns": ev.ts_ns, "trace_id": ev.trace_id})
        return out

    def _shed_kept(self) -> None:
        """Over the per-worker bound: drop the buffers of the least recently updated tasks first."""
        for task in self.tasks.values():
            if self.kept_bytes <= self.config.keep_max_worker_bytes:
                return
            if _kept_nbytes(task):
                task = self._awake(task)  # a value replaced, no key added: the iteration goes on
                self.kept_bytes -= task.kept.nbytes
                self.observer.tail_keep("dropped", "worker_bytes", task.kept.nbytes)
                task.kept = None
                self.dirty.add(task.task_id)

    def _link_conversations(self, spans: list[Span]) -> None:
        # Spans without a conversation ID join their trace's conversation when any span of the trace
        # (in this record, or recently) carried one.
        conv = self.conversations
        for s in spans:
            if s.conversation_id and s.trace_id not in conv:
                if len(conv) >= self.config.max_closed:
                    del conv[next(iter(conv))]
                conv[s.trace_id] = s.conversation_id

    # -- time -------------------------------------------------------------------------------------
    def tick(self, now_ns: int, task_now: Callable[[str], int] | None = None) -> Output:
        """Advance the clock: close finished tasks after the grace period, detect stalls and idle timeouts.

        `task_now(task_id)`, when given, is each task's own clock (the worker's per-partition watermark).
        """
        out = Output()
        grace_ns = int(self.config.close_grace_s * 1e9)
        for task in list(self.tasks.values()):
            if task_now is not None:
                now_ns = task_now(task.task_id)
            if not task.open:  # live: only open tasks are frozen (Dormant.open)
                if now_ns >= (task._close_at_ns or task.root_end_ns + grace_ns):
                    self._close(task, "error" if task.failed else "ok", out)
                continue
            rule = self.policy.rule_for(task.agent)
            idle = now_ns - task.end_ns >= rule.idle_timeout_s * 1e9
            if type(task) is Dormant:
                if not idle and not stall_due(task, rule, now_ns):
                    continue  # nothing due: it stays frozen
                task = self._awake(task)
            stall = check_stall(task, rule, now_ns)
            if stall is not None:
                self._emit(task, stall, out)
            if idle:
                # at its deadline, not the clock: the same all-clear live and in replay's flush
                self._close(task, "timed_out", out, task.end_ns + int(rule.idle_timeout_s * 1e9))
        self._report()
        return out

    def flush(self) -> Output:
        """End of input (replay): judge every open task as if nothing more came, and close it.

        A stall is judged at its own deadline (last span + stall_s), so its alert reads as it would have live.
        """
        out = Output()
        for task in list(self.tasks.values()):
            task = self._awake(task)
            rule = self.policy.rule_for(task.agent)
            if task.open and rule.stall_s is not None:
                stall = check_stall(task, rule, task.end_ns + int(rule.stall_s * 1e9))
                if stall is not None:
                    self._emit(task, stall, out)
        out.extend(self.tick(_FAR_FUTURE_NS))
        return out

    # -- output -----------------------------------------------------------------------------------
    def _emit(self, task: TaskState, f: Finding, out: Output) -> None:
        if f.resolves is None:  # the summary lists what the task raised, not its all-clears
            task.alerts.append(f.kind)
            task.alert_ids.append(alert_id(f.kind, task.task_id, f.rule, f.ordinal))
        minute = f.ts_ns // _MINUTE_NS
        key = (task.agent, f.kind)
        budget = self._alert_budget.get(key)
        if budget is None or budget[0] != minute:
            if len(self._alert_budget) >= self.config.max_active_tasks:
                self._alert_budget.clear()
            budget = self._alert_budget[key] = [minute, 0]
        budget[1] += 1
        if budget[1] > self.config.max_alerts_per_minute:
            self.observer.alert_suppressed(task.agent, f.kind)
            return
        alert = task_alert_json(f, task)
        out.alerts.append(alert)
        self.observer.alert(alert)

    def _settle(self, task: TaskState) -> None:
        """Publish the metric deltas the task accrued, under its agent.

        Held until the agent is certain (an agent span, or a name stamped on the spans) or the task
        closes, because children usually arrive before the agent span that names them.
        """
        llm, tools = task.take_pending()
        agent, llm_deltas, tool_deltas = task.agent, self._llm_deltas, self._tool_deltas
        for (model, provider, status), usage in llm.items():
            total = llm_deltas.get((agent, model, provider, status))
            if total is None:
                llm_deltas[(agent, model, provider, status)] = list(usage)
            else:
                for i, v in enumerate(usage):
                    total[i] += v
        for (tool, status), n in tools.items():
            tool_deltas[(agent, tool, status)] = tool_deltas.get((agent, tool, status), 0) + n

    def _report(self) -> None:
        """Hand the metric deltas settled since the last call to the observer, summed by label set."""
        obs = self.observer
        for (agent, model, provider, status), usage in self._llm_deltas.items():
            obs.llm(agent, model, provider, status, usage)
        for (agent, tool, status), n in self._tool_deltas.items():
            obs.tool(agent, tool, status, n)
        self._llm_deltas, self._tool_deltas = {}, {}

    def _close(self, task: TaskState, outcome: str, out: Output, now_ns: int = 0) -> None:
        """`now_ns`: when it timed out (idle timeout), else its last span end is the time."""
        if task.fired:
            ended = resolve_stall(task, task.end_ns, max(now_ns, task.end_ns), f"closed ({outcome})")
            if ended is not None:
                self._emit(task, ended, out)
        self._settle(task)
        summary = summary_json(task, outcome)
        out.summaries.append(summary)
        self.observer.task_closed(summary)
        if self.config.keep:
            self._flag(task, out)
        del self.tasks[task.task_id]
        self.dirty.discard(task.task_id)
        self.just_closed.append(task.task_id)
        self._remember(task.task_id, Closed(task.agent, task.absorbed))

    def _flag(self, task: TaskState, out: Output) -> None:
        """A closing task that alerted or scored under its rule's `keep_below` is published with its spans."""
        kept, task.kept = task.kept, None
        if kept is not None:
            self.kept_bytes -= kept.nbytes
        reasons = ["alert"] if task.alerts else []
        if low_scores(task.scores, self.policy.rule_for(task.agent).keep_below):
            reasons.append("low_score")
        if not reasons:
            return
        if kept is None:  # its buffer was dropped over the per-worker bound
            self.observer.tail_keep("lost", reasons[0], 0)
            return
        self.observer.tail_keep("kept", reasons[0], kept.nbytes)
        if kept.cut:
            self.observer.tail_keep("truncated", reasons[0], 0)
        out.flagged.append(Flagged(task.task_id, task.trace_id, task.agent, task.end_ns, reasons, list(task.alerts),
                                   list(task.alert_ids), kept.rows, kept.cut))

    def _remember(self, task_id: str, marker: Closed) -> None:
        """Keep a closed task's marker; over `max_closed` the oldest is forgotten (and tombstoned by the worker)."""
        if len(self.closed) >= self.config.max_closed:
            oldest = next(iter(self.closed))
            del self.closed[oldest]
            self.expired.append(oldest)
        self.closed[task_id] = marker

    # -- persistence ----------------------------------------------------------------------------------
    def take_changes(self) -> tuple[list[TaskState], list[tuple[str, Closed]], list[str]]:
        """Since the last call: open tasks changed, tasks closed (with their markers), markers forgotten.
        What the changelog must record, in this order of precedence: a closed task's marker replaces its
        state; a forgotten marker is deleted."""
        changed = [self.tasks[k] for k in self.dirty if k in self.tasks]
        closed = [(k, self.closed[k]) for k in self.just_closed if k in self.closed]
        expired = self.expired
        self.dirty, self.just_closed, self.expired = set(), [], []
        return changed, closed, expired

    def hibernate(self) -> int:
        """Freeze every open task whose last span ended `hibernate_after_s` or more before the clock (dormant.py).
        The worker calls it after each checkpoint has serialized the changes (`take_changes` must only see live
        tasks: nothing changes a task without thawing it). Returns how many were frozen."""
        after_ns = int(self.config.hibernate_after_s * 1e9)
        if after_ns <= 0:
            return 0
        horizon = self.clock_ns - after_ns
        frozen = 0
        for key, task in self.tasks.items():
            if type(task) is TaskState and task.open and task.end_ns <= horizon:
                self.tasks[key] = Dormant(task)  # a value replaced, no key added: the iteration goes on
                frozen += 1
        self.dormant += frozen
        return frozen

    def _awake(self, task: TaskState | Dormant) -> TaskState:
        """`task` live: a dormant one is thawed, in its place (its position in `tasks` kept)."""
        if type(task) is not Dormant:
            return task
        live = self.tasks[task.task_id] = task.thaw()
        self.dormant -= 1
        return live

    def adopt(self, task_id: str, doc: dict[str, Any]) -> None:
        """Take over a task (or a closed task's marker) recovered from the changelog."""
        if task_id in self.tasks or task_id in self.closed:
            return
        if doc.get("closed"):
            self._remember(task_id, Closed.from_dict(doc))
            return
        task = self.tasks[task_id] = TaskState.from_dict(doc)
        if task.kept is not None:
            if self.config.keep:
                self.kept_bytes += task.kept.nbytes
            else:
                task.kept = None

    def drop(self, keep: Callable[[str], bool]) -> int:
        """Forget (without closing) the tasks and markers another worker now owns; returns how many tasks."""
        gone = [k for k in self.tasks if not keep(k)]
        for k in gone:
            task = self.tasks.pop(k)
            self.kept_bytes -= _kept_nbytes(task)
            if type(task) is Dormant:
                self.dormant -= 1
            self.dirty.discard(k)
        for k in [k for k in self.closed if not keep(k)]:
            del self.closed[k]
        return len(gone)


def _kept_nbytes(task: TaskState | Dormant) -> int:
    if type(task) is Dormant:
        return task.kept_nbytes
    return task.kept.nbytes if task.kept is not None else 0
