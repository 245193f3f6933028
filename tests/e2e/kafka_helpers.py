"""Helpers for broker-backed tests that are not fixtures: read a topic, build an OTel SDK pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


class Record(NamedTuple):
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None
    partition: int
    offset: int


def _partitions(consumer: Consumer, topic: str, deadline: float) -> list[int]:
    # Whole-cluster metadata: asking tansu about one topic by name would create it.
    while True:
        md = consumer.list_topics(timeout=max(min(deadline - time.monotonic(), 5.0), 0.1))
        t = md.topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            return sorted(t.partitions)
        if time.monotonic() >= deadline:
            raise AssertionError(f"topic {topic!r} does not exist (topics: {sorted(md.topics)})")
        time.sleep(0.1)


def consume(
    bootstrap: str,
    topic: str,
    n: int | None = None,
    timeout_s: float = 30.0,
    *,
    until: Callable[[list[Record]], bool] | None = None,
) -> list[Record]:
    """Read `topic` from the beginning of every partition until `n` records were read (or `until(records)`
    is true), or `timeout_s` passed; returns what was read (the caller asserts on it).

    Uses manual `assign()` and no commits: a consumer-group join takes seconds on tansu; assign reads at once.
    """
    if n is None and until is None:
        raise ValueError("give n or until")
    deadline = time.monotonic() + timeout_s
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "agentwatch-e2e-reader",  # required by librdkafka, unused with assign()
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "allow.auto.create.topics": False,
        }
    )
    records: list[Record] = []
    try:
        parts = _partitions(consumer, topic, deadline)
        consumer.assign([TopicPartition(topic, p, -2) for p in parts])  # -2 = OFFSET_BEGINNING
        while time.monotonic() < deadline:
            if (n is not None and len(records) >= n) or (until is not None and until(records)):
                break
            batch = consumer.consume(num_messages=500, timeout=min(0.5, max(deadline - time.monotonic(), 0.01)))
            for m in batch:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError(f"consume {topic}: {err}")
                records.append(Record(m.key(), m.value(), m.headers(), m.partition(), m.offset()))
    finally:
        consumer.close()
    return records if n is None else records[:n]


def make_tracer_provider(otlp_http_endpoint: str, service_name: str = "agentwatch-e2e") -> TracerProvider:
    """An OTel SDK TracerProvider exporting OTLP/HTTP protobuf to `otlp_http_endpoint` via a BatchSpanProcessor.

    Not installed globally: each test owns its provider and must shut it down.
    """
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=f"{otlp_http_endpoint}/v1/traces", timeout=10)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    return provider


def wait_until(cond: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> None:
    """Poll `cond` until true; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def produce_each(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Produce `values` in order, one record per batch: tansu misreports the end of multi-record batches."""
    p = Producer({"bootstrap.servers": bootstrap})
    for v in values:
        p.produce(topic, v, key=b"k")
        p.flush(10)
