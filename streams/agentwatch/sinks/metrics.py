"""Prometheus metrics (contract §3) with bounded label values; implements the engine's `Observer`.

Bounds: each label keeps at most `max_label_values` distinct values; later values are reported as
`__other__` and counted in `agentwatch_label_overflow_total{label}`. No label ever carries a task,
trace, span, conversation or pod ID.

The counters and histograms updated on the hot path are plain dicts (`_Counters`, `_Histograms`), exposed
by one registry collector (`_Families`), not prometheus_client's metric objects: an update is two dict
operations, where a client child costs a lookup, a lock and three calls (the four histogram observations
per closed task alone were 6% of the worker's work, benchmarks/core.py "worker core"). The exposition is the
same text. The HTTP thread reads while the worker writes: it copies each dict first (`dict.copy` of str
tuples and numbers runs without releasing the GIL), so it never sees one mid-change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

OTHER = "__other__"
_TOKEN_TYPES = ("input", "output", "cache_read", "reasoning")
_LABEL_CACHE_MAX = 100_000

_TOKEN_BUCKETS = (100, 1e3, 5e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 5e6)
_COST_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 50)
_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
_TOOL_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 250)
_SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


# Labels whose values come from span data (unbounded in principle). The others (kind, status,
# severity, token_type, outcome, reason, label) are enumerations written by agentwatch itself.
OPEN_LABELS = frozenset({"agent", "service", "namespace", "model", "provider", "tool", "evaluation"})


class _Family:
    """One metric's series. Label values as sent become those exposed through the shared `LabelCap` (None: the
    labels are agentwatch's own enumerations, exposed as sent)."""

    kind: type[Metric]  # the prometheus_client family it is exposed as

    def __init__(self, name: str, doc: str, labelnames: tuple[str, ...], cap: LabelCap | None) -> None:
        self.name, self.doc, self.labelnames, self.cap = name, doc, labelnames, cap

    def key(self, raw: tuple[str, ...]) -> tuple[str, ...]:
        return raw if self.cap is None else self.cap.key(self, raw)

    def empty(self) -> Metric:
        return self.kind(self.name, self.doc, labels=self.labelnames)


class _Counters(_Family):
    """A counter family: `inc(labels, n)`. Without labels its one series shows from the start (at 0)."""

    kind = CounterMetricFamily

    def __init__(self, name: str, doc: str, labelnames: tuple[str, ...] = (), cap: LabelCap | None = None) -> None:
        super().__init__(name, doc, labelnames, cap)
        self.values: dict[tuple[str, ...], float] = {} if labelnames else {(): 0.0}

    def inc(self, raw: tuple[str, ...], n: float = 1.0) -> None:
        k = self.key(raw)
        values = self.values
        values[k] = values.get(k, 0.0) + n

    def family(self) -> Metric:
        m = self.empty()
        for k, value in self.values.copy().items():
            m.add_metric(k, value)
        return m


class _Histograms(_Family):
    """A histogram family: `observe(labels, x)` counts x in the first bucket whose bound is >= x (Prometheus's
    `le`); the exposition sums the buckets cumulatively, `_count` is the +Inf bucket."""

    kind = HistogramMetricFamily

    def __init__(self, name: str, doc: str, labelnames: tuple[str, ...], buckets: tuple[float, ...],
                 cap: LabelCap) -> None:
        super().__init__(name, doc, labelnames, cap)
        self.bounds = tuple(float(b) for b in buckets)
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = {}

    def observe(self, raw: tuple[str, ...], x: float) -> None:
        k = self.key(raw)
        counts = self.counts.get(k)
        if counts is None:
            counts = self.counts[k] = [0] * (len(self.bounds) + 1)
            self.sums[k] = 0.0
        counts[bisect_left(self.bounds, x)] += 1
        self.sums[k] += x

    def family(self) -> Metric:
        m = self.empty()
        sums = self.sums.copy()
        for k, counts in self.counts.copy().items():
            cumulative, total = [], 0
            for le, n in zip(self._les, counts.copy(), strict=True):
                total += n
                cumulative.append((le, total))
            m.add_metric(k, cumulative, sums.get(k, 0.0))
        return m


