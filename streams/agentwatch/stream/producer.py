"""Every record the worker writes goes through one librdkafka producer (confluent-kafka), flushed before
each offset commit.

Why not Faust's producer: under load a Faust send costs the event loop ~0.1 ms (futures, aiokafka's
sender, one produce request per batch), and the worker writes ~30 records per 100-span input record
(task summaries, task-state changelog). librdkafka's `produce()` is a few microseconds of Python and
batches in its own thread. The Faust tables are still recovered by Faust: we write their changelog
topics ourselves, with the key, value and partition Faust's own writes would have.

Delivery: Faust awaits its producer's `flush()` between choosing the offsets to commit and committing
them; the worker chains `wait_delivered()` to it (`app.Worker`), so every record produced for those
offsets is acknowledged first, while the event loop keeps running. A failed or unacknowledged record
raises `DeliveryFailed`: the commit does not happen, the worker stops and its input is processed again
after restart (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

# Bounded buffer: produce() blocks (serving delivery reports) once this much is waiting for the broker.
QUEUE_MAX_KBYTES = 65_536
QUEUE_MAX_MESSAGES = 100_000
FULL_QUEUE_POLL_S = 0.05
WAIT_POLL_S = 0.002

log = logging.getLogger("agentwatch.producer")


class DeliveryFailed(RuntimeError):
    """Records could not be written to Kafka: input offsets must not be committed."""


class OutputProducer:
    """A librdkafka producer with a delivery barrier. `extra` adds or overrides librdkafka settings."""

    def __init__(self, bootstrap: str, security: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None, flush_timeout_s: float = 30.0) -> None:
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            # Per-partition order even across retries, and no duplicates from them: a task skips a record at or
            # below the newest offset it absorbed from that source, so a reordered re-key message would be lost.
            "enable.idempotence": True,
            "partitioner": "murmur2_random",  # keyed records land where Kafka's Java client (and Faust) put them
            "linger.ms": 20,
            # Reports for failed records only: a Python callback per acknowledged record was ~50k calls per
            # 2,000 input records (`len(producer)` still counts what is in flight, for `wait_delivered`).
            "delivery.report.only.error": True,
            "queue.buffering.max.kbytes": QUEUE_MAX_KBYTES,
            "queue.buffering.max.messages": QUEUE_MAX_MESSAGES,
            "message.max.bytes": 8_388_608,
            "client.id": "agentwatch-worker",
            "logger": log,  # librdkafka's own log lines become the worker's JSON logs, not raw stderr
            **(security or {}),
            **(extra or {}),
        }
        self._producer = Producer(conf)
        self.flush_timeout_s = flush_timeout_s
        self._failures = 0
        self._first_failure = ""

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            if not self._failures:
                self._first_failure = f"{msg.topic()}[{msg.partition()}]: {err.str()}"
            self._failures += 1

    def send(self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None,
             headers: Sequence[tuple[str, bytes]] | None = None) -> None:
        """Queue one record (value None is a tombstone). Blocks only while the bounded queue is full."""
        kwargs: dict[str, Any] = {"key": key, "on_delivery": self._on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = list(headers)
        while True:
            try:
                self._producer.produce(topic, value, **kwargs)
                return
            except BufferError:
                self._producer.poll(FULL_QUEUE_POLL_S)

    def poll(self) -> None:
        """Serve delivery reports without waiting."""
        self._producer.poll(0)

    def _check_failures(self) -> None:
        """Raise `DeliveryFailed` if a record failed since the last check."""
        failures, self._failures = self._failures, 0
        if failures:
            raise DeliveryFailed(f"{failures} record(s) not written, first: {self._first_failure}")

    async def wait_delivered(self) -> None:
        """Return once everything produced so far is acknowledged, letting the event loop run meanwhile;
        raise `DeliveryFailed` if any record failed or the broker did not acknowledge within
        `flush_timeout_s`."""
        producer = self._producer
        deadline = time.monotonic() + self.flush_timeout_s
        producer.poll(0)
        while len(producer):  # queued + in flight
            if time.monotonic() > deadline:
                self._check_failures()
                raise DeliveryFailed(f"{len(producer)} record(s) not acknowledged by the broker "
                                     f"after {self.flush_timeout_s:.0f}s")
            await asyncio.sleep(WAIT_POLL_S)
            producer.poll(0)
        self._check_failures()
