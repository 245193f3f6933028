"""Smoke tests of the real local stack: OTel SDK -> rotel -> tansu, and agentwatch's admin helpers on it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from agentwatch.local.broker import EmbeddedBroker, EmbeddedProcessError, free_port
from agentwatch.local.rotel import Rotel
from agentwatch.stream.kafka_admin import (
    BrokerUnreachable,
    ensure_topics,
    group_lag,
    topic_partitions,
    wait_for_broker,
)

pytestmark = pytest.mark.e2e


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _span_names(records) -> set[str]:
    names: set[str] = set()
    for r in records:
        td = TracesData.FromString(r.value)
        for rs in td.resource_spans:
            for ss in rs.scope_spans:
                names.update(s.name for s in ss.spans)
    return names


def test_broker_topics_and_partitions(broker: EmbeddedBroker) -> None:
    assert broker.bootstrap.startswith("127.0.0.1:") and broker.url == f"kafka://{broker.bootstrap}"
    wait_for_broker(broker.bootstrap, timeout_s=10)
    topic = _name("aw-smoke")
    assert topic_partitions(broker.bootstrap, [topic]) == {topic: None}
    # Asking about an absent topic must not have created it (tansu auto-creates on by-name metadata).
    assert topic_partitions(broker.bootstrap, [topic]) == {topic: None}

    assert ensure_topics(broker.bootstrap, {topic: 4}) == {topic: 4}
    assert topic_partitions(broker.bootstrap, [topic]) == {topic: 4}
    # Existing topics are left alone and reported as they are; compacted topics can be created too.
    compacted = _name("aw-compact")
    got = ensure_topics(broker.bootstrap, {topic: 8, compacted: 2}, configs={compacted: {"cleanup.policy": "compact"}})
    assert got == {topic: 4, compacted: 2}


def test_wait_for_broker_dead_port_is_bounded() -> None:
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(BrokerUnreachable, match=f"127.0.0.1:{port}"):
        wait_for_broker(f"127.0.0.1:{port}", timeout_s=2.0)
    assert time.monotonic() - t0 < 8.0  # the bound plus client teardown, with room for a slow machine


def test_group_lag(broker: EmbeddedBroker) -> None:
    topic, group = _name("aw-lag"), _name("aw-group")
    ensure_topics(broker.bootstrap, {topic: 2})
    assert group_lag(broker.bootstrap, group, [topic], timeout_s=15) == {(topic, 0): 0, (topic, 1): 0}

    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(5):  # one record per produce batch: tansu's high watermark is only right for those
        producer.produce(topic, b"v%d" % i, partition=0)
        assert producer.flush(10) == 0
    # Commit offset 2 for the group without joining it (assign + explicit commit).
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    finally:
        consumer.close()
    assert group_lag(broker.bootstrap, group, [topic], timeout_s=15) == {(topic, 0): 3, (topic, 1): 0}
    # A group with no commits counts from the earliest offset.
    assert group_lag(broker.bootstrap, _name("fresh"), [topic], timeout_s=15) == {(topic, 0): 5, (topic, 1): 0}
    assert group_lag(broker.bootstrap, group, ["no-such-topic"], timeout_s=15) == {}


def test_otel_sdk_to_rotel_to_kafka_proto(broker, rotel, otlp_tracer_provider, consume: Callable) -> None:
    assert ensure_topics(broker.bootstrap, {"otlp_spans": 4})["otlp_spans"] >= 1
    tracer = otlp_tracer_provider.get_tracer("agentwatch.e2e")
    prefix = _name("chat")
    want = {f"{prefix}-{i}" for i in range(50)}
    for name in sorted(want):
        with tracer.start_as_current_span(name) as span:
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.usage.input_tokens", 120)
    assert otlp_tracer_provider.force_flush(30_000)

    # Other tests may share the topic on this session broker: read until all of ours were seen.
    records = consume(broker.bootstrap, "otlp_spans", timeout_s=60, until=lambda rs: want <= _span_names(rs))
    assert want <= _span_names(records), f"missing {len(want - _span_names(records))} of 50 spans"
    # rotel writes unkeyed records (b'' rather than null, as observed) and no headers.
    assert all(r.key in (b"", None) for r in records)
    ours = [r for r in records if prefix.encode() in r.value]
    span = next(
        s
        for r in ours
        for rs in TracesData.FromString(r.value).resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
        if s.name.startswith(prefix)
    )
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert attrs["gen_ai.request.model"].string_value == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"].int_value == 120


def test_rotel_json_format_is_a_top_level_array(broker, rotel_factory, tracer_provider_factory, consume) -> None:
    topic = _name("otlp_spans_json")
    ensure_topics(broker.bootstrap, {topic: 2})
    collector = rotel_factory(topic=topic, fmt="json")
    provider = tracer_provider_factory(collector)
    with provider.get_tracer("agentwatch.e2e").start_as_current_span("json-span") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
    assert provider.force_flush(30_000)

    records = consume(broker.bootstrap, topic, n=1, timeout_s=60)
    assert len(records) == 1
    doc = json.loads(records[0].value)
    # Observed: rotel's JSON value is a bare array of ResourceSpans, not {"resourceSpans": [...]} as the
    # Collector's otlp_json writes; trace/span IDs are hex strings.
    assert isinstance(doc, list)
    spans = [s for rs in doc for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert [s["name"] for s in spans] == ["json-span"]
    assert len(spans[0]["traceId"]) == 32 and int(spans[0]["traceId"], 16)
    assert len(spans[0]["spanId"]) == 16


def test_broker_port_clash_is_reported(broker: EmbeddedBroker, tmp_path) -> None:
    # A fixed port already taken: no retry, a clear error with the log tail, and no false "ready" from the
    # broker that really owns the port.
    clash = EmbeddedBroker(port=broker.port, log_dir=tmp_path, start_timeout_s=30)
    with pytest.raises(EmbeddedProcessError, match="port in use"):
        clash.start()
    clash.stop()
    assert not clash.running


def test_rotel_bad_flag_is_reported(broker: EmbeddedBroker, tmp_path) -> None:
    bad = Rotel(broker.bootstrap, extra_args=["--no-such-flag"], log_dir=tmp_path, start_timeout_s=30)
    with pytest.raises(EmbeddedProcessError, match=r"(?s)exited with code.*no-such-flag"):
        bad.start()
    bad.stop()


def test_rotel_extra_args_replace_defaults(broker, rotel_factory, tracer_provider_factory, consume) -> None:
    # rotel rejects a repeated flag; a flag in extra_args replaces ours. 50 spans, batches of 25 -> 2 records.
    topic = _name("otlp_spans_small")
    ensure_topics(broker.bootstrap, {topic: 1})
    collector = rotel_factory(topic=topic, extra_args=("--traces-batch-max-size", "25"))
    provider = tracer_provider_factory(collector)
    tracer = provider.get_tracer("agentwatch.e2e")
    for i in range(50):
        with tracer.start_as_current_span(f"small-{i}"):
            pass
    assert provider.force_flush(30_000)
    want = {f"small-{i}" for i in range(50)}
    records = consume(broker.bootstrap, topic, timeout_s=60, until=lambda rs: want <= _span_names(rs))
    assert want <= _span_names(records)
    assert len(records) >= 2


def test_rotel_drops_requests_over_twice_the_batch_size(broker, rotel_factory, tracer_provider_factory) -> None:
    # Observed with rotel 0.0.1a15: one OTLP request holding more than 2 x --traces-batch-max-size spans is
    # dropped whole ("Too many batch items split"), while the sender is told it succeeded. With our 1024 that
    # is any request over 2048 spans: senders must keep requests smaller (the Python SDK sends <= 512).
    topic = _name("otlp_spans_drop")
    ensure_topics(broker.bootstrap, {topic: 1})
    collector = rotel_factory(topic=topic, extra_args=("--traces-batch-max-size", "10"))
    provider = tracer_provider_factory(collector)
    tracer = provider.get_tracer("agentwatch.e2e")
    for i in range(21):
        with tracer.start_as_current_span(f"drop-{i}"):
            pass
    assert provider.force_flush(30_000)  # "success"
    deadline = time.monotonic() + 30
    while "dropping data" not in collector.log_tail() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "dropping data" in collector.log_tail()
    assert topic_partitions(broker.bootstrap, [topic]) == {topic: 1}
