"""The worker's watermark clock: per (re-key partition, input partition) stream, minimum over the active ones."""

from agentwatch.stream.clock import WatermarkClock

S = 10**9


def test_clock_waits_for_the_lagging_rekey_partition() -> None:
    clock = WatermarkClock(idle_s=5, inputs=1)
    clock.assign({0, 1})
    clock.heard(0, 0, 100 * S, wall_ns=1)
    clock.heard(1, 0, 40 * S, wall_ns=1)   # partition 1 still has older spans queued
    assert clock.read(wall_ns=1) == 40 * S
    clock.heard(1, 0, 90 * S, wall_ns=2)
    assert clock.read(wall_ns=3) == 90 * S


def test_clock_holds_until_every_stream_is_heard_or_idle() -> None:
    clock = WatermarkClock(idle_s=5, inputs=2)
    clock.assign({0})
    clock.heard(0, 0, 100 * S, wall_ns=1 * S)
    assert clock.read(wall_ns=2 * S) == 0           # input partition 1 not heard from yet: hold
    clock.heard(0, 0, 150 * S, wall_ns=5 * S)
    assert clock.read(wall_ns=6 * S) == 150 * S     # idle_s after the first was heard: stop waiting
    clock.heard(0, 1, 120 * S, wall_ns=7 * S)
    assert clock.read(wall_ns=7 * S) == 150 * S     # never goes back


def test_rebalance_starts_the_wait_again() -> None:
    clock = WatermarkClock(idle_s=5, inputs=1)
    clock.assign({0})
    clock.heard(0, 0, 100 * S, wall_ns=1 * S)
    assert clock.read(wall_ns=2 * S) == 100 * S
    clock.assign({0, 1})                            # partition 1 adopted: wait to hear from it
    clock.heard(0, 0, 200 * S, wall_ns=3 * S)
    assert clock.read(wall_ns=4 * S) == 100 * S
    clock.heard(1, 0, 180 * S, wall_ns=4 * S)
    assert clock.read(wall_ns=5 * S) == 180 * S


def test_clock_follows_the_wall_when_idle_and_never_goes_back() -> None:
    clock = WatermarkClock(idle_s=5, inputs=1)
    clock.assign({0})
    clock.heard(0, 0, 500 * S, wall_ns=1)
    assert clock.read(wall_ns=2) == 500 * S
    assert clock.read(wall_ns=10 * S) == 500 * S    # idle: the wall clock (10 s) is behind: keep 500 s
    assert clock.read(wall_ns=600 * S) == 600 * S


def test_rebalance_forgets_every_stream() -> None:
    """Input partition 1 moved to another worker: what this worker heard of it before must not end the wait."""
    clock = WatermarkClock(idle_s=5, inputs=2)
    clock.assign({0, 1})
    for p in (0, 1):
        for source in (0, 1):
            clock.heard(p, source, 100 * S, wall_ns=1 * S)
    assert clock.read(wall_ns=1 * S) == 100 * S
    clock.assign({0})
    assert clock.streams == {}
    clock.heard(0, 0, 200 * S, wall_ns=2 * S)       # this worker's own input partition, heard at once
    assert clock.read(wall_ns=3 * S) == 100 * S     # hold: input partition 1 (now remote) not heard yet
    clock.heard(0, 1, 150 * S, wall_ns=4 * S)
    assert clock.read(wall_ns=4 * S) == 150 * S


def test_each_rekey_partition_has_its_own_clock() -> None:
    """Tasks homed on partition 0 close on partition 0's watermark, whatever backlog partition 1 has."""
    clock = WatermarkClock(idle_s=5, inputs=1)
    clock.assign({0, 1})
    clock.heard(0, 0, 100 * S, wall_ns=1)
    clock.heard(1, 0, 40 * S, wall_ns=1)
    assert clock.read(wall_ns=2, partition=0) == 100 * S
    assert clock.read(wall_ns=2, partition=1) == 40 * S
    assert clock.read(wall_ns=2) == 40 * S


def test_clock_holds_after_a_rebalance_until_a_stream_is_heard() -> None:
    """Nothing heard yet since the assignment (the backlog is still being fetched): no jump to the wall clock."""
    clock = WatermarkClock(idle_s=5, inputs=1)
    clock.assign({0}, wall_ns=1000 * S)
    assert clock.read(wall_ns=1001 * S) == 0
    clock.heard(0, 0, 100 * S, wall_ns=1002 * S)
    assert clock.read(wall_ns=1002 * S) == 100 * S
    quiet = WatermarkClock(idle_s=5, inputs=1)
    quiet.assign({0}, wall_ns=1000 * S)
    assert quiet.read(wall_ns=1006 * S) == 1006 * S  # a quiet system follows the wall after idle_s
