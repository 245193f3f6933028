"""Process-wide settings for agentwatch's long-running commands (`run`, `replay`): the garbage collector's
schedule and the C heap's mmap threshold. `tune_process()` applies both once start-up is done.

Garbage collector. CPython collects its youngest generation every 700 net allocations and, every 100 of
those (when the old generation grew by a quarter), walks every tracked object alive: the modules of Faust,
aiokafka, numpy and protobuf, and every open task, closed-task marker and baseline. Over the benchmark
records the collector took 24% of the worker core's time. agentwatch's own state holds no reference cycles
(dicts, lists and slotted objects pointing down); the cyclic garbage is asyncio's and Faust's (futures,
exception tracebacks) and dies young, so a rarer young collection still frees it, and a full one still runs,
less often.

C heap. glibc serves a block under its mmap threshold from the heap, a larger one by mapping fresh pages
(each first touch a page fault, each free an munmap). A worker's big blocks live for one batch: the record
bytes (~70 KiB), asyncio's 256 KiB socket reads, aiokafka's fetch responses (MiBs), upb's parse arena. Fixed at
4 MiB, the threshold keeps all but the largest on the heap, where the next batch reuses them: at 32 KiB (this
module's earlier setting) a worker took 278k minor faults per 2,000-record benchmark run instead of 180k and
~9% more CPU (`benchmarks/pipeline.py`: one worker 39-47% of the core over six runs, 42-51% over five at 4 MiB).
The 32 KiB setting was made against heap holes pinned by long-lived task objects (RSS per open task 18.6 KiB
under glibc's dynamic threshold, when tasks were first measured); `benchmarks/memory.py` no longer shows
that: RSS per open task is the same at 32 KiB, 4 MiB and the dynamic default (1,468 bytes dormant, 6,333 live,
1,897 with tail-keep). Fixed rather than dynamic, so blocks from 4 MiB up still go back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

# (young, middle, old): a young collection every 50,000 net allocations, a middle one every 20 of those,
# a full one every 10 middle ones (CPython's default: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 10)
MMAP_THRESHOLD = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def schedule_gc() -> None:
    """What start-up allocated (modules, settings, policy, the price table) is never garbage: moved out of every
    future collection (`gc.freeze`); then the rarer schedule applies."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def map_large_blocks(libc_name: str | None = None) -> bool:
    """glibc only (musl and others keep their allocator's behaviour): blocks under MMAP_THRESHOLD come from the
    heap, larger ones are mapped on their own. True if the setting took."""
    name = libc_name if libc_name is not None else ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def tune_process(*preload: Callable[[], object]) -> None:
    """Call once start-up is done, in `run` and `replay` (and the benchmarks, to measure under the same).
    `preload`: start-up work deferred until now (the price table, `Pricer.load`), done first so that what it
    allocates is frozen with the rest."""
    for load in preload:
        load()
    map_large_blocks()
    schedule_gc()
