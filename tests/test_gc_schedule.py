"""The collector schedule of long-running commands: start-up frozen, young collections rarer."""

import gc

from agentwatch.gc_schedule import THRESHOLDS, schedule_gc


def test_start_up_objects_are_frozen_and_the_schedule_applies() -> None:
    before = gc.get_threshold()
    kept = {"start-up": [object()]}  # a tracked object alive at start-up
    try:
        schedule_gc()
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # frozen: no collection walks it any more
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
