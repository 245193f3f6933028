"""The worker's output producer fails loudly, never silently, when Kafka does not take its records."""

import asyncio
import time

import pytest

from agentwatch.local.broker import free_port
from agentwatch.stream.producer import DeliveryFailed, OutputProducer


def test_unacknowledged_records_stop_the_commit() -> None:
    out = OutputProducer(f"127.0.0.1:{free_port()}", flush_timeout_s=0.5)  # nothing listens there
    out.send("agentwatch.tasks", b"{}", key=b"agent")
    with pytest.raises(DeliveryFailed, match="1 record"):
        asyncio.run(out.wait_delivered())


def test_failed_records_stop_the_commit() -> None:
    out = OutputProducer(f"127.0.0.1:{free_port()}", extra={"message.timeout.ms": 200}, flush_timeout_s=10)
    out.send("agentwatch.tasks", b"{}", key=b"agent")
    with pytest.raises(DeliveryFailed, match="not written"):
        asyncio.run(out.wait_delivered())


def test_nothing_to_deliver_returns_at_once() -> None:
    asyncio.run(OutputProducer(f"127.0.0.1:{free_port()}").wait_delivered())


def test_a_full_buffer_blocks_the_sender_until_records_leave_it() -> None:
    """The bound: with room for one record and no broker, the second send waits until the first one
    times out (then fails the commit), instead of growing the queue."""
    out = OutputProducer(f"127.0.0.1:{free_port()}", flush_timeout_s=10,
                         extra={"queue.buffering.max.messages": 1, "message.timeout.ms": 300})
    out.send("agentwatch.tasks", b"1")
    t = time.monotonic()
    out.send("agentwatch.tasks", b"2")
    assert time.monotonic() - t >= 0.2
    with pytest.raises(DeliveryFailed, match="not written"):
        asyncio.run(out.wait_delivered())
