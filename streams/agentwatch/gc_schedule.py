"""The cyclic garbage collector's schedule for agentwatch's long-running commands (`run`, `replay`).

CPython collects its youngest generation every 700 net allocations and, every 100 of those (when the
old generation grew by a quarter), walks every tracked object alive: the modules of Faust, aiokafka,
numpy and protobuf, and every open task, closed-task marker and baseline. Over the benchmark records
the collector took 24% of the worker core's time (`benchmarks/pipeline.py` prints the effect on a live
worker). agentwatch's own state holds no reference cycles (dicts, lists and slotted objects pointing
down); the cyclic garbage is asyncio's and Faust's (futures, exception tracebacks) and dies young, so a
rarer young collection still frees it, and a full one still runs, less often.
"""

from __future__ import annotations

import gc

# (young, middle, old): a young collection every 50,000 net allocations, a middle one every 20 of those,
# a full one every 10 middle ones (CPython's default: 700, 10, 10).
THRESHOLDS = (50_000, 20, 10)


def schedule_gc() -> None:
    """Call once start-up is done: what it allocated (modules, settings, policy) is never garbage, so it is
    moved out of every future collection (`gc.freeze`); then the rarer schedule applies."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
