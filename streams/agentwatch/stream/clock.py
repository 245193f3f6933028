"""The worker's event-time clock: a watermark over the input partitions, carried through the re-key topic.

Input partitions are consumed unevenly (a backlog, a slow partition, several workers), and one trace's
spans sit on several of them. A clock that is simply the newest span seen would run ahead of a lagging
partition: tasks would close before their spans on that partition arrived (counted as late and lost)
and look stalled when they are not. So each route batch carries, per input partition it read, the
newest span end there; every destination partition hears every batch. The clock is the *minimum*
over the input partitions heard from in the last `idle_s` of wall time; when none were (no input at
all), it follows the wall clock, so a quiet system still sees its stalled tasks. It never goes back.
Until every one of the `expected` input partitions has been heard from (or `idle_s` has passed since
the first was), it does not move: at start-up the first partition heard would otherwise set the pace.
"""

from __future__ import annotations

import time


class WatermarkClock:
    def __init__(self, idle_s: float = 5.0, expected: int = 0) -> None:
        self.idle_ns = int(idle_s * 1e9)
        self.expected = expected
        self.sources: dict[int, list[int]] = {}  # source partition -> [watermark ns, last heard (wall ns)]
        self.first_heard_ns = 0
        self.now_ns = 0

    def heard(self, source: int, watermark_ns: int, wall_ns: int | None = None) -> None:
        wall = time.time_ns() if wall_ns is None else wall_ns
        entry = self.sources.get(source)
        if entry is None:
            self.first_heard_ns = self.first_heard_ns or wall
            self.sources[source] = [watermark_ns, wall]
        else:
            entry[0] = max(entry[0], watermark_ns)
            entry[1] = wall

    def read(self, wall_ns: int | None = None) -> int:
        """The clock now: min watermark of the active sources, or the wall clock when all are idle."""
        wall = time.time_ns() if wall_ns is None else wall_ns
        if self.sources and len(self.sources) < self.expected and wall - self.first_heard_ns < self.idle_ns:
            return self.now_ns  # still waiting to hear from every input partition
        active = [wm for wm, heard in self.sources.values() if wall - heard < self.idle_ns]
        candidate = min(active) if active else wall
        self.now_ns = max(self.now_ns, candidate)
        return self.now_ns
