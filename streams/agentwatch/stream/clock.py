"""The worker's event-time clock: a watermark over the input partitions, carried through the re-key topic.

Input partitions are consumed unevenly (a backlog, a slow partition, several workers), and one trace's
spans sit on several of them. A clock that is simply the newest span seen would run ahead of a lagging
partition: tasks would close before their spans on that partition arrived (counted as late and lost)
and look stalled when they are not. So each route batch carries, per input partition it read, the
newest span end there, and every destination partition of the re-key topic hears every batch.

The re-key partitions are consumed unevenly too: a watermark that arrived on re-key partition 3 says
nothing about spans still queued on partition 0. So a watermark is tracked per (re-key partition,
input partition) stream, and the clock is the *minimum* over the streams heard from in the last
`idle_s` of wall time on the re-key partitions this worker owns; when none were (no input at all), it
follows the wall clock, so a quiet system still sees its stalled tasks. It never goes back. Tasks are
judged on the clock of their home re-key partition (`read(partition=p)`). After start-up or a rebalance,
until every expected stream (owned re-key partitions x `inputs`) has been heard from, or `idle_s` has
passed since the first was (or since the assignment, if none was), it does not move: the first stream
heard would otherwise set the pace, and with none heard yet it would jump to the wall clock, ahead of
any backlog.
"""

from __future__ import annotations

import time
from collections.abc import Iterable


class WatermarkClock:
    def __init__(self, idle_s: float = 5.0, inputs: int = 0) -> None:
        self.idle_ns = int(idle_s * 1e9)
        self.inputs = inputs
        self.owned: frozenset[int] = frozenset()
        # (re-key partition, input partition) -> [watermark ns, last heard (wall ns)]
        self.streams: dict[tuple[int, int], list[int]] = {}
        self.first_heard_ns = 0
        self.assigned_ns = 0
        self._now: dict[int | None, int] = {}  # re-key partition (None: all owned) -> clock

    def assign(self, owned: Iterable[int], wall_ns: int | None = None) -> None:
        """The re-key partitions this worker now owns (after a rebalance): forget every stream and wait again.
        A stream heard before may be stale (its input partition moved to another worker, whose messages
        take longer to arrive): counted as heard, it would end the wait before the fresh one is heard."""
        self.owned = frozenset(owned)
        self.streams = {}
        self.first_heard_ns = 0
        self.assigned_ns = time.time_ns() if wall_ns is None else wall_ns

    def heard(self, partition: int, source: int, watermark_ns: int, wall_ns: int | None = None) -> None:
        """Re-key `partition` carried `watermark_ns` for input partition `source`."""
        wall = time.time_ns() if wall_ns is None else wall_ns
        self.first_heard_ns = self.first_heard_ns or wall
        entry = self.streams.get((partition, source))
        if entry is None:
            self.streams[(partition, source)] = [watermark_ns, wall]
        else:
            entry[0] = max(entry[0], watermark_ns)
            entry[1] = wall

    def read(self, wall_ns: int | None = None, partition: int | None = None) -> int:
        """The clock now: min watermark of the active streams (of one re-key partition, or of all), or the
        wall clock when all are idle.

        Tasks homed on partition p only wait for p's streams: a backlog on another re-key partition does
        not hold their closing back (with one clock, a worker catching up held thousands of finished
        tasks open, up to the active-task bound).
        """
        wall = time.time_ns() if wall_ns is None else wall_ns
        now = self._now.get(partition, 0)
        expected = self.inputs * len(self.owned)
        if len(self.streams) < expected and wall - (self.first_heard_ns or self.assigned_ns) < self.idle_ns:
            return now  # still waiting to hear from every stream
        active = [wm for (p, _), (wm, heard) in self.streams.items()
                  if (partition is None or p == partition) and wall - heard < self.idle_ns]
        now = self._now[partition] = max(now, min(active) if active else wall)
        return now
