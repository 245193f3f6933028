"""In place, a task lives where the Collector put its trace: the partition its exporter hashes the key to."""

from agentwatch.stream.app import collector_partition


def test_collector_partition_matches_the_collectors_exporter() -> None:
    """franz-go's Sarama-compatible FNV-1a: FNV-1a("foobar") = 0xbf9cf968, as int32 -1080231576."""
    assert [collector_partition("foobar", n) for n in (1, 4, 7, 10)] == [0, 1080231576 % 4, 1080231576 % 7, 6]
    assert collector_partition("a", 10) == abs(0xE40C292C - (1 << 32)) % 10  # FNV-1a("a") = 0xe40c292c

