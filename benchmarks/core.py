"""Spans/s of each in-process stage against what Python can do on the same records (1, 100, 1000 spans each).

Run: .venv/bin/python benchmarks/core.py [--tasks N] [--repeat R]

- upb parse: `TracesData.FromString` and a count of the spans, nothing read from them.
- the limit: parse plus the minimal extraction a monitor needs (`limit` below: IDs, times, status, name,
  and the value of each attribute whose key is wanted, found by one dict lookup per key). Whatever
  agentwatch does beyond that is the distance to close.
- decode_record: agentwatch's decoder (validation, every vocabulary, normalized `Span`s).
- full core: decode, task state, detectors, cost (`full_core`).
- worker core: what one worker's code does with the same records, Kafka left out (`worker_core`): the stages of
  stream/core.py (route with every partition local, tick, the per-agent stage, checkpoint) in the batch
  sizes the worker sees, every output serialized and handed to a sink that drops it. The distance from the
  full core is the shell's own cost; from here to a worker end to end (`pipeline.py`), the Kafka clients,
  Faust and the machine.
Each is reported as spans/s and as a share of the limit. All run in this process on the same records,
interleaved, best of R, under the garbage-collector schedule of `agentwatch run`: the ratios are what
matter (the machine is shared and noisy). Goals (issue #16): full core >= 60% of the limit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _data import make_records, make_spans, mean_attributes
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from prometheus_client import CollectorRegistry

from agentwatch.engine import Engine
from agentwatch.otlp.decode import decode_record, require_upb
from agentwatch.otlp.vocab import KEYS
from agentwatch.policy import Policy
from agentwatch.process_tuning import tune_process
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.core import Record, WorkerCore
from agentwatch.stream.topology import AGENTS_TOPIC

MAX = 1 << 26


def parse_only(records: list[bytes]) -> int:
    n = 0
    for rec in records:
        for rs in TracesData.FromString(rec).resource_spans:
            for ss in rs.scope_spans:
                n += len(ss.spans)
    return n


def limit(records: list[bytes]) -> int:
    """Parse + minimal extraction: per span its IDs, times, status and name, and the values of the attributes
    whose key is wanted (agentwatch's own key table: one dict lookup per attribute key, as the decoder does)."""
    wanted = KEYS.get
    n = 0
    for rec in records:
        for rs in TracesData.FromString(rec).resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    values = []
                    for kv in s.attributes:
                        if wanted(kv.key) is not None:
                            v = kv.value
                            which = v.WhichOneof("value")
                            values.append(getattr(v, which) if which else None)
                    _ = (s.trace_id, s.span_id, s.parent_span_id, s.start_time_unix_nano, s.end_time_unix_nano,
                         s.status.code, s.name, values)
                    n += 1
    return n


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


class _Sink:
    """Drops every output but the per-agent messages, which the agents stage reads back."""

    def __init__(self) -> None:
        self.agents: list[Record] = []

    def send(self, topic, value, key=None, partition=None, headers=None) -> None:
        if topic == AGENTS_TOPIC:
            self.agents.append(Record(topic, partition, len(self.agents), value))


ROUTE_SPANS = 2000  # spans per route batch: ~20 records of 100 spans, what a worker reads in 0.1 s at ~20k/s
PARTITIONS = 4


def worker_core(records: list[bytes]) -> int:
    """The worker's stages on `records`, Kafka left out: route batches of ~ROUTE_SPANS spans (every partition
    local, as with one worker), a tick and the per-agent stage every 10 batches, a checkpoint every 28 (the
    worker's 1 s tick and 2.8 s commits at ~20k spans/s)."""
    sink, registry = _Sink(), CollectorRegistry()
    core = WorkerCore(Settings(partitions=PARTITIONS), Policy(), Metrics(200, registry), sink,
                      input_partitions=PARTITIONS)
    core.assign(set(range(PARTITIONS)), set(range(PARTITIONS)), [], [])
    core.shortcut.local = frozenset(range(PARTITIONS))
    first = sum(len(ss.spans) for rs in TracesData.FromString(records[0]).resource_spans for ss in rs.scope_spans)
    per_batch = max(1, ROUTE_SPANS // max(1, first))
    for b, start in enumerate(range(0, len(records), per_batch)):
        batch = [Record("otlp_spans", i % PARTITIONS, i // PARTITIONS, records[i])
                 for i in range(start, min(start + per_batch, len(records)))]
        core.route(batch, wall_ns=time.time_ns())
        if b % 10 == 9:
            core.tick(time.time_ns())
            core.agents(sink.agents)
            sink.agents = []
        if b % 28 == 27:
            core.write_state(core.checkpoint())
    core.tick(time.time_ns())
    core.write_state(core.checkpoint())
    return int(sum(registry.get_sample_value("agentwatch_spans_total", {"kind": k}) or 0
                   for k in ("other", "llm", "tool", "agent")))


STAGES = {"upb parse": parse_only, "the limit": limit, "decode_record": decode_only, "full core": full_core,
          "worker core": worker_core}


def best_rate(fn, records: list[bytes], repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn(records)
        best = max(best, n / (time.perf_counter() - t))
    return best


def stage_rates(records: list[bytes], repeat: int) -> dict[str, float]:
    """Spans/s of every stage of STAGES on `records`, interleaved (each sees the same machine state), best of
    `repeat`."""
    rates = dict.fromkeys(STAGES, 0.0)
    for _ in range(repeat):
        for name, fn in STAGES.items():
            rates[name] = max(rates[name], best_rate(fn, records, 1))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    require_upb()
    spans = make_spans(args.tasks)
    tune_process()  # as `agentwatch run` and `replay` do
    print(f"{len(spans)} spans from {args.tasks} tasks (OTel SDK + OTLP encoder; otel/traceloop/openinference/openlit)")
    print(f"{'spans/record':>12} {'attrs/span':>10} " + " ".join(f"{name:>22}" for name in STAGES))
    for per_record in (1, 100, 1000):
        records = make_records(spans, per_record)
        rates = stage_rates(records, args.repeat)
        cells = " ".join(f"{rate:>12,.0f}/s ({rate / rates['the limit']:>4.0%})" for rate in rates.values())
        print(f"{per_record:>12} {mean_attributes(records):>10.1f} {cells}")
    print("(share of the limit in brackets; goal: full core >= 60% of the limit on 100-span records)")


if __name__ == "__main__":
    main()
