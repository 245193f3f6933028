"""Process tuning of long-running commands: start-up frozen, young collections rarer, large blocks mapped."""

import gc

from agentwatch.process_tuning import GC_THRESHOLDS, map_large_blocks, schedule_gc, tune_process


def test_start_up_objects_are_frozen_and_the_schedule_applies() -> None:
    before = gc.get_threshold()
    kept = {"start-up": [object()]}  # a tracked object alive at start-up
    try:
        schedule_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # frozen: no collection walks it any more
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_large_blocks_are_mapped_on_glibc_and_elsewhere_nothing_fails() -> None:
    assert map_large_blocks()  # this machine's libc is glibc (Debian), as the worker's image
    assert not map_large_blocks("libnot-a-libc.so.0")


def test_preloaded_start_up_work_runs_first_and_is_frozen() -> None:
    before = gc.get_threshold()
    loaded: list[object] = []
    try:
        tune_process(lambda: loaded.append({"price table": [object()]}))
        assert loaded and not any(o is loaded[0] for o in gc.get_objects())
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
