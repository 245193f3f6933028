"""Process-wide settings for agentwatch's long-running commands (`run`, `replay`): the garbage collector's
schedule and the C heap's mmap threshold. `tune_process()` applies both once start-up is done.

Garbage collector. CPython collects its youngest generation every 700 net allocations and, every 100 of
those (when the old generation grew by a quarter), walks every tracked object alive: the modules of Faust,
aiokafka, numpy and protobuf, and every open task, closed-task marker and baseline. Over the benchmark
records the collector took 24% of the worker core's time. agentwatch's own state holds no reference cycles
(dicts, lists and slotted objects pointing down); the cyclic garbage is asyncio's and Faust's (futures,
exception tracebacks) and dies young, so a rarer young collection still frees it, and a full one still runs,
less often.

C heap. Every input record passes through blocks of tens of KiB that live for one batch (the record's bytes,
upb's parse arena, serialized outputs), between the small objects of open tasks that live for minutes.
glibc serves blocks under its mmap threshold (128 KiB, raised dynamically) from the heap, and a heap only
shrinks from its top: the long-lived objects pin the holes the short-lived blocks leave, and RSS grew ~22 KiB
per open task, four times the tasks' own objects (`benchmarks/memory.py`). Blocks from 32 KiB up are mapped
and unmapped on their own instead (a few system calls per record, not measurable in throughput).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

# (young, middle, old): a young collection every 50,000 net allocations, a middle one every 20 of those,
# a full one every 10 middle ones (CPython's default: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 10)
MMAP_THRESHOLD = 32 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def schedule_gc() -> None:
    """What start-up allocated (modules, settings, policy, the price table) is never garbage: moved out of every
    future collection (`gc.freeze`); then the rarer schedule applies."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def map_large_blocks(libc_name: str | None = None) -> bool:
    """glibc only (musl and others keep their allocator's behaviour): blocks from MMAP_THRESHOLD up are mapped
    on their own. True if the setting took."""
    name = libc_name if libc_name is not None else ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def tune_process() -> None:
    """Call once start-up is done, in `run` and `replay` (and the benchmarks, to measure under the same)."""
    map_large_blocks()
    schedule_gc()
