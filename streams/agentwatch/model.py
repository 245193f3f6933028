"""Plain data shared by every stage: the normalized span, its resource, and a detector finding.

Spans are slotted objects, not dicts: the decoder builds ~100k of them a second and the task state
reads a handful of fields from each. Nothing here knows about Kafka or Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Span kinds as the task state sees them (contract: agentwatch_spans_total{kind}).
OTHER, LLM, TOOL, AGENT = 0, 1, 2, 3
KIND_NAMES = ("other", "llm", "tool", "agent")


class Resource:
    """The resource attributes agentwatch reports; one object shared by all spans of a ResourceSpans."""

    __slots__ = ("deployment", "namespace", "pod", "service")

    def __init__(self, service: str = "", namespace: str = "", pod: str = "", deployment: str = "") -> None:
        self.service = service
        self.namespace = namespace
        self.pod = pod
        self.deployment = deployment

    def as_dict(self) -> dict[str, str]:
        """The contract's `resource` object (only the keys that are set)."""
        out = {}
        if self.namespace:
            out["k8s.namespace.name"] = self.namespace
        if self.pod:
            out["k8s.pod.name"] = self.pod
        if self.deployment:
            out["k8s.deployment.name"] = self.deployment
        return out

    def as_tuple(self) -> tuple[str, str, str, str]:
        return (self.service, self.namespace, self.pod, self.deployment)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and self.as_tuple() == other.as_tuple()

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __repr__(self) -> str:
        return f"Resource{self.as_tuple()!r}"


class Span:
    """One span reduced to what agentwatch uses. IDs are lowercase hex; times are Unix nanoseconds.

    Token fields are None when the span did not report them (0 is a real value). `args_hash` is the
    sha256 of the canonicalized tool arguments, None when the span carried no arguments.
    `evals` holds (evaluation name, score) pairs from span events or OpenInference attributes.
    `src` / `offset`: the record it came from (see the end of `__init__`).
    """

    __slots__ = (
        "agent_id",
        "agent_name",
        "args_hash",
        "cache_read_tokens",
        "cache_write_tokens",
        "conversation_id",
        "cost_usd",
        "end_ns",
        "error",
        "error_type",
        "evals",
        "input_tokens",
        "kind",
        "model",
        "name",
        "offset",
        "output_tokens",
        "parent_id",
        "provider",
        "reasoning_tokens",
        "resource",
        "span_id",
        "src",
        "start_ns",
        "tool_name",
        "total_tokens",
        "trace_id",
    )

    def __init__(self, trace_id: str, span_id: str, parent_id: str, name: str, start_ns: int, end_ns: int,
                 resource: Resource) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.resource = resource
        self.kind = OTHER
        self.error = False
        self.error_type: str | None = None
        self.agent_name: str | None = None
        self.agent_id: str | None = None
        self.conversation_id: str | None = None
        self.provider: str | None = None
        self.model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read_tokens: int | None = None
        self.cache_write_tokens: int | None = None  # part of input; priced apart (the cache-write rate)
        self.reasoning_tokens: int | None = None
        self.total_tokens: int | None = None
        self.cost_usd: float | None = None
        self.tool_name: str | None = None
        self.args_hash: str | None = None
        self.evals: list[tuple[str, float]] | None = None
        # Where the span was read (set by the worker's route stage): the source ID and the input offset of its
        # record. A task remembers the newest offset it absorbed per source, so a record read again after a
        # crash or rebalance is not folded twice (see `tasks.fresh`). Offset -1: unknown (replay, tests).
        self.src = -1
        self.offset = -1

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__ if getattr(self, k) is not None)
        return f"Span({fields})"


SPAN_FIELDS = tuple(f for f in Span.__slots__ if f != "resource")  # the compact forms' order (wire, tail-keep)


def span_from_row(resource: Resource, row: list[Any], first: int) -> Span:
    """The span whose SPAN_FIELDS values are `row[first:]` (the inverse of the compact forms)."""
    s = Span.__new__(Span)
    s.resource = resource
    for f, v in zip(SPAN_FIELDS, row[first:], strict=True):
        setattr(s, f, v)
    if s.evals is not None:
        s.evals = [tuple(e) for e in s.evals]
    return s


@dataclass(slots=True)
class Evaluation:
    """One `gen_ai.evaluation.result` from the logs signal, tied to its task by trace ID."""

    trace_id: str
    span_id: str
    name: str
    score: float
    ts_ns: int
    service: str = ""
    src: int = -1      # as on `Span`: the source ID (`logs_source(partition)`) and offset of its record
    offset: int = -1


def logs_source(partition: int) -> int:
    """The source ID of logs-topic partition `partition` (spans use their input partition, >= 0)."""
    return -2 - partition


@dataclass(slots=True)
class Finding:
    """What a detector reports; the alert sink turns it into the contract's alert JSON."""

    kind: str          # token_budget | cost_budget | tool_loop | stalled_task | cost_drift | ...
    severity: str      # critical | warning | info
    action: str        # terminate | review | notify
    rule: str          # policy rule that fired, e.g. "support-*/task_tokens"
    observed: float
    threshold: float
    message: str
    ts_ns: int         # event time the finding is about
    evidence: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    ordinal: int = 0   # nth firing of this kind+rule for the task: part of the deterministic alert_id
    # An all-clear: {alert_id, severity, action} of the alert this one ends (a stall that moved, a silent
    # agent heard again). Consumers end that alert; `notify` posts it to Alertmanager as resolved.
    resolves: dict[str, str] | None = None
