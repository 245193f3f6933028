"""Prometheus metrics (contract §3) with bounded label values; implements the engine's `Observer`.

Bounds: each label keeps at most `max_label_values` distinct values; later values are reported as
`__other__` and counted in `agentwatch_label_overflow_total{label}`. No label ever carries a task,
trace, span, conversation or pod ID. Children are cached per raw label tuple, so the hot path is a
dict lookup and an `inc` (~1 µs), and the engine calls it per task per batch, not per span.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

OTHER = "__other__"
_TOKEN_TYPES = ("input", "output", "cache_read", "reasoning")
_CHILD_CACHE_MAX = 100_000

_TOKEN_BUCKETS = (100, 1e3, 5e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 5e6)
_COST_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 50)
_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
_TOOL_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 250)
_SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


# Labels whose values come from span data (unbounded in principle). The others (kind, status,
# severity, token_type, outcome, reason, label) are enumerations written by agentwatch itself.
OPEN_LABELS = frozenset({"agent", "service", "namespace", "model", "provider", "tool", "evaluation"})


class LabelCap:
    """Keeps at most `limit` distinct values per open label name (shared by every metric using it, so an
    agent is either itself or `__other__` everywhere); the rest become `__other__`."""

    def __init__(self, limit: int, overflow: Counter) -> None:
        self.limit = limit
        self.seen: dict[str, set[str]] = {}
        self._overflow = overflow

    def __call__(self, label: str, value: str) -> str:
        if label not in OPEN_LABELS:
            return value
        values = self.seen.setdefault(label, set())
        if value in values:
            return value
        if len(values) < self.limit:
            values.add(value)
            return value
        self._overflow.labels(label).inc()
        return OTHER


class Metrics:
    """All agentwatch metrics in one registry (one per worker process)."""

    def __init__(self, max_label_values: int = 200, registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # `*_created` series double the exposition and no dashboard reads them
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.label_overflow = Counter("agentwatch_label_overflow_total",
                                      "Label values replaced by __other__ (cap AGENTWATCH_MAX_LABEL_VALUES)",
                                      ["label"], registry=r)
        self.cap = LabelCap(max_label_values, self.label_overflow)
        self.records = Counter("agentwatch_records_total", "Input records by decode status", ["status"], registry=r)
        self.spans_total = Counter("agentwatch_spans_total", "Spans processed by kind", ["kind"], registry=r)
        self.tokens = Counter("agentwatch_gen_ai_tokens_total", "LLM tokens", ["agent", "model", "token_type"],
                              registry=r)
        self.cost = Counter("agentwatch_gen_ai_cost_usd_total", "LLM cost in USD", ["agent", "model"], registry=r)
        self.calls = Counter("agentwatch_gen_ai_calls_total", "LLM calls", ["agent", "model", "provider", "status"],
                             registry=r)
        self.tool_calls = Counter("agentwatch_tool_calls_total", "Tool calls", ["agent", "tool", "status"], registry=r)
        self.tasks = Counter("agentwatch_tasks_total", "Tasks closed by outcome", ["agent", "outcome"], registry=r)
        self.task_tokens = Histogram("agentwatch_task_tokens", "Tokens per task", ["agent"],
                                     buckets=_TOKEN_BUCKETS, registry=r)
        self.task_cost = Histogram("agentwatch_task_cost_usd", "Cost per task (USD)", ["agent"],
                                   buckets=_COST_BUCKETS, registry=r)
        self.task_duration = Histogram("agentwatch_task_duration_seconds", "Task duration", ["agent"],
                                       buckets=_DURATION_BUCKETS, registry=r)
        self.task_tools = Histogram("agentwatch_task_tool_calls", "Tool calls per task", ["agent"],
                                    buckets=_TOOL_BUCKETS, registry=r)
        self.alerts = Counter("agentwatch_alerts_total", "Alerts emitted", ["agent", "kind", "severity"], registry=r)
        self.active_tasks = Gauge("agentwatch_active_tasks", "Open tasks held by this worker", registry=r)
        self.evaluation = Histogram("agentwatch_evaluation_score", "Evaluation scores", ["agent", "evaluation"],
                                    buckets=_SCORE_BUCKETS, registry=r)
        self.dlq = Counter("agentwatch_dlq_total", "Records sent to the dead-letter topic", ["reason"], registry=r)
        self.lag = Gauge("agentwatch_processing_lag_seconds", "Now minus the newest processed span end time",
                         registry=r)
        # extensions (README "Metrics")
        self.paused_inputs = Gauge("agentwatch_input_partitions_paused",
                                   "Input partitions paused: read more than AGENTWATCH_MAX_INPUT_SKEW_S of event time "
                                   "ahead of the slowest", registry=r)
        self.suppressed = Counter("agentwatch_alerts_suppressed_total",
                                  "Alerts over the per-agent-kind rate bound (still listed in task summaries)",
                                  ["agent", "kind"], registry=r)
        self.late = Counter("agentwatch_late_spans_total", "Spans that arrived after their task closed", registry=r)
        self.duplicates = Counter("agentwatch_duplicate_spans_total",
                                  "Spans read again after a crash or rebalance, recognised and not counted twice",
                                  registry=r)
        self.rekeyed_spans = Counter("agentwatch_rekeyed_spans_total",
                                     "Spans sent through the re-key topic (their task's home is another worker's)",
                                     registry=r)
        # Tail-keep (keep.py). status: kept (published to agentwatch.flagged; reason alert | low_score), truncated
        # (published without its middle spans), lost (it alerted, but its buffer had been dropped), dropped (a
        # buffer let go; reason worker_bytes: the per-worker bound, record_size: its OTLP over the record limit).
        self.keep_tasks = Counter("agentwatch_tail_keep_tasks_total", "Tasks whose spans tail-keep kept or dropped",
                                  ["status", "reason"], registry=r)
        self.keep_bytes = Counter("agentwatch_tail_keep_bytes_total", "Compact span bytes tail-keep kept or dropped",
                                  ["status", "reason"], registry=r)
        self.dormant_tasks = Gauge("agentwatch_dormant_tasks",
                                   "Open tasks of this worker held compressed while idle (of agentwatch_active_tasks)",
                                   registry=r)
        self.keep_buffer = Gauge("agentwatch_tail_keep_buffer_bytes",
                                 "Compact span bytes buffered for the open tasks of this worker", registry=r)
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= _CHILD_CACHE_MAX:
                self._children.clear()
            names = metric._labelnames
            child = self._children[key] = metric.labels(*(self.cap(n, v) for n, v in zip(names, values, strict=True)))
        return child

    # -- Observer -------------------------------------------------------------------------------
    def spans(self, by_kind: list[int]) -> None:
        for kind, n in zip(("other", "llm", "tool", "agent"), by_kind, strict=True):
            if n:
                self._child(self.spans_total, kind).inc(n)

    def llm(self, agent: str, model: str, provider: str, status: str, usage: list[float]) -> None:
        calls, i, o, c, r, cost = usage
        self._child(self.calls, agent, model, provider, status).inc(calls)
        for token_type, n in zip(_TOKEN_TYPES, (i, o, c, r), strict=True):
            if n:
                self._child(self.tokens, agent, model, token_type).inc(n)
        if cost:
            self._child(self.cost, agent, model).inc(cost)

    def tool(self, agent: str, tool: str, status: str, n: int) -> None:
        self._child(self.tool_calls, agent, tool, status).inc(n)

    def task_closed(self, summary: dict[str, Any]) -> None:
        agent = summary["agent"]
        self._child(self.tasks, agent, summary["outcome"]).inc()
        self._child(self.task_tokens, agent).observe(summary["tokens"]["total"])
        if summary["cost_usd"] is not None:
            self._child(self.task_cost, agent).observe(summary["cost_usd"])
        self._child(self.task_duration, agent).observe(summary["duration_s"])
        self._child(self.task_tools, agent).observe(summary["tool_calls"])
        for name, score in summary["scores"].items():
            self.evaluation_score(agent, name, score)

    def evaluation_score(self, agent: str, evaluation: str, score: float) -> None:
        self._child(self.evaluation, agent, evaluation).observe(score)

    def alert(self, alert: dict[str, Any]) -> None:
        self._child(self.alerts, alert["agent"], alert["kind"], alert["severity"]).inc()

    def alert_suppressed(self, agent: str, kind: str) -> None:
        self._child(self.suppressed, agent, kind).inc()

    def late_spans(self, n: int) -> None:
        self.late.inc(n)

    def duplicate_spans(self, n: int) -> None:
        self.duplicates.inc(n)

    def tail_keep(self, status: str, reason: str, nbytes: int) -> None:
        self._child(self.keep_tasks, status, reason).inc()
        if nbytes:
            self._child(self.keep_bytes, status, reason).inc(nbytes)

    # -- shell-side ---------------------------------------------------------------------------------
    def record(self, status: str) -> None:
        self._child(self.records, status).inc()

    def rekeyed(self, n: int) -> None:
        if n:
            self.rekeyed_spans.inc(n)

    def dead_letter(self, reason: str) -> None:
        self._child(self.dlq, reason).inc()
