"""In place, a task lives where the Collector put its trace: the partition its exporter hashes the key to."""

import random

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from agentwatch.demo.synth import Step, Task
from agentwatch.policy import Policy
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.core import Record, WorkerCore
from agentwatch.stream.topology import INTERNAL_TOPIC, collector_partition, murmur2, partition_for
from agentwatch.stream.wire import decode_batch
from otel_helpers import T0, record_of
from sink_helpers import ListSink


def test_collector_partition_matches_the_collectors_exporter() -> None:
    """franz-go's Sarama-compatible FNV-1a: FNV-1a("foobar") = 0xbf9cf968, as int32 -1080231576."""
    assert [collector_partition("foobar", n) for n in (1, 4, 7, 10)] == [0, 1080231576 % 4, 1080231576 % 7, 6]
    assert collector_partition("a", 10) == abs(0xE40C292C - (1 << 32)) % 10  # FNV-1a("a") = 0xe40c292c


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=80))
def test_murmur2_equals_aiokafkas_on_any_bytes(data: bytes) -> None:
    """Ours unpacks the words at once; the hash must be Kafka's (aiokafka's, from the Java client) bit for bit."""
    assert murmur2(data) == aiokafka_murmur2(data)


def test_murmur2_on_every_tail_length_and_task_ids() -> None:
    ids = [bytes(range(n)) for n in range(40)] + [b"\xff" * n for n in range(9)] + [
        f"{i:032x}".encode() for i in range(0, 10**6, 9973)]
    assert [murmur2(d) for d in ids] == [aiokafka_murmur2(d) for d in ids]


def test_in_place_moves_task_homes_but_not_agents() -> None:
    """In place, tasks live where the Collector put their trace; agents stay where the tasks topic's
    default partitioner (murmur2) puts their summaries, which is what the baselines changelog follows."""
    settings = Settings(brokers="kafka://127.0.0.1:1", input_keyed_by_trace=True, partitions=8)
    core = WorkerCore(settings, Policy(), Metrics(10), sink=None, input_partitions=8)  # type: ignore[arg-type]
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    agent = next(a for a in (f"agent-{i}" for i in range(100)) if collector_partition(a, 8) != partition_for(a, 8))
    assert core.partition(trace) == collector_partition(trace, 8)
    assert core.agent_partition(agent) == partition_for(agent, 8)


@pytest.mark.parametrize("task_key", ["trace", "conversation"])
def test_route_sends_each_span_to_its_tasks_home(task_key: str) -> None:
    """Route finds a trace's home once per run of its spans (trace keys); with conversation keys, per span. Either
    way every span reaches the partition of its task key, over the re-key topic when no partition is local."""
    random.seed(5)
    steps = [Step("llm", input_tokens=5, output_tokens=1), Step("tool", tool="t", args={"a": 1})]
    tasks = [(Task(f"a{i}", steps, conversation_id=f"conv-{i % 3}"), T0 + i * 10**9) for i in range(12)]
    sink = ListSink()
    core = WorkerCore(Settings(partitions=8, task_key=task_key), Policy(), Metrics(10), sink, input_partitions=8)
    core.route([Record("otlp_spans", 0, 0, record_of(tasks))], wall_ns=T0)
    homes = {(p, s.span_id): core.partition(core.engine.task_key(s))
             for topic, p, value in sink.sent if topic == INTERNAL_TOPIC for s in decode_batch(value).spans}
    assert len(homes) == 12 * 3 and len({h for h in homes.values()}) > 1
    assert all(p == home for (p, _), home in homes.items())
