"""The worker's event-time clock: a watermark over the input partitions, carried through the re-key topic.

Input partitions are consumed unevenly (a backlog, a slow partition, several workers, a restart that
re-reads from the last commit), and one trace's spans sit on several of them. A clock that is simply
the newest span seen would run ahead of a lagging partition: tasks would close before their spans on
that partition arrived (counted as late, totals short) and look stalled when they are not. So each
route batch carries, per input partition it read, the newest span end there, and every destination
partition of the re-key topic hears every batch.

The re-key partitions are consumed unevenly too: a watermark that arrived on re-key partition 3 says
nothing about spans still queued on partition 0. So a watermark is tracked per (re-key partition,
input partition) stream, and a re-key partition's clock is the *minimum* over all of its expected
streams (`inputs` of them). It never goes back, and it does not move until every stream has been heard
from since the last assignment. There is no wall-clock fallback here: an input partition with nothing
to read is advanced by its reader, which sends a heartbeat watermark (`heartbeat_watermark`) once it
has consumed everything there (stream/core.py), so a quiet system still sees its stalled tasks, and a
partition whose reader is slow, blocked or dead holds the clock back instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# A caught-up input partition's watermark trails the wall clock by this much: spans reach the Collector
# and its Kafka exporter a few seconds after they end (batching), so a record may still be on its way.
HEARTBEAT_LAG_NS = 5 * 10**9


def heartbeat_watermark(newest_ns: int, wall_ns: int) -> int:
    """The watermark of an input partition whose reader has consumed everything there."""
    return max(newest_ns, wall_ns - HEARTBEAT_LAG_NS)


def behind(inputs: Mapping[int, tuple[int | None, int | None]]) -> list[int]:
    """The input partitions with records left to read: `inputs` maps each owned one to (high watermark as of its
    last fetch, next offset to route), None if unknown. One not fetched or routed yet holds nothing back."""
    return [p for p, (hw, nxt) in inputs.items() if hw is not None and nxt is not None and nxt < hw]


def caught_up(inputs: Mapping[int, tuple[int | None, int | None]], paused: Iterable[int]) -> list[int]:
    """The input partitions read to their end: `inputs` maps each owned one to (high watermark as of its last
    fetch, next offset to route), None if unknown. Their watermark may follow the wall clock (heartbeats).

    A partition paused for alignment never is: it is not fetched, so its high watermark is the one the last
    fetch before the pause reported, and the records fetched then can bring it there while more wait behind.
    Counted as read to its end, its heartbeat would move the clock past every task whose spans are still in
    those records: closed early, its spans late (seen: 12,061 late spans in one 2-worker benchmark run)."""
    skip = set(paused)
    return [p for p, (hw, nxt) in inputs.items()
            if p not in skip and hw is not None and nxt is not None and nxt >= hw]


def too_far_ahead(newest: Mapping[int, int], owned: Iterable[int], behind: Iterable[int], max_skew_ns: int) -> set[int]:
    """Watermark alignment: the owned input partitions whose newest span end is more than `max_skew_ns` past
    that of the slowest partition still `behind` (records left to read). Their reader pauses them.

    The clock is the minimum over input partitions, so while one partition is read far ahead of another
    (a backlog: the consumer drains partition by partition) every task it brings waits for the slow one
    before it can close; unpaused, open tasks pile up to the eviction bound. A partition with nothing left
    to read never holds the others back (it is not `behind`), and the slowest is never paused itself."""
    floor = min((newest.get(p, 0) for p in behind), default=None)
    if floor is None:
        return set()
    return {p for p in owned if newest.get(p, 0) > floor + max_skew_ns}


class WatermarkClock:
    def __init__(self, inputs: int = 0) -> None:
        self.inputs = inputs  # streams expected per re-key partition
        self.owned: frozenset[int] = frozenset()
        self.streams: dict[int, dict[int, int]] = {}  # re-key partition -> input partition -> watermark ns
        self._now: dict[int | None, int] = {}  # re-key partition (None: all owned) -> clock

    def assign(self, owned: Iterable[int]) -> None:
        """The re-key partitions this worker now owns (after a rebalance): forget every stream and wait again.
        A stream heard before may be stale (its input partition moved to another worker, whose messages
        take longer to arrive): counted as heard, it would end the wait before the fresh one is heard."""
        self.owned = frozenset(owned)
        self.streams = {}

    def heard(self, partition: int, source: int, watermark_ns: int) -> None:
        """Re-key `partition` carried `watermark_ns` for input partition `source`."""
        marks = self.streams.get(partition)
        if marks is None:
            marks = self.streams[partition] = {}
        if watermark_ns > marks.get(source, 0):
            marks[source] = watermark_ns

    def read(self, partition: int | None = None) -> int:
        """The clock now: the minimum watermark of the streams of one re-key partition (or of all owned ones),
        held where it was until each of them has been heard from."""
        now = self._now.get(partition, 0)
        parts = self.owned if partition is None else (partition,)
        low = None
        for p in parts:
            marks = self.streams.get(p)
            if marks is None or len(marks) < self.inputs:
                return now  # still waiting to hear from every stream of p
            least = min(marks.values())
            if low is None or least < low:
                low = least
        if low is not None and low > now:
            now = self._now[partition] = low
        return now
