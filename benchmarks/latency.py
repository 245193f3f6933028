"""Alert latency: span end -> alert on the topic -> the agent's guard raises, under load, one worker.

Run: .venv/bin/python benchmarks/latency.py [--seconds 30] [--probes-per-s 2]

One tansu and one worker (`agentwatch run --embedded-broker`, 4 input partitions, its default commit
interval for the embedded broker), all in this run:
1. max throughput: 400 background records (SDK-made GenAI traces, ~100 spans each) produced at once,
   timed from the first to the last span the worker counts (`agentwatch_spans_total`).
2. at 25% and 50% of that rate: background records re-timed so their spans end as they are produced, and
   `--probes-per-s` probe tasks (agent `probe`, one LLM call over its 1,000-token budget: a `token_budget`
   alert with action terminate) whose LLM span ends when it is produced. An `agentwatch.guard` follows the
   alerts topic; a thread calls `guard.check(trace)` for every outstanding probe every 5 ms.
Printed per load: p50 / p99 / max of span end -> alert record written (its broker timestamp) and span
end -> guard raised, probes the guard never stopped, and the spans/s the worker processed while offered
the load (with its CPU): below the offered rate, it fell behind. Records go straight to the input topic: the
Collector's batching (200 ms in collector-config/) comes on top.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _data import make_records, make_spans, retime, spans_of, tile_records
from confluent_kafka import Consumer, Producer, TopicPartition
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from pipeline import Result, WorkerProc, cpu_s, scrape, start_worker, stop_worker, total, wait_ready

from agentwatch.demo.synth import Step, Task, emit_task, encode, make_provider, tracer_for
from agentwatch.guard import Guard, TaskStopped
from agentwatch.local.broker import EmbeddedBroker
from agentwatch.stream.kafka_admin import ensure_topics

POLICY = 'agents:\n  - match: "probe"\n    task_tokens: 1000\n'
PARTITIONS = 4
TOPIC = "latency_spans"
ALERTS = "agentwatch.alerts"


def n_spans(record: bytes) -> int:
    return sum(1 for _ in spans_of(TracesData.FromString(record)))


def retimed(record: bytes, end_ns: int, prefix: bytes = b"") -> bytes:
    """`record` moved so its newest span ends at `end_ns` (with `prefix`: fresh trace IDs)."""
    t = TracesData.FromString(record)
    retime(t, end_ns - max(s.end_time_unix_nano for s in spans_of(t)), prefix)
    return t.SerializeToString()


def probe_record(end_ns: int) -> tuple[str, bytes]:
    provider = make_provider("probe")
    task = Task("probe", [Step("llm", model="gpt-4o-mini", provider="openai", input_tokens=1500, output_tokens=50)])
    trace_id, _ = emit_task(tracer_for(provider, "otel"), task, end_ns - 200_000_000)
    return trace_id, retimed(encode(provider.memory_exporter.get_finished_spans()), end_ns)


def send(producer: Producer, record: bytes, i: int) -> None:
    producer.produce(TOPIC, record, partition=i % PARTITIONS)
    producer.flush(10)  # one record per batch (tansu's high-watermark bug)


def counted(port: int) -> float:
    """Spans the worker has processed."""
    return total([scrape(port, ("agentwatch_spans_total",))], "agentwatch_spans{")


def max_rate(producer: Producer, port: int, records: list[bytes]) -> float:
    base = counted(port)
    want = sum(n_spans(r) for r in records)
    now = time.time_ns()
    for i, r in enumerate(records):
        send(producer, retimed(r, now, b"\xee" + i.to_bytes(2, "big")), i)
    first = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        got = counted(port) - base
        if got > 0 and first is None:
            first = time.monotonic()
        if got >= want:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"the worker counted {counted(port) - base:.0f} of {want} spans in 300 s")
    return want / (time.monotonic() - (first or 0.0) + 0.05)


def run_load(tag: int, rate: float, seconds: float, probes_per_s: float, producer: Producer, bootstrap: str,
             records: list[bytes], spans_per_record: float, worker: WorkerProc) -> dict[str, Any]:
    guard = Guard.start(bootstrap, ALERTS, service="probe")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "latency-bench", "enable.auto.commit": False})
    while guard.blind:
        time.sleep(0.05)
    meta = consumer.list_topics(ALERTS, timeout=10).topics[ALERTS]
    consumer.assign([TopicPartition(ALERTS, p, -1) for p in meta.partitions])
    sent: dict[str, int] = {}      # probe trace -> its span end (wall ns)
    raised: dict[str, int] = {}    # -> when the guard raised
    written: dict[str, int] = {}   # -> the alert record's broker timestamp
    lock = threading.Lock()
    stop = threading.Event()

    def check_probes() -> None:
        while not stop.is_set():
            with lock:
                pending = [t for t in sent if t not in raised]
            for t in pending:
                try:
                    guard.check(t)
                except TaskStopped:
                    with lock:
                        raised[t] = time.time_ns()
            time.sleep(0.005)

    def read_alerts() -> None:
        while not stop.is_set():
            for m in consumer.consume(100, timeout=0.1):
                if m.error() is None:
                    a = json.loads(m.value())
                    if a.get("agent") == "probe":
                        with lock:
                            written.setdefault(a["trace_id"], m.timestamp()[1] * 1_000_000)

    threads = [threading.Thread(target=check_probes, daemon=True), threading.Thread(target=read_alerts, daemon=True)]
    for th in threads:
        th.start()
    rec_interval = spans_per_record / rate
    spans0, cpu0 = counted(worker.port), cpu_s(worker.proc.pid)
    next_rec = next_probe = t0 = time.monotonic()
    end = next_rec + seconds
    i = 0
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_probe:
            trace, rec = probe_record(time.time_ns())
            with lock:
                sent[trace] = time.time_ns()
            send(producer, rec, i)
            next_probe += 1.0 / probes_per_s
        if now >= next_rec:
            send(producer, retimed(records[i % len(records)], time.time_ns(),
                                   bytes([tag]) + (i % 65536).to_bytes(2, "big")), i)
            i += 1
            next_rec += rec_interval
        time.sleep(max(0.0, min(next_rec, next_probe) - time.monotonic()))
    took = time.monotonic() - t0
    sustained = (counted(worker.port) - spans0) / took
    cpu = (cpu_s(worker.proc.pid) - cpu0) / took
    time.sleep(5.0)  # let the last probes through
    stop.set()
    for th in threads:
        th.join(2)
    guard.close()
    consumer.close()
    with lock:
        return {"to_alert": [(written[t] - e) / 1e9 for t, e in sent.items() if t in written],
                "to_guard": [(raised[t] - e) / 1e9 for t, e in sent.items() if t in raised],
                "probes": len(sent), "missing": len(sent) - len(raised), "records": i,
                "offered": i * spans_per_record / took, "sustained": sustained, "cpu": cpu}


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--probes-per-s", type=float, default=2.0)
    args = ap.parse_args()
    records, _ = tile_records(make_records(make_spans(300, loop_every=0), 100), 600)
    spans_per_record = sum(n_spans(r) for r in records[:50]) / 50
    tmp = Path(tempfile.mkdtemp(prefix="agentwatch-latency-"))
    (tmp / "policy.yaml").write_text(POLICY)
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, {TOPIC: PARTITIONS})
        worker = start_worker(broker, TOPIC, PARTITIONS, tmp, 0, commit_interval_s=1.0,
                              extra_env={"AGENTWATCH_POLICY": str(tmp / "policy.yaml")})
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
        try:
            wait_ready([worker], Result(1, 0))
            print("measuring one worker's max throughput...", flush=True)
            rate = max_rate(producer, worker.port, records[:400])
            print(f"max throughput, one worker: {rate:,.0f} spans/s ({spans_per_record:.0f} spans/record)", flush=True)
            rows = []
            for tag, share in ((0xDD, 0.25), (0xDC, 0.5)):
                rows.append((share, run_load(tag, rate * share, args.seconds, args.probes_per_s, producer,
                                             broker.bootstrap, records, spans_per_record, worker)))
            print(f"{'load':>22} {'probes':>6} {'not stopped':>11}   span end -> alert p50/p99/max (s)"
                  f"   span end -> guard p50/p99/max (s)")
            for share, r in rows:
                a, g = r["to_alert"], r["to_guard"]
                print(f"{share:>5.0%} of max ({rate * share:>7,.0f}/s) {r['probes']:>6} {r['missing']:>11}   "
                      f"{pct(a, .5):>6.2f} {pct(a, .99):>6.2f} {max(a or [float('nan')]):>6.2f}"
                      f"              {pct(g, .5):>6.2f} {pct(g, .99):>6.2f} {max(g or [float('nan')]):>6.2f}")
            for share, r in rows:
                print(f"{share:.0%}: offered {r['offered']:,.0f} spans/s, the worker processed {r['sustained']:,.0f}/s "
                      f"while it was offered, at {r['cpu']:.0%} of a core")
            for share, r in rows:
                if r["to_guard"] and r["to_alert"]:
                    gap = statistics.median(r["to_guard"]) - statistics.median(r["to_alert"])
                    print(f"{share:.0%}: the guard raised a median {gap:.2f}s after the alert was written (its "
                          f"read of the topic); the rest is the worker's ({r['records']} background records)")
        finally:
            stop_worker(worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