class _Families:
    """The registry collector of the dict-backed families (`describe` lets `/metrics?name[]=` find them)."""

    def __init__(self, families: list[_Counters | _Histograms]) -> None:
        self.families = families

    def describe(self) -> Iterator[Metric]:
        for f in self.families:
            yield f.empty()

    def collect(self) -> Iterator[Metric]:
        for f in self.families:
            yield f.family()


class LabelCap:
    """Keeps at most `limit` distinct values per open label name (shared by every metric using it, so an
    agent is either itself or `__other__` everywhere); the rest become `__other__`. A family's label values
    as sent map to those exposed through one cache for every family, bounded by `_LABEL_CACHE_MAX` (cleared
    when full: the series themselves are bounded by the cap)."""

    def __init__(self, limit: int, overflow: _Counters) -> None:
        self.limit = limit
        self.seen: dict[str, set[str]] = {}
        self._overflow = overflow
        self._keys: dict[tuple[_Family, tuple[str, ...]], tuple[str, ...]] = {}

    def key(self, family: _Family, raw: tuple[str, ...]) -> tuple[str, ...]:
        cached = (family, raw)
        k = self._keys.get(cached)
        if k is None:
            if len(self._keys) >= _LABEL_CACHE_MAX:
                self._keys.clear()
            k = self._keys[cached] = tuple(self(n, v) for n, v in zip(family.labelnames, raw, strict=True))
        return k

    def __call__(self, label: str, value: str) -> str:
        if label not in OPEN_LABELS:
            return value
        values = self.seen.setdefault(label, set())
        if value in values:
            return value
        if len(values) < self.limit:
            values.add(value)
            return value
        self._overflow.inc((label,))
        return OTHER


