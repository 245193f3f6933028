"""The worker's watermark clock: per (re-key partition, input partition) stream, the minimum over all of them."""

from agentwatch.stream.clock import HEARTBEAT_LAG_NS, WatermarkClock, heartbeat_watermark

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
