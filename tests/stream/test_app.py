"""The Faust adapter's own decisions, without a broker."""

import asyncio

from aiokafka.structs import TopicPartition
from faust.types import TP

from agentwatch.policy import Policy
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.app import Worker, fetch_pauser
from agentwatch.stream.http import Health
from agentwatch.stream.topology import INTERNAL_TOPIC

S = 10**9


def test_no_tick_between_a_revocation_and_the_next_assignment(tmp_path) -> None:
    """A task closed in that window may be another worker's by then: it would be adopted open and closed twice."""
    health = Health()
    worker = Worker(Settings(brokers="kafka://127.0.0.1:1", data_dir=str(tmp_path)), Policy(), Metrics(10), health,
                    input_partitions=1)
    ticks: list[int] = []
    worker.core.tick = ticks.append  # type: ignore[method-assign]
    worker._caught_up = list  # type: ignore[method-assign]  # no consumer here
    worker._align = lambda: None  # type: ignore[method-assign]
    health.ready = False
    asyncio.run(worker._tick())
    assert ticks == [] and health.live()[0]
    health.ready = True
    asyncio.run(worker._tick())
    assert len(ticks) == 1


class _Consumer:
    """What `_align` uses of Faust's consumer, and of the aiokafka consumer in its thread."""

    def __init__(self, highwater: dict[int, int]) -> None:
        self.hw = highwater
        self.paused: set[int] = set()
        self._thread = self  # Faust's consumer thread: its aiokafka consumer and loop
        self._consumer = self.thread_loop = self

    def assignment(self) -> set[TP]:
        return {TP("otlp_spans", p) for p in self.hw} | {TP(INTERNAL_TOPIC, 0)}

    def highwater(self, tp: TP) -> int:
        return self.hw[tp.partition]

    def call_soon_threadsafe(self, fn) -> None:
        fn()

    def pause(self, tp: TopicPartition) -> None:
        assert isinstance(tp, TopicPartition) and tp.topic == "otlp_spans"  # aiokafka checks the type
        self.paused.add(tp.partition)

    def resume(self, tp: TopicPartition) -> None:
        assert isinstance(tp, TopicPartition)
        self.paused.discard(tp.partition)


def test_input_partitions_read_too_far_ahead_are_paused_until_the_slowest_catches_up(tmp_path) -> None:
    metrics = Metrics(10)
    worker = Worker(Settings(brokers="kafka://127.0.0.1:1", data_dir=str(tmp_path), max_input_skew_s=30), Policy(),
                    metrics, Health(), input_partitions=3)
    consumer = _Consumer({0: 100, 1: 100, 2: 100})
    worker.app.consumer = consumer
    worker._pauser = fetch_pauser(consumer)
    worker.core.newest = {0: 1000 * S, 1: 1020 * S, 2: 1100 * S}
    worker._next_offset = {0: 10, 1: 10, 2: 10}
    worker._align()
    assert consumer.paused == {2} and metrics.paused_inputs._value.get() == 1
    worker._next_offset[0] = 100  # partition 0 read to its end: partition 1 is the slowest now
    worker._align()
    assert consumer.paused == {2}
    worker.core.newest[1] = 1080 * S
    worker._align()
    assert consumer.paused == set() and metrics.paused_inputs._value.get() == 0


def test_without_the_consumer_internals_nothing_is_paused(caplog) -> None:
    assert fetch_pauser(object()) is None
    assert "no watermark alignment" in caplog.text


def test_a_paused_partition_is_never_read_to_its_end_nor_at_once_after_its_resume(tmp_path) -> None:
    """Its high watermark is the one its last fetch before the pause reported: the records fetched then can bring
    it there while more wait. Counted as read to its end, its heartbeat would move the clock past tasks whose
    spans are still unread (they would close early and their spans come late)."""
    worker = Worker(Settings(brokers="kafka://127.0.0.1:1", data_dir=str(tmp_path), max_input_skew_s=30), Policy(),
                    Metrics(10), Health(), input_partitions=2)
    consumer = _Consumer({0: 100, 1: 50})
    worker.app.consumer = consumer
    worker._pauser = fetch_pauser(consumer)
    worker.core.newest = {0: 1000 * S, 1: 1100 * S}
    worker._next_offset = {0: 10, 1: 40}
    worker._align()
    assert consumer.paused == {1}
    worker._next_offset[1] = 50  # the records fetched before the pause: routed up to the stale high watermark
    worker._last_read = {0: 0.0, 1: 0.0}  # both quiet for long
    assert worker._caught_up() == []
    worker._next_offset[0] = 100  # partition 0 read to its end: partition 1 is resumed
    worker._align()
    assert consumer.paused == set()
    assert worker._caught_up() == [0]  # 1 waits QUIET_S for a fetch with its real high watermark