class Metrics:
    """All agentwatch metrics in one registry (one per worker process)."""

    def __init__(self, max_label_values: int = 200, registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # `*_created` series double the exposition and no dashboard reads them
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.label_overflow = _Counters("agentwatch_label_overflow_total",
                                        "Label values replaced by __other__ (cap AGENTWATCH_MAX_LABEL_VALUES)",
                                        ("label",))
        cap = self.cap = LabelCap(max_label_values, self.label_overflow)
        self.records = _Counters("agentwatch_records_total", "Input records by decode status", ("status",))
        self.spans_total = _Counters("agentwatch_spans_total", "Spans processed by kind", ("kind",))
        self.tokens = _Counters("agentwatch_gen_ai_tokens_total", "LLM tokens", ("agent", "model", "token_type"), cap)
        self.cost = _Counters("agentwatch_gen_ai_cost_usd_total", "LLM cost in USD", ("agent", "model"), cap)
        self.calls = _Counters("agentwatch_gen_ai_calls_total", "LLM calls", ("agent", "model", "provider", "status"),
                               cap)
        self.tool_calls = _Counters("agentwatch_tool_calls_total", "Tool calls", ("agent", "tool", "status"), cap)
        self.tasks = _Counters("agentwatch_tasks_total", "Tasks closed by outcome", ("agent", "outcome"), cap)
        self.task_tokens = _Histograms("agentwatch_task_tokens", "Tokens per task", ("agent",), _TOKEN_BUCKETS, cap)
        self.task_cost = _Histograms("agentwatch_task_cost_usd", "Cost per task (USD)", ("agent",), _COST_BUCKETS, cap)
        self.task_duration = _Histograms("agentwatch_task_duration_seconds", "Task duration", ("agent",),
                                         _DURATION_BUCKETS, cap)
        self.task_tools = _Histograms("agentwatch_task_tool_calls", "Tool calls per task", ("agent",), _TOOL_BUCKETS,
                                      cap)
        self.alerts = _Counters("agentwatch_alerts_total", "Alerts emitted", ("agent", "kind", "severity"), cap)
        self.active_tasks = Gauge("agentwatch_active_tasks", "Open tasks held by this worker", registry=r)
        self.evaluation = _Histograms("agentwatch_evaluation_score", "Evaluation scores", ("agent", "evaluation"),
                                      _SCORE_BUCKETS, cap)
        self.dlq = _Counters("agentwatch_dlq_total", "Records sent to the dead-letter topic", ("reason",))
        self.lag = Gauge("agentwatch_processing_lag_seconds", "Now minus the newest processed span end time",
                         registry=r)
        # extensions (README "Metrics")
        self.paused_inputs = Gauge("agentwatch_input_partitions_paused",
                                   "Input partitions paused: read more than AGENTWATCH_MAX_INPUT_SKEW_S of event time "
                                   "ahead of the slowest", registry=r)
        self.suppressed = _Counters("agentwatch_alerts_suppressed_total",
                                    "Alerts over the per-agent-kind rate bound (still listed in task summaries)",
                                    ("agent", "kind"), cap)
        self.late = _Counters("agentwatch_late_spans_total", "Spans that arrived after their task closed")
        self.duplicates = _Counters("agentwatch_duplicate_spans_total",
                                    "Spans read again after a crash or rebalance, recognised and not counted twice")
        self.rekeyed_spans = _Counters("agentwatch_rekeyed_spans_total",
                                       "Spans sent through the re-key topic (their task's home is another worker's)")
        # Tail-keep (keep.py). status: kept (published to agentwatch.flagged; reason alert | low_score), truncated
        # (published without its middle spans), lost (it alerted, but its buffer had been dropped), dropped (a
        # buffer let go; reason worker_bytes: the per-worker bound, record_size: its OTLP over the record limit).
        self.keep_tasks = _Counters("agentwatch_tail_keep_tasks_total", "Tasks whose spans tail-keep kept or dropped",
                                    ("status", "reason"))
        self.keep_bytes = _Counters("agentwatch_tail_keep_bytes_total", "Compact span bytes tail-keep kept or dropped",
                                    ("status", "reason"))
        self.dormant_tasks = Gauge("agentwatch_dormant_tasks",
                                   "Open tasks of this worker held compressed while idle (of agentwatch_active_tasks)",
                                   registry=r)
        self.keep_buffer = Gauge("agentwatch_tail_keep_buffer_bytes",
                                 "Compact span bytes buffered for the open tasks of this worker", registry=r)
        r.register(_Families([f for f in vars(self).values() if isinstance(f, _Counters | _Histograms)]))

    # -- Observer -------------------------------------------------------------------------------
    def spans(self, by_kind: list[int]) -> None:
        for kind, n in zip(("other", "llm", "tool", "agent"), by_kind, strict=True):
            if n:
                self.spans_total.inc((kind,), n)

    def llm(self, agent: str, model: str, provider: str, status: str, usage: list[float]) -> None:
        calls, i, o, c, r, cost = usage
        self.calls.inc((agent, model, provider, status), calls)
        for token_type, n in zip(_TOKEN_TYPES, (i, o, c, r), strict=True):
            if n:
                self.tokens.inc((agent, model, token_type), n)
        if cost:
            self.cost.inc((agent, model), cost)

    def tool(self, agent: str, tool: str, status: str, n: int) -> None:
        self.tool_calls.inc((agent, tool, status), n)

    def task_closed(self, summary: dict[str, Any]) -> None:
        agent = (summary["agent"],)
        self.tasks.inc((summary["agent"], summary["outcome"]))
        self.task_tokens.observe(agent, summary["tokens"]["total"])
        if summary["cost_usd"] is not None:
            self.task_cost.observe(agent, summary["cost_usd"])
        self.task_duration.observe(agent, summary["duration_s"])
        self.task_tools.observe(agent, summary["tool_calls"])
        for name, score in summary["scores"].items():
            self.evaluation_score(summary["agent"], name, score)

    def evaluation_score(self, agent: str, evaluation: str, score: float) -> None:
        self.evaluation.observe((agent, evaluation), score)

    def alert(self, alert: dict[str, Any]) -> None:
        self.alerts.inc((alert["agent"], alert["kind"], alert["severity"]))

    def alert_suppressed(self, agent: str, kind: str) -> None:
        self.suppressed.inc((agent, kind))

    def late_spans(self, n: int) -> None:
        self.late.inc((), n)

    def duplicate_spans(self, n: int) -> None:
        self.duplicates.inc((), n)

    def tail_keep(self, status: str, reason: str, nbytes: int) -> None:
        self.keep_tasks.inc((status, reason))
        if nbytes:
            self.keep_bytes.inc((status, reason), nbytes)

    # -- shell-side ---------------------------------------------------------------------------------
    def record(self, status: str) -> None:
        self.records.inc((status,))

    def rekeyed(self, n: int) -> None:
        if n:
            self.rekeyed_spans.inc((), n)

    def dead_letter(self, reason: str) -> None:
        self.dlq.inc((reason,))
