"""`agentwatch.guard`: stop, inside the agent, a task that agentwatch says must stop.

An agent imports it (it needs only `confluent-kafka` and `opentelemetry-api`, nothing else of agentwatch):

    guard = Guard.start(brokers="kafka:9092", service="support-bot")   # follows agentwatch.alerts
    ...
    guard.check()                 # raises TaskStopped if the current trace got an `action: terminate` alert
    with guard.guarded(): ...     # check before and after a tool or model call
    @guard.guarded()              # the same as a decorator
    provider.add_span_processor(GuardSpanProcessor(guard))   # opt in: the next span of such a trace raises
    guard.healthy()               # False while this pod has a looping or stalled task: a liveness probe
                                  # (until the task is stopped, its stall's all-clear arrives, or 10 min pass)

It reads the alerts topic without a consumer group (every pod reads every partition, from the end, and
commits nothing), keeps only alerts for its own `service.name` (and pod, if given), and remembers at most
`max_traces` traces (oldest forgotten first). It fails open: while Kafka is unreachable the agent runs on,
`guard.blind` is True and the log says so once. `GuardState` is the pure part (tested without Kafka).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("agentwatch.guard")

UNHEALTHY_KINDS = frozenset({"tool_loop", "stalled_task"})


class TaskStopped(RuntimeError):
    """agentwatch asked for this task to stop (`alert` is the alert JSON that said so)."""

    def __init__(self, alert: Mapping[str, Any]) -> None:
        super().__init__(f"agentwatch stopped trace {alert.get('trace_id')}: {alert.get('kind')} "
                         f"({alert.get('message') or alert.get('rule')})")
        self.alert = dict(alert)


class GuardState:
    """Which traces must stop and which make this pod unhealthy. Pure; `now` is passed in (monotonic s)."""

    def __init__(self, service: str | None = None, pod: str | None = None, max_traces: int = 10_000,
                 unhealthy_ttl_s: float = 600.0) -> None:
        self.service, self.pod = service, pod
        self.max_traces, self.unhealthy_ttl_s = max_traces, unhealthy_ttl_s
        self.stop: OrderedDict[str, dict[str, Any]] = OrderedDict()     # trace ID -> terminate alert
        self.unhealthy: OrderedDict[str, float] = OrderedDict()         # trace ID -> when it was flagged

    def mine(self, alert: Mapping[str, Any]) -> bool:
        if self.service and alert.get("service") != self.service:
            return False
        resource = alert.get("resource") if isinstance(alert.get("resource"), dict) else {}
        return not self.pod or resource.get("k8s.pod.name") == self.pod

    def feed(self, alert: Mapping[str, Any], now: float) -> None:
        trace = alert.get("trace_id")
        if not isinstance(trace, str) or not trace or not self.mine(alert):
            return
        if alert.get("resolves"):  # an all-clear: the stalled task moved again or closed
            self.unhealthy.pop(trace, None)
            return
        if alert.get("action") == "terminate":
            self._put(self.stop, trace, dict(alert))
        if alert.get("kind") in UNHEALTHY_KINDS:
            self._put(self.unhealthy, trace, now)

    def _put(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_traces:
            table.popitem(last=False)

    def check(self, trace_id: str | None) -> None:
        """Raise TaskStopped if `trace_id` must stop; the task stopped, it no longer makes the pod unhealthy."""
        if trace_id is None:
            return
        alert = self.stop.get(trace_id)
        if alert is not None:
            self.unhealthy.pop(trace_id, None)
            raise TaskStopped(alert)

    def healthy(self, now: float) -> bool:
        while self.unhealthy:
            trace, since = next(iter(self.unhealthy.items()))
            if now - since < self.unhealthy_ttl_s:
                return False
            del self.unhealthy[trace]
        return True


def current_trace_id() -> str | None:
    """The current OTel span's trace ID (32 hex), or None outside a trace."""
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


class Guard:
    """`GuardState` fed by a background thread that follows the alerts topic."""

    def __init__(self, state: GuardState) -> None:
        self.state = state
        self.blind = True           # until the topic's partitions are assigned
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, brokers: str, topic: str = "agentwatch.alerts", *, service: str | None = None,
              pod: str | None = None, max_traces: int = 10_000, kafka: Mapping[str, Any] | None = None) -> Guard:
        """Follow `topic` on `brokers` (host:port[,host:port]; `kafka` adds librdkafka settings: TLS, SASL)."""
        guard = cls(GuardState(service, pod, max_traces))
        guard._thread = threading.Thread(target=guard._follow, args=(brokers, topic, dict(kafka or {})),
                                         name="agentwatch-guard", daemon=True)
        guard._thread.start()
        return guard

    def feed(self, alert: Mapping[str, Any]) -> None:
        with self._lock:
            self.state.feed(alert, time.monotonic())

    def check(self, trace_id: str | None = None) -> None:
        """Raise TaskStopped if the given (default: the current) trace must stop."""
        with self._lock:
            self.state.check(trace_id or current_trace_id())

    def healthy(self) -> bool:
        with self._lock:
            return self.state.healthy(time.monotonic())

    def guarded(self) -> _Guarded:
        """Context manager and decorator: check() before and after the block or call."""
        return _Guarded(self)

    def close(self, timeout_s: float = 5.0) -> None:
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _follow(self, brokers: str, topic: str, kafka: dict[str, Any]) -> None:
        from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

        consumer = Consumer({"bootstrap.servers": brokers, "group.id": "agentwatch-guard",  # never joined
                             "enable.auto.commit": False, "allow.auto.create.topics": False, "logger": log, **kafka})
        warned = False
        try:
            while not self._closing.is_set():
                if self.blind:
                    try:
                        meta = consumer.list_topics(timeout=2.0).topics.get(topic)
                    except KafkaException as exc:
                        meta = None
                        reason = exc.args[0].str() if exc.args else str(exc)
                    else:
                        reason = f"topic {topic!r} not found"
                    if meta is None or meta.error is not None or not meta.partitions:
                        if not warned:
                            log.warning("agentwatch guard is blind (%s): tasks run unguarded until it can read "
                                        "%s", reason, topic)
                            warned = True
                        self._closing.wait(2.0)
                        continue
                    consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in meta.partitions])
                    self.blind, warned = False, False
                    log.info("agentwatch guard follows %s (%d partitions)", topic, len(meta.partitions))
                for m in consumer.consume(100, timeout=0.2):
                    if m.error() is not None:
                        continue
                    try:
                        alert = json.loads(m.value() or b"")
                    except ValueError:
                        continue
                    if isinstance(alert, dict):
                        self.feed(alert)
        finally:
            consumer.close()


class _Guarded(contextlib.ContextDecorator):
    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def __enter__(self) -> _Guarded:
        self.guard.check()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.guard.check()


try:  # the processor is for agents that run the OTel SDK; the rest of the guard needs only the API
    from opentelemetry.sdk.trace import SpanProcessor as _SpanProcessor
except ImportError:  # pragma: no cover
    _SpanProcessor = object  # type: ignore[assignment,misc]


class GuardSpanProcessor(_SpanProcessor):
    """An OTel SDK SpanProcessor: starting a span in a trace that must stop raises TaskStopped, so the next
    instrumented call (model, tool, HTTP) of a terminated task does not happen."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.guard.check(format(span.get_span_context().trace_id, "032x"))


__all__ = ["Guard", "GuardSpanProcessor", "GuardState", "TaskStopped", "current_trace_id"]
