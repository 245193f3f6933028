"""In place, a task lives where the Collector put its trace: the partition its exporter hashes the key to."""

from agentwatch.stream.topology import collector_partition


def test_collector_partition_matches_the_collectors_exporter() -> None:
    """franz-go's Sarama-compatible FNV-1a: FNV-1a("foobar") = 0xbf9cf968, as int32 -1080231576."""
    assert [collector_partition("foobar", n) for n in (1, 4, 7, 10)] == [0, 1080231576 % 4, 1080231576 % 7, 6]
    assert collector_partition("a", 10) == abs(0xE40C292C - (1 << 32)) % 10  # FNV-1a("a") = 0xe40c292c



def test_in_place_moves_task_homes_but_not_agents() -> None:
    """In place, tasks live where the Collector put their trace; agents stay where the tasks topic's
    default partitioner (murmur2) puts their summaries, which is what the baselines changelog follows."""
    from agentwatch.policy import Policy
    from agentwatch.settings import Settings
    from agentwatch.sinks.metrics import Metrics
    from agentwatch.stream.core import WorkerCore
    from agentwatch.stream.topology import partition_for

    settings = Settings(brokers="kafka://127.0.0.1:1", input_keyed_by_trace=True, partitions=8)
    core = WorkerCore(settings, Policy(), Metrics(10), sink=None, input_partitions=8)  # type: ignore[arg-type]
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    agent = next(a for a in (f"agent-{i}" for i in range(100)) if collector_partition(a, 8) != partition_for(a, 8))
    assert core.partition(trace) == collector_partition(trace, 8)
    assert core.agent_partition(agent) == partition_for(agent, 8)
