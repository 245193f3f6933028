"""The worker's topology as plain data: topic and table names, partitioners, topics to create.

    otlp_spans / otlp_logs --route--> agentwatch-spans-by-task --aggregate--> agentwatch.alerts, agentwatch.tasks
                                      (home partition of a task)            agentwatch-summaries-by-agent
                                                                            agentwatch.flagged (tail-keep)
    agentwatch-summaries-by-agent --agents--> agentwatch.alerts
    state: task_state table (key task, partition = its home), agent_baselines table (key agent)

A task's *home* is the partition of the re-key topic and of the `task_state` changelog its key maps to
(murmur2, Kafka's default partitioner; or, with input keyed by trace, the partition the Collector's
exporter gave the trace). An agent's partition is murmur2 of its name in every mode. Wire formats:
`stream/wire.py`.
"""

from __future__ import annotations

import functools
import struct

from ..settings import Settings

INTERNAL_TOPIC = "agentwatch-spans-by-task"
# The per-agent stage's input: the summaries and late scores of one publish bound for one partition
# as ONE message (consuming agentwatch.tasks itself cost a Faust event per summary: ~30% of a worker).
AGENTS_TOPIC = "agentwatch-summaries-by-agent"
TABLE = "task_state"
BASELINE_TABLE = "agent_baselines"
APP_ID = "agentwatch"  # the Faust app id: consumer group and prefix of the changelog topics
# tansu (the embedded broker) reports a partition's high watermark as the base offset of its last batch
# + 1, so Faust's table recovery would stop short of the last batched changelog records. Against it only,
# each delivered checkpoint ends every changelog partition written since the last one with this tombstone,
# alone in its batch (a delete of a key no task or agent has): the last batch is one record, the high
# watermark is right. One record per batch for every write did the same at ~25% of a worker's throughput.
HW_MARKER_KEY = b"\x00agentwatch.high-watermark"


def changelog_topic(table: str) -> str:
    """The changelog topic Faust reads a table back from (`<app id>-<table>-changelog`)."""
    return f"{APP_ID}-{table}-changelog"


_M, _MASK = 0x5BD1E995, 0xFFFFFFFF
# Word count -> its little-endian unpacker. At most 256 entries: keys are task IDs and agent names, cut to 256
# characters (1,024 bytes of UTF-8) by the decoder.
_WORDS: dict[int, struct.Struct] = {}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Java client `Utils.murmur2`): aiokafka's `partitioner.murmur2` at half the cost (the
    4-byte words unpacked at once, one mask per product; 2.3 vs 5.2 us on a trace ID). Equal to it on any bytes
    (tests/stream/test_partitioning.py). One call per new task ID."""
    length = len(data)
    h = 0x9747B28C ^ length
    words = _WORDS.get(length >> 2)
    if words is None:
        words = _WORDS[length >> 2] = struct.Struct(f"<{length >> 2}I")
    for k in words.unpack_from(data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        end = length & ~3
        if tail == 3:
            h ^= data[end + 2] << 16
        if tail >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2, as the table's changelog uses)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


agent_partition = functools.lru_cache(maxsize=4096)(partition_for)  # per summary: murmur2 is pure Python


def collector_partition(key: str, partitions: int) -> int:
    """The partition the OpenTelemetry Collector's Kafka exporter gives a record keyed by `key` (with
    `partition_traces_by_id` the key is the hex trace ID): franz-go with Sarama-compatible FNV-1a."""
    h = 0x811C9DC5
    for byte in key.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    signed = h - (1 << 32) if h & 0x80000000 else h  # Go: int32(hash) % n, then made non-negative
    return abs(signed) % partitions


def topics_to_create(s: Settings) -> dict[str, int]:
    """Topics agentwatch creates when missing (the Collector's topic too, so a fresh cluster works)."""
    topics = {s.spans_topic: s.partitions, INTERNAL_TOPIC: s.partitions, AGENTS_TOPIC: s.partitions,
              s.alerts_topic: s.partitions, s.tasks_topic: s.partitions, s.dlq_topic: s.partitions,
              s.flagged_topic: s.partitions}
    if s.logs_topic:
        topics[s.logs_topic] = s.partitions
    return topics
