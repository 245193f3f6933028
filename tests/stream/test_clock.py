"""The worker's watermark clock: per (re-key partition, input partition) stream, the minimum over all of them."""

from agentwatch.policy import Policy
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.clock import HEARTBEAT_LAG_NS, WatermarkClock, heartbeat_watermark, too_far_ahead
from agentwatch.stream.core import WorkerCore

S = 10**9


def test_clock_waits_for_the_lagging_rekey_partition() -> None:
    clock = WatermarkClock(inputs=1)
    clock.assign({0, 1})
    clock.heard(0, 0, 100 * S)
    clock.heard(1, 0, 40 * S)   # partition 1 still has older spans queued
    assert clock.read() == 40 * S
    clock.heard(1, 0, 90 * S)
    assert clock.read() == 90 * S


def test_clock_holds_until_every_stream_is_heard_however_long() -> None:
    """A stream not heard from (its reader is catching up, blocked or dead) holds the clock: no timeout,
    no wall clock. A caught-up reader sends heartbeats instead of going quiet."""
    clock = WatermarkClock(inputs=2)
    clock.assign({0})
    clock.heard(0, 0, 100 * S)
    assert clock.read() == 0
    clock.heard(0, 0, 150 * S)
    assert clock.read() == 0
    clock.heard(0, 1, 120 * S)
    assert clock.read() == 120 * S
    clock.heard(0, 1, 110 * S)                      # an older watermark (a re-read): never goes back
    assert clock.read() == 120 * S


def test_rebalance_starts_the_wait_again_and_forgets_every_stream() -> None:
    clock = WatermarkClock(inputs=2)
    clock.assign({0, 1})
    for p in (0, 1):
        for source in (0, 1):
            clock.heard(p, source, 100 * S)
    assert clock.read() == clock.read(partition=0) == 100 * S
    clock.assign({0})
    assert clock.streams == {}
    clock.heard(0, 0, 200 * S)                      # this worker's own input partition, heard at once
    assert clock.read(partition=0) == 100 * S       # hold: input partition 1 (now remote) not heard yet
    clock.heard(0, 1, 150 * S)
    assert clock.read(partition=0) == 150 * S


def test_each_rekey_partition_has_its_own_clock() -> None:
    """Tasks homed on partition 0 close on partition 0's watermark, whatever backlog partition 1 has."""
    clock = WatermarkClock(inputs=1)
    clock.assign({0, 1})
    clock.heard(0, 0, 100 * S)
    clock.heard(1, 0, 40 * S)
    assert clock.read(partition=0) == 100 * S
    assert clock.read(partition=1) == 40 * S
    assert clock.read() == 40 * S


def test_heartbeat_of_a_caught_up_partition_trails_the_wall_clock() -> None:
    assert heartbeat_watermark(100 * S, 1000 * S) == 1000 * S - HEARTBEAT_LAG_NS
    assert heartbeat_watermark(100 * S, 101 * S) == 100 * S  # never behind what was read there


def test_alignment_pauses_partitions_read_too_far_ahead_of_the_slowest_behind() -> None:
    newest = {0: 100 * S, 1: 140 * S, 2: 129 * S, 3: 500 * S}
    owned = [0, 1, 2, 3]
    assert too_far_ahead(newest, owned, behind=[0, 1, 2, 3], max_skew_ns=30 * S) == {1, 3}
    # partition 0 read to its end: it holds nothing back, the slowest behind is now 2
    assert too_far_ahead(newest, owned, behind=[1, 2, 3], max_skew_ns=30 * S) == {3}
    # nothing left to read anywhere: nothing paused
    assert too_far_ahead(newest, owned, behind=[], max_skew_ns=30 * S) == set()


def test_alignment_never_pauses_the_slowest_and_waits_for_a_partition_not_read_yet() -> None:
    """Pausing the slowest would stop the clock for good; a partition not read since the assignment (no newest
    span yet) with records left holds every other one back until it is read."""
    newest = {1: 100 * S, 2: 100 * S + 1}
    assert too_far_ahead(newest, [0, 1, 2], behind=[0, 1, 2], max_skew_ns=S) == {1, 2}
    assert too_far_ahead(newest, [1, 2], behind=[1, 2], max_skew_ns=0) == {2}
    for behind in ([1], [2], [1, 2]):
        slowest = min(behind, key=lambda p: newest[p])
        assert slowest not in too_far_ahead(newest, [1, 2], behind, max_skew_ns=0)


def test_the_worker_aligns_only_when_input_partitions_share_clocks() -> None:
    """In place (input keyed by trace) each partition's clock hears only itself: a partition ahead holds no task
    of another open, so nothing is paused; AGENTWATCH_MAX_INPUT_SKEW_S=0 turns alignment off."""
    def core(**kw: object) -> WorkerCore:
        c = WorkerCore(Settings(partitions=2, **kw), Policy(), Metrics(10), None, input_partitions=2)  # type: ignore[arg-type]
        c.newest = {0: 100 * S, 1: 200 * S}
        return c

    assert core().to_pause([0, 1], [0, 1]) == {1}
    assert core(input_keyed_by_trace=True).to_pause([0, 1], [0, 1]) == set()
    assert core(max_input_skew_s=0.0).to_pause([0, 1], [0, 1]) == set()
