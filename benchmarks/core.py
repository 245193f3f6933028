"""Spans/s of decode + field extraction alone vs the full pure core, on records of 1, 100, 1000 spans.

Run: .venv/bin/python benchmarks/core.py [--tasks N] [--repeat R]
Both sides run in this process, on the same records, interleaved, best of R: the ratio is what
matters (the machine is shared and noisy). Goal (issue #3): full core >= 60% of decode+extract on
100-span records.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _data import make_records, make_spans, mean_attributes

from agentwatch.engine import Engine
from agentwatch.gc_schedule import schedule_gc
from agentwatch.otlp.decode import decode_record, require_upb
from agentwatch.policy import Policy

MAX = 1 << 26


def decode_only(records: list[bytes]) -> int:
    n = 0
    resources: dict = {}
    for rec in records:
        n += len(decode_record(rec, max_bytes=MAX, resources=resources).spans)
    return n


def full_core(records: list[bytes]) -> int:
    """Decode, normalize, task state, detectors, cost; the engine ticks once a second of event time."""
    engine = Engine(Policy())
    n = 0
    last_tick = 0
    resources: dict = {}
    for rec in records:
        spans = decode_record(rec, max_bytes=MAX, resources=resources).spans
        n += len(spans)
        engine.process(spans)
        if engine.clock_ns - last_tick >= 1_000_000_000:
            last_tick = engine.clock_ns
            engine.tick(engine.clock_ns)
    engine.flush()
    return n


def best_rate(fn, records: list[bytes], repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn(records)
        best = max(best, n / (time.perf_counter() - t))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    require_upb()
    spans = make_spans(args.tasks)
    schedule_gc()  # as `agentwatch run` and `replay` do
    print(f"{len(spans)} spans from {args.tasks} tasks (OTel SDK + OTLP encoder; otel/traceloop/openinference/openlit)")
    print(f"{'spans/record':>12} {'attrs/span':>10} {'decode+extract':>15} {'full core':>12} {'ratio':>7}")
    for per_record in (1, 100, 1000):
        records = make_records(spans, per_record)
        a = b = 0.0
        for _ in range(args.repeat):  # interleave so both see the same machine state
            a = max(a, best_rate(decode_only, records, 1))
            b = max(b, best_rate(full_core, records, 1))
        print(f"{per_record:>12} {mean_attributes(records):>10.1f} {a:>13,.0f}/s {b:>10,.0f}/s {b / a:>7.0%}")


if __name__ == "__main__":
    main()
