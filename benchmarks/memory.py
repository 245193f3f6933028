"""Memory per open task: a worker core holding 100,000 open tasks, and the size of one task's persisted state.

Run: .venv/bin/python benchmarks/memory.py [--tasks 100000] [--tail-keep] [--hibernate-after-s 30]

The records are the benchmark's SDK-made GenAI traces (~16 attributes a span, ~10 spans a task), copied
with fresh trace IDs until `--tasks` tasks exist, with every root span removed so no task can close
(and no tick runs: nothing times out). They go through `WorkerCore.route` as a one-worker deployment
does (every partition local), with a checkpoint every 100 records as the worker's commits do (it serializes
the changed tasks as the changelog gets them, then freezes those idle for `--hibernate-after-s` of event
time: dormant.py; the copies follow each other 1,000 s apart, so every copy but the last is idle).
Each record is made, routed and dropped in turn, so only the worker's own state stays. RSS is read from
/proc after a full collection: before, halfway and at the end; the per-task figure that counts is the
slope from halfway to the end (one-time costs left out). It also prints the Python objects of one task by
field. Goal (issue #16): <= 2 KiB of RSS per open task, tail-keep off (the default here); `--tail-keep`
measures with each task's spans kept as well (the per-worker bound lifted, so every buffer stays);
`--hibernate-after-s 0` with every task live (what a task costs while it receives spans).
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _data import make_records, make_spans, retime, spans_of
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from prometheus_client import CollectorRegistry

from agentwatch.dormant import Dormant
from agentwatch.otlp.decode import require_upb
from agentwatch.policy import Policy
from agentwatch.process_tuning import tune_process
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.core import Record, WorkerCore
from agentwatch.tasks import TaskState

PARTITIONS = 4


class NullSink:
    def __init__(self) -> None:
        self.records = 0

    def send(self, topic, value, key=None, partition=None, headers=None) -> None:
        self.records += 1


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def open_records(base: list[TracesData], tasks_per_copy: int, tasks: int) -> Iterator[bytes]:
    """Copies of `base` without root spans, each with its own trace IDs and later times, until `tasks` tasks."""
    period = 10**12
    for k in range((tasks + tasks_per_copy - 1) // tasks_per_copy):
        for t in base:
            copy = TracesData()
            copy.CopyFrom(t)
            retime(copy, k * period, k.to_bytes(3, "big"))
            yield copy.SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--source-tasks", type=int, default=1000, help="distinct SDK-made tasks before copying")
    ap.add_argument("--tail-keep", action="store_true", help="keep every open task's spans too (keep.py)")
    ap.add_argument("--hibernate-after-s", type=float, default=Settings().hibernate_after_s,
                    help="freeze open tasks idle this long (event time) at each checkpoint; 0 = never")
    args = ap.parse_args()
    require_upb()
    t = time.perf_counter()
    base = [TracesData.FromString(r) for r in make_records(make_spans(args.source_tasks), 100)]
    for traces in base:  # no root span: no task can close
        for rs in traces.resource_spans:
            for ss in rs.scope_spans:
                keep = [s for s in ss.spans if s.parent_span_id]
                del ss.spans[:]
                ss.spans.extend(keep)
    per_copy = len({s.trace_id for traces in base for s in spans_of(traces)})
    settings = Settings(partitions=PARTITIONS, max_active_tasks=args.tasks + per_copy, tail_keep=args.tail_keep,
                        keep_max_worker_bytes=2**40, hibernate_after_s=args.hibernate_after_s)
    sink = NullSink()
    core = WorkerCore(settings, Policy(), Metrics(200, CollectorRegistry()), sink, input_partitions=PARTITIONS)
    core.assign(set(range(PARTITIONS)), set(range(PARTITIONS)), [], [])
    core.shortcut.local = frozenset(range(PARTITIONS))  # one worker: every task's home is here
    core.engine.pricer.load()
    tune_process()  # as `agentwatch run`
    gc.collect()
    before = rss_bytes()
    spans = 0
    state_bytes: list[int] = []
    half: tuple[int, int] | None = None  # (open tasks, RSS) halfway: the slope leaves out one-time costs
    for i, rec in enumerate(open_records(base, per_copy, args.tasks)):
        core.route([Record("otlp_spans", i % PARTITIONS, i // PARTITIONS, rec)], wall_ns=0)
        spans += sum(len(ss.spans) for rs in TracesData.FromString(rec).resource_spans for ss in rs.scope_spans)
        if i % 100 == 99:
            writes = core.checkpoint()
            state_bytes += [len(value) for _, _, value, _ in writes if value is not None]
            del writes
            if half is None and len(core.engine.tasks) >= args.tasks // 2:
                gc.collect()
                half = len(core.engine.tasks), rss_bytes()
    writes = core.checkpoint()
    state_bytes += [len(value) for _, _, value, _ in writes if value is not None]
    del writes
    gc.collect()
    after = rss_bytes()
    n = len(core.engine.tasks)
    print(f"{n:,} open tasks, {core.engine.dormant:,} of them dormant ({spans:,} spans, {spans / n:.1f} a task; "
          f"{len(base)} source records of 100 spans, copied; made and routed in {time.perf_counter() - t:.0f}s)")
    slope = (after - half[1]) / (n - half[0]) if half and n > half[0] else float("nan")
    print(f"RSS: {before / 2**20:,.1f} MiB before, {after / 2**20:,.1f} MiB with the tasks open: "
          f"{(after - before) / n:,.0f} bytes per open task; {slope:,.0f} per task from {half[0] if half else 0:,} "
          "to the end (no one-time costs)")
    sizes = deep_sizes([t for t in core.engine.tasks.values() if isinstance(t, TaskState)][:1000])
    dormant = [t for t in core.engine.tasks.values() if isinstance(t, Dormant)][:1000]
    if dormant:
        print(f"Python objects per dormant task: {sum(map(sys.getsizeof, dormant)) / len(dormant):,.0f} bytes, and its "
              f"compressed state {sum(sys.getsizeof(t.blob) for t in dormant) / len(dormant):,.0f} bytes")
    if sizes:
        print(f"Python objects per live open task: {sum(sizes.values()):,.0f} bytes; largest fields: " + ", ".join(
        f"{k} {v:,.0f}" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:6]))
    print(f"persisted state of one open task (changelog values, JSON): mean {sum(state_bytes) / len(state_bytes):,.0f}"
          f" bytes, max {max(state_bytes):,} bytes")
    if args.tail_keep:
        print(f"tail-keep on: {core.engine.kept_bytes / n:,.0f} bytes of kept rows per open task")
    else:
        print(f"goal <= 2 KiB of RSS per open task: {'met' if slope <= 2048 else 'NOT met'}")


def deep_sizes(tasks: list[TaskState]) -> dict[str, float]:
    """Mean bytes per task of each TaskState field, following containers (shared objects counted once per task;
    the resource, shared by every task of a service, not at all)."""
    def deep(o: object, seen: set[int]) -> int:
        if id(o) in seen:
            return 0
        seen.add(id(o))
        n = sys.getsizeof(o)
        if isinstance(o, dict):
            n += sum(deep(k, seen) + deep(v, seen) for k, v in o.items())
        elif isinstance(o, list | tuple | set):
            n += sum(deep(x, seen) for x in o)
        return n

    if not tasks:
        return {}
    out: dict[str, float] = {"(the object)": sum(sys.getsizeof(t) for t in tasks) / len(tasks)}
    for t in tasks:
        seen = {id(t.resource)}
        for name in t.__slots__:
            if name != "resource" and hasattr(t, name):
                out[name] = out.get(name, 0.0) + deep(getattr(t, name), seen) / len(tasks)
    return out


if __name__ == "__main__":
    main()
