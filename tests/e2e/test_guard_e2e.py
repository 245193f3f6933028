"""agentwatch.guard against the session's broker: a guarded agent is stopped at its next call after the
terminate alert lands on the topic, its pod's health flips and comes back, and with no broker it fails open."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Producer
from kafka_helpers import wait_until
from opentelemetry.sdk.trace import TracerProvider

from agentwatch.guard import Guard, TaskStopped
from agentwatch.local.broker import EmbeddedBroker, free_port
from agentwatch.stream.kafka_admin import ensure_topics

pytestmark = pytest.mark.e2e


def test_a_guarded_agent_stops_at_its_next_call_and_its_health_comes_back(broker: EmbeddedBroker) -> None:
    topic = f"alerts-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, {topic: 2})
    guard = Guard.start(broker.bootstrap, topic, service="looping-bot")
    try:
        wait_until(lambda: not guard.blind, 30, "the guard to follow the topic")
        tracer = TracerProvider().get_tracer("agent")
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        calls_after_alert, sent_at, stopped_at = 0, None, None
        with tracer.start_as_current_span("invoke_agent looping-bot") as root:
            trace = format(root.get_span_context().trace_id, "032x")
            alert = {"kind": "tool_loop", "action": "terminate", "severity": "critical", "trace_id": trace,
                     "service": "looping-bot", "resource": {}, "message": "search x5 with the same arguments"}
            try:
                for i in range(400):  # one tool call every 50 ms; the loop alert lands after the 5th
                    with guard.guarded():
                        if sent_at is not None:
                            calls_after_alert += 1
                        time.sleep(0.05)
                    if i == 4:
                        producer.produce(topic, json.dumps(alert).encode(), key=trace.encode())
                        producer.flush(10)
                        sent_at = time.monotonic()
                        assert guard.healthy()  # not yet read
                        wait_until(lambda: not guard.healthy(), 10, "the pod to turn unhealthy")
            except TaskStopped as exc:
                stopped_at = time.monotonic()
                assert exc.alert["kind"] == "tool_loop"
        assert stopped_at is not None, "the agent ran to the end"
        # the alert was read before healthy() flipped, so the very next guarded call raised
        assert calls_after_alert <= 1, calls_after_alert
        assert guard.healthy()  # the task stopped: the pod is healthy again
        other = {**alert, "trace_id": "f" * 32, "service": "another-bot"}
        producer.produce(topic, json.dumps(other).encode())
        producer.flush(10)
        time.sleep(1.0)
        guard.check("f" * 32)  # another service's alert stops nothing here
    finally:
        guard.close()


def test_without_a_broker_the_guard_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    guard = Guard.start(f"127.0.0.1:{free_port()}", "agentwatch.alerts", service="bot",
                        kafka={"socket.connection.setup.timeout.ms": 1000})
    try:
        time.sleep(3.0)
        assert guard.blind and guard.healthy()
        guard.check("1" * 32)  # runs on
        assert any("guard is blind" in r.getMessage() for r in caplog.records)
    finally:
        guard.close()
