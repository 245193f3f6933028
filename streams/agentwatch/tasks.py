"""Task state: how a batch of spans changes one task (one agent run). Pure: no I/O, no clock reads.

Memory per task is bounded and independent of its span count: counters, capped name->count maps
(`MAX_MODELS`, `MAX_TOOLS`, `MAX_ERROR_TYPES`, `MAX_SCORES`; overflow goes to `__other__`), the
last tool-call signature, and at most `MAX_EVIDENCE` span IDs of the current repeat run.

Rules that make the totals right on real traces (shared/reference/otel-kafka-genai.md §2, §5):
- Tokens and cost come from LLM spans only. `invoke_agent` / agent spans may repeat their children's
  summed usage, so their usage is kept aside and used only when the task has no LLM span at all.
- Only input and output tokens add up to the total; cache-read is a part of input and reasoning a
  part of output. A span that reports only a total adds to the total alone.
- The task's agent is the outermost agent span with a name (earliest start), found whatever the
  arrival order. Until one is seen, the agent named on the task's spans (Traceloop stamps it on every
  descendant) stands in, then the resource's `service.name`.
- One failure counts once. Most instrumentations mark the failed call and every span above it (agent,
  chain, cycle, root), and some mark an HTTP client span below it. The unit is the failed call (LLM or
  tool span): each counts unless a call below it failed too (a tool failing because its LLM call did),
  under its own error type or, without one, its nearest failed ancestor's. Failed spans of other kinds
  count only in a task without a failed call, then once per failed span with no failed child. Kept for
  the first `MAX_ERROR_SPANS` failed spans of a task, so arrival order does not matter. The task fails
  (outcome `error`) when its root or its agent span failed.
- Loops are judged in span start order within a batch; a tool span that starts before the last one
  judged (a late arrival from another record) is counted but not judged.
"""

from __future__ import annotations

from bisect import insort
from typing import Any

from .keep import KeptSpans
from .model import AGENT, LLM, TOOL, Resource, Span
from .pricing import Pricer

MAX_MODELS = 16
MAX_TOOLS = 64
MAX_ERROR_TYPES = 32
MAX_ERROR_SPANS = 64  # failed spans kept to tell a failure from its propagation; beyond it each counts alone
MAX_SCORES = 16
MAX_EVIDENCE = 8
MAX_PENDING = 64
MAX_RECENT = 64  # calls kept for loop judging: the reorder window for late arrivals
# A task's last span IDs, to drop a span that arrives again in another record (a producer upstream retrying
# without idempotence resends its last requests: the copy comes soon after the original).
MAX_SEEN_SPANS = 64
# Each token count is < 2**53 (the decoder's bound); a task's totals saturate here, so three of them still add
# up within the 64-bit integers JSON consumers (and orjson) accept.
MAX_TASK_TOKENS = 2**61
MAX_TASK_COST_NANO = 2**62  # a task's cost saturates here (~4.6e9 USD)
OTHER_LABEL = "__other__"

# Ranks of the evidence for a task's agent.
RANK_NONE, RANK_SERVICE, RANK_STAMPED, RANK_AGENT_SPAN = 0, 1, 2, 3


# Fields added since 0.1.0, with their value for a task persisted before (its errors were counted per span).
_ADDED: dict[str, Any] = {"error_spans": dict, "agent_error": bool, "alert_ids": list}


def bump(counts: dict[str, int], key: str, cap: int, n: int = 1) -> None:
    """counts[key] += n, keeping at most `cap` keys (the rest count under `__other__`)."""
    if key not in counts and len(counts) >= cap - 1:
        key = OTHER_LABEL
    counts[key] = counts.get(key, 0) + n


def remember(seen: dict[str, None], key: str, cap: int) -> bool:
    """False if `key` is among the last `cap` keys of `seen` (oldest first); else True, and it is now, the oldest
    forgotten beyond `cap`. A dict, not a set: ordered, so its persisted form round-trips exactly."""
    if key in seen:
        return False
    seen[key] = None
    if len(seen) > cap:
        del seen[next(iter(seen))]
    return True


class TaskState:
    """Everything agentwatch keeps about one open task."""

    __slots__ = (
        "_close_at_ns",
        "_reordered",
        "absorbed",
        "agent",
        "agent_error",
        "agent_rank",
        "agent_start_ns",
        "alert_ids",
        "alerts",
        "conversation_id",
        "cost_nano",
        "cost_unknown_calls",
        "end_ns",
        "error_spans",
        "errors",
        "fired",
        "kept",
        "llm_calls",
        "loop_base",
        "loop_hit",
        "loop_state",
        "loop_threshold",
        "max_repeat",
        "models",
        "pending_llm",
        "pending_tools",
        "recent",
        "resource",
        "root_end_ns",
        "root_error",
        "scores",
        "seen_spans",
        "start_ns",
        "task_id",
        "tok_cache",
        "tok_in",
        "tok_other",
        "tok_out",
        "tok_reason",
        "tool_calls",
        "tools",
        "trace_id",
        "usage_fallback",
    )

    def __init__(self, task_id: str, trace_id: str, resource: Resource) -> None:
        self.task_id = task_id
        self.trace_id = trace_id
        self.conversation_id: str | None = None
        self.resource = resource
        self.agent = resource.service or "unknown"
        self.agent_rank = RANK_SERVICE if resource.service else RANK_NONE
        self.agent_start_ns = 0
        self.agent_error = False      # the task's agent span (outermost) failed
        self.start_ns = 0
        self.end_ns = 0
        self.root_end_ns = 0          # 0 while the root span has not been seen
        # When the engine closes the task if the clock was past the root's end when it arrived (0: the root's
        # end + grace). Not persisted: a new owner judges by the root's end.
        self._close_at_ns = 0
        self.root_error = False
        self.llm_calls = 0
        self.tool_calls = 0
        self.tok_in = self.tok_out = self.tok_cache = self.tok_reason = self.tok_other = 0
        self.usage_fallback: list[int] | None = None  # [in, out, cache, reasoning] of the largest agent span
        # Cost in integer nano-USD: a sum of floats depends on the order calls arrive in (another partition,
        # another worker, a replay) and so could round differently or cross a budget in one order only.
        self.cost_nano = 0
        self.cost_unknown_calls = 0
        self.models: dict[str, int] = {}
        self.tools: dict[str, int] = {}
        self.errors: dict[str, int] = {}          # failures beyond MAX_ERROR_SPANS, counted per span
        self.error_spans: dict[str, list[Any]] = {}  # failed span ID -> [parent ID, error type, is a call]
        self.scores: dict[str, list[float]] = {}   # name -> [sum, n]
        self.max_repeat = 0
        # Loop judging: tool and LLM calls in start order. `recent` holds the last MAX_RECENT calls as
        # [start_ns, span_id, signature or None for an LLM call, has_args]; calls that fall out of it are
        # folded into `loop_base`. `loop_state` is the run after the last call: [signature, run length,
        # args_seen, llm_since_tool, evidence span IDs]. A call arriving late (from another record) is
        # inserted in order and the run recomputed from `loop_base`, so arrival order does not matter.
        self.recent: list[list[Any]] = []
        self.loop_base: list[Any] = [None, 0, False, False, []]
        self.loop_state: list[Any] = [None, 0, False, False, []]
        # Set by the engine from the agent's rule before each batch: the run length that makes a loop.
        self.loop_threshold = 0
        # [tool, args_sha256 or "", args_seen, span_ids, end_ns, repeats] of the first run that reached the threshold.
        self.loop_hit: list | None = None
        self.fired: dict[str, int] = {}             # policy rule name -> times fired
        self.alerts: list[str] = []                 # alert kinds fired, in order (bounded by kinds)
        self.alert_ids: list[str] = []              # and their alert IDs (the flagged record's headers)
        self.kept: KeptSpans | None = None          # tail-keep buffer (keep.py); None: not keeping
        # Metric deltas not yet published: held until the agent is known for certain (or the task closes).
        self.pending_llm: dict[tuple[str, str, str], list[float]] = {}
        self.pending_tools: dict[tuple[str, str], int] = {}
        # Source ID -> newest input offset folded in (`fresh`, `absorb`): what makes re-reading idempotent.
        self.absorbed: dict[int, int] = {}
        # The last MAX_SEEN_SPANS span IDs folded in, oldest first (`remember`): the same span in two records
        # counts once (`unseen`).
        self.seen_spans: dict[str, None] = {}

    # -- derived ----------------------------------------------------------------------------------
    def tokens(self) -> tuple[int, int, int, int, int]:
        """(input, output, cache_read, reasoning, total) with the agent-span fallback applied."""
        if self.llm_calls == 0 and self.usage_fallback is not None:
            i, o, c, r = self.usage_fallback
            return i, o, c, r, i + o
        return (self.tok_in, self.tok_out, self.tok_cache, self.tok_reason,
                self.tok_in + self.tok_out + self.tok_other)

    @property
    def cost_usd(self) -> float:
        return self.cost_nano / 1e9

    @property
    def open(self) -> bool:
        return self.root_end_ns == 0

    # -- update -----------------------------------------------------------------------------------
    def apply(self, spans: list[Span], pricer: Pricer) -> None:
        """Fold a batch of this task's spans into the state. `spans` may arrive in any order."""
        if len(spans) > 1:
            spans.sort(key=_start)
        self._reordered = False
        for s in spans:
            if self.start_ns == 0 or s.start_ns < self.start_ns:
                self.start_ns = s.start_ns
            if s.end_ns > self.end_ns:
                self.end_ns = s.end_ns
            if self.conversation_id is None and s.conversation_id:
                self.conversation_id = s.conversation_id
            kind = s.kind
            if kind == LLM:
                self._llm(s, pricer)
            elif kind == TOOL:
                self._tool(s)
            elif kind == AGENT:
                self._agent_span(s)
            if s.agent_name and kind != AGENT and self.agent_rank < RANK_STAMPED:
                self.agent, self.agent_rank = s.agent_name, RANK_STAMPED
            if s.error:
                self._failed(s)
            if s.evals:
                for name, score in s.evals:
                    self.add_score(name, score)
            if not s.parent_id:
                self.root_end_ns = s.end_ns or 1
                self.root_error = s.error
                if self.agent_rank < RANK_SERVICE and s.resource.service:
                    self.agent, self.agent_rank = s.resource.service, RANK_SERVICE
        if self._reordered:
            self._rejudge()
        if self.tok_in + self.tok_out + self.tok_other > MAX_TASK_TOKENS:  # hostile counts: keep totals in int64
            cap = MAX_TASK_TOKENS
            self.tok_in, self.tok_out, self.tok_other = min(self.tok_in, cap), min(self.tok_out, cap), min(
                self.tok_other, cap)
            self.tok_cache, self.tok_reason = min(self.tok_cache, cap), min(self.tok_reason, cap)
            for acc in self.pending_llm.values():
                acc[1:5] = [min(n, cap) for n in acc[1:5]]

    def unseen(self, spans: list[Span]) -> list[Span]:
        """The spans of `spans` whose ID is not among the task's last MAX_SEEN_SPANS, now remembered."""
        seen = self.seen_spans
        return [s for s in spans if remember(seen, s.span_id, MAX_SEEN_SPANS)]

    def _failed(self, s: Span) -> None:
        spans = self.error_spans
        if s.span_id in spans:  # the same span sent twice
            return
        if len(spans) >= MAX_ERROR_SPANS:
            bump(self.errors, s.error_type or "_OTHER", MAX_ERROR_TYPES)
            return
        spans[s.span_id] = [s.parent_id, s.error_type, s.kind == LLM or s.kind == TOOL]

    def error_counts(self) -> dict[str, int]:
        """error type -> failures (see the module docstring)."""
        counts = dict(self.errors)
        spans = self.error_spans
        failed_parents = {e[0] for e in spans.values()}           # failed spans with a failed child
        call_parents = {e[0] for e in spans.values() if e[2]}      # ... with a failed call as a child
        calls = bool(call_parents)
        for span_id, (parent_id, error_type, is_call) in spans.items():
            if (span_id in call_parents or not is_call) if calls else span_id in failed_parents:
                continue
            for _ in range(len(spans)):  # bounded: hostile parent IDs may form a cycle
                if error_type is not None or parent_id not in spans:
                    break
                parent_id, error_type = spans[parent_id][:2]
            bump(counts, error_type or "_OTHER", MAX_ERROR_TYPES)
        return counts

    @property
    def failed(self) -> bool:
        """The task's outcome is `error`: its root span or its agent span failed."""
        return self.root_error or self.agent_error

    def fire_once(self, rule_name: str) -> bool:
        """True the first time a rule fires for this task (detectors fire once per task and rule)."""
        if rule_name in self.fired:
            return False
        self.fired[rule_name] = 1
        return True

    def add_score(self, name: str, score: float) -> None:
        if name not in self.scores and len(self.scores) >= MAX_SCORES:
            return
        acc = self.scores.setdefault(name, [0.0, 0])
        acc[0] += score
        acc[1] += 1

    def _llm(self, s: Span, pricer: Pricer) -> None:
        self.llm_calls += 1
        self._call([s.start_ns, "", None, False])
        i, o = s.input_tokens or 0, s.output_tokens or 0
        c, r = s.cache_read_tokens or 0, s.reasoning_tokens or 0
        self.tok_in += i
        self.tok_out += o
        self.tok_cache += c
        self.tok_reason += r
        if s.input_tokens is None and s.output_tokens is None and s.total_tokens:
            self.tok_other += s.total_tokens
        model = s.model or "unknown"
        cost = pricer.cost(s.model, s.provider, s.end_ns, i, o, c, s.cache_write_tokens or 0)
        if cost is None:
            cost = s.cost_usd  # OpenLIT reports its own estimate; better than nothing
        if cost is None:
            self.cost_unknown_calls += 1
        else:
            self.cost_nano = min(self.cost_nano + round(cost * 1e9), MAX_TASK_COST_NANO)
        bump(self.models, model, MAX_MODELS)
        key = (model, s.provider or "unknown", "error" if s.error else "ok")
        acc = self.pending_llm.get(key)
        if acc is None:
            if len(self.pending_llm) >= MAX_PENDING:
                key = (OTHER_LABEL, OTHER_LABEL, key[2])
                acc = self.pending_llm.get(key)
            if acc is None:
                acc = self.pending_llm[key] = [0, 0, 0, 0, 0, 0.0]
        acc[0] += 1
        acc[1] += i
        acc[2] += o
        acc[3] += c
        acc[4] += r
        acc[5] += cost or 0.0

    def _tool(self, s: Span) -> None:
        self.tool_calls += 1
        name = s.tool_name or "unknown"
        bump(self.tools, name, MAX_TOOLS)
        key = (name, "error" if s.error else "ok")
        if key not in self.pending_tools and len(self.pending_tools) >= MAX_PENDING:
            key = (OTHER_LABEL, key[1])
        self.pending_tools[key] = self.pending_tools.get(key, 0) + 1
        self._call([s.start_ns, s.span_id, f"{name}\x00{s.args_hash or ''}", s.args_hash is not None])

    # -- loop judging ------------------------------------------------------------------------------
    def _call(self, call: list[Any]) -> None:
        recent = self.recent
        if not recent or call[0] >= recent[-1][0]:
            recent.append(call)
            self._step(self.loop_state, call)
        else:
            insort(recent, call, key=_first)
            self._reordered = True
        if len(recent) > MAX_RECENT:
            self._step(self.loop_base, recent.pop(0))

    def _rejudge(self) -> None:
        self._reordered = False
        state = [*self.loop_base[:4], list(self.loop_base[4])]
        for call in self.recent:
            self._step(state, call)
        self.loop_state = state

    def _step(self, state: list[Any], call: list[Any]) -> None:
        sig, has_args = call[2], call[3]
        if sig is None:  # an LLM call
            state[3] = True
            return
        # Same tool + same arguments repeats whatever the LLM did between; without arguments the
        # weaker signal only holds while no LLM call came between (contract §4).
        if sig == state[0] and (has_args or not state[3]):
            state[1] += 1
        else:
            state[0], state[1], state[2], state[4] = sig, 1, has_args, []
        if len(state[4]) < MAX_EVIDENCE:
            state[4].append(call[1])
        state[3] = False
        run = state[1]
        if state is self.loop_base:
            return
        if run > self.max_repeat:
            self.max_repeat = run
        if run == self.loop_threshold and self.loop_hit is None:
            tool, _, args_hash = sig.partition("\x00")
            self.loop_hit = [tool, args_hash, has_args, list(state[4]), call[0], run]

    def _agent_span(self, s: Span) -> None:
        name = s.agent_name or s.agent_id
        if name and (self.agent_rank < RANK_AGENT_SPAN or s.start_ns < self.agent_start_ns):
            self.agent, self.agent_rank, self.agent_start_ns = name, RANK_AGENT_SPAN, s.start_ns
            self.agent_error = s.error
        if s.input_tokens or s.output_tokens:
            usage = [s.input_tokens or 0, s.output_tokens or 0, s.cache_read_tokens or 0, s.reasoning_tokens or 0]
            fb = self.usage_fallback
            if fb is None or usage[0] + usage[1] > fb[0] + fb[1]:
                self.usage_fallback = usage

    def take_pending(self) -> tuple[dict[tuple[str, str, str], list[float]], dict[tuple[str, str], int]]:
        """Hand over (and clear) the metric deltas accumulated since the last call."""
        llm, tools = self.pending_llm, self.pending_tools
        self.pending_llm, self.pending_tools = {}, {}
        return llm, tools

    # -- persistence (changelog) ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__ if k[0] != "_"}
        d["resource"] = self.resource.as_tuple()
        d["absorbed"] = list(self.absorbed.items())
        d["seen_spans"] = list(self.seen_spans)
        d["pending_llm"] = [[*k, *v] for k, v in self.pending_llm.items()]
        d["pending_tools"] = [[*k, v] for k, v in self.pending_tools.items()]
        d["kept"] = None if self.kept is None else self.kept.to_doc()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskState:
        t = cls.__new__(cls)
        for k in cls.__slots__:
            if k[0] != "_" and k not in _ADDED and k not in ("kept", "seen_spans"):
                setattr(t, k, d[k])
        for k, default in _ADDED.items():  # absent from state persisted by 0.1.0
            setattr(t, k, d.get(k, default()))
        t._reordered = False
        t._close_at_ns = 0
        t.resource = Resource(*d["resource"])
        t.absorbed = {src: off for src, off in d["absorbed"]}
        t.pending_llm = {tuple(row[:3]): list(row[3:]) for row in d["pending_llm"]}
        t.pending_tools = {(row[0], row[1]): row[2] for row in d["pending_tools"]}
        t.seen_spans = dict.fromkeys(d.get("seen_spans", ()))  # absent from state persisted before it was kept
        kept = d.get("kept")  # absent from state persisted before tail-keep
        t.kept = None if kept is None else KeptSpans.from_doc(kept)
        return t


def fresh(absorbed: dict[int, int], spans: list[Span]) -> list[Span]:
    """The spans of `spans` not yet folded in: a record read again (after a crash or rebalance) has an offset
    at or below what its task already absorbed from that source. Spans of one source reach a task in offset
    order (one reader per input partition, one message per record and destination, in order), so the
    newest offset per source is enough."""
    if not absorbed:
        return spans
    get = absorbed.get
    return [s for s in spans if s.offset < 0 or s.offset > get(s.src, -1)]


def absorb(absorbed: dict[int, int], spans: list[Span]) -> None:
    """Record the newest offset per source of `spans` (after folding them)."""
    last_src = last_off = -1
    for s in spans:
        if s.src != last_src or s.offset != last_off:
            last_src, last_off = s.src, s.offset
            if last_off >= 0 and last_off > absorbed.get(last_src, -1):
                absorbed[last_src] = last_off


def _start(s: Span) -> int:
    return s.start_ns


def _first(call: list[Any]) -> int:
    return call[0]
