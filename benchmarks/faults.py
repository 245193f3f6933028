"""The fault suite: what live workers publish while faults are injected, against `agentwatch replay` on the same bytes.

Run: .venv/bin/python benchmarks/faults.py [--experiments none sigkill kill scale sigstop poison] [--records 300]
     [--duration 24] [--check]

Each experiment gets a fresh tansu (the Faust app id, hence the consumer group and internal topics, is fixed)
and `agentwatch run --embedded-broker` workers (LocalWorker children, metrics on 127.0.0.1). One thread produces
the input: unkeyed records round-robin over 4 partitions, one record per produce batch (tansu's high-watermark
bug, see local/broker.py), paced so record i is sent when the wall clock is LEAD_S before its newest span end:
event time runs just ahead of the wall clock, as for live agents, so the heartbeat of an input partition read to
its end (wall clock - 5 s, stream/clock.py) never moves the clock past spans not yet sent, and once the input
ends every task closes a few seconds later (root end + 2 s grace), as in the reference's end-of-input flush.

Input: SDK-made GenAI traces (benchmarks/_data.py), two tiles with fresh trace IDs, ~100 spans a record; tasks
start every few ms and last ~1 s, so every task's spans are spread over several records and partitions; every
LOOP_EVERY-th task repeats one tool call (tool_loop alerts). Policy `*`: task_tokens 8000, task_cost_usd 0.03,
so most tasks fire budget alerts. `AGENTWATCH_MAX_ALERTS_PER_MINUTE` is raised for the workers and the reference
alike: the bound is per worker, in memory and judged in arrival order, so its suppressions could not match any
single-engine run.

Experiments (names as printed):
- `none`: one worker, no fault; every figure must be 0.
- `sigkill x3`: one worker SIGKILLed mid-stream and restarted at once, three times. At the first and second
  restart BACKLOG records are produced at once, on top of what piled up while the worker was down (a restart
  takes ~13 s: the group waits out the dead member's session), and the restarted worker is killed as soon as it
  has read some of it: kills two and three hit a worker catching up, before its first commit. Its input is paced
  over twice --duration, so the third restart still comes mid-stream.
- `kill 1 of 2`: two workers, one SIGKILLed and not restarted (failover after the session timeout).
- `scale 1->2->1`: one worker, a second one added under load, then the first stopped with SIGTERM.
- `broker SIGSTOP 20s`: tansu frozen for 20 s mid-stream, then SIGCONT (the producer keeps queueing).
- `poison values`: 5 records whose `gen_ai.usage.input_tokens` is a NaN or +-Inf double (hand-made with
  opentelemetry.proto: no SDK emits those) and a few hundred random-byte records the decoder rejects, among the
  good ones. A worker that exits is restarted (at most MAX_RESTARTS times), as Kubernetes would.

After the input ends the run must quiesce (bounded by QUIESCE_TIMEOUT_S, else the row is marked NOT QUIESCED):
the group's committed offsets are at the end of the input and internal topics (kafka_admin.group_lag), each
live worker's `agentwatch_active_tasks` is 0 or unchanged for ACTIVE_STABLE_S, and no alert or summary was
written for QUIET_S. Then everything on agentwatch.alerts / agentwatch.tasks / agentwatch.dlq is read.

Reference: `agentwatch replay` (the CLI, with the workers' settings) over exactly the produced bytes in produce
order, with its end-of-input flush. A record that makes the offline decoder raise (not a RecordError: the
replay itself would crash) is left out of the reference and said so.

How to read a row:
- alerts lost: reference alert_ids absent live. alert IDs not in reference: live alert_ids the reference lacks
  (broken down by kind below the table). identical alerts re-sent: extra copies of an alert_id, same content
  (allowed: delivery is at-least-once and consumers dedupe on alert_id; copies with other content are listed).
- summaries duplicated with differing content: task_ids with two or more summaries that differ; identical
  summaries re-sent: extra copies equal to an earlier one (allowed).
- tasks missing: reference task_ids with no summary. tasks with wrong totals: task_ids whose summary (any, if
  several) differs from the reference in tokens, cost_usd, llm_calls, tool_calls, tools, errors,
  max_tool_repeat, models, outcome or alerts (compared as a multiset: their order depends on batching); the
  first few are printed with the fields that differ. cost_usd is compared exactly (tasks sum it in integer
  nano-USD, so the order calls arrive in cannot change it).
- flagged tasks wrong (tail-keep): task_ids on agentwatch.flagged that raised no alert in the reference, plus
  reference tasks with an alert that were not flagged, plus flagged tasks one of whose copies does not hold
  exactly the task's input spans (each once). Re-sent copies are counted below the table.
- spans dropped late: `agentwatch_late_spans_total` summed over every worker process (scraped every
  SCRAPE_S and just before each kill; the last value per process counts: a killed worker's counter dies with it).
- DLQ records: records on agentwatch.dlq.
- recovery time s: per fault, from the restart (sigkill), the kill (failover), the added worker's start or
  the SIGTERM (scale), until every input partition that had stopped committing (no committed-offset advance for
  GAP_S while input kept coming) advances again; for the broker, from the SIGCONT until every partition's
  committed offset passes the records delivered before the SIGSTOP (a commit sent before the freeze lands just
  after it and proves nothing). The committed offsets are polled every SCRAPE_S. The table shows the worst
  fault of the experiment (every fault in the lines below it); "*": some fault was followed by the next one
  before the offsets moved (its time runs on through the next fault); "-": no partition stopped committing;
  "never": one never advanced again.
`--check` exits 1 when an experiment failed or has a non-zero figure in lost, not in reference, differing
duplicates, missing or wrong totals.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import orjson
from _data import make_records, make_spans, newest_end, tile_records
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from pipeline import log_problems, ready, scrape, total

from agentwatch.local.broker import EmbeddedBroker, child_env
from agentwatch.local.worker import LocalWorker
from agentwatch.otlp.decode import RecordError, decode_record, require_upb
from agentwatch.replay import write_length_prefixed
from agentwatch.settings import Settings, from_env
from agentwatch.stream.kafka_admin import ensure_topics, group_lag

try:
    from agentwatch.stream.topology import AGENTS_TOPIC, INTERNAL_TOPIC, topics_to_create
except ImportError:  # before stream/topology.py existed
    from agentwatch.stream.app import AGENTS_TOPIC, INTERNAL_TOPIC, topics_to_create  # type: ignore[no-redef]

GROUP = "agentwatch"  # the Faust app id (stream/topology.py APP_ID)
PARTITIONS = 4
COPIES = 2  # tiles of the SDK-made tasks, each with its own trace IDs
SPANS_PER_TASK = 10  # about what make_spans makes; only sizes the task count for --records
LOOP_EVERY = 50
LEAD_S = 2.0  # event time runs this far ahead of the wall clock when a record is produced
POLICY = 'agents:\n  - match: "*"\n    task_tokens: 8000\n    task_cost_usd: 0.03\n'
# Tasks idle 1 s of event time are frozen at each checkpoint (dormant.py; 30 s by default): faults meet them.
WORKER_ENV = {"AGENTWATCH_PARTITIONS": str(PARTITIONS), "AGENTWATCH_COMMIT_INTERVAL_S": "1",
              "AGENTWATCH_MAX_ALERTS_PER_MINUTE": "1000000", "AGENTWATCH_LOG_LEVEL": "INFO",
              "AGENTWATCH_HIBERNATE_AFTER_S": "1"}
METRICS = ("agentwatch_late_spans_total", "agentwatch_active_tasks", "agentwatch_records_total",
           "agentwatch_spans_total", "agentwatch_dlq_total", "agentwatch_duplicate_spans_total",
           "agentwatch_dormant_tasks")
SCRAPE_S = 0.25
GAP_S = 2.5  # a partition whose committed offset does not move this long while input comes has stopped
QUIET_S = 3.0
ACTIVE_STABLE_S = 15.0  # longer than the idle rule (5 s) + grace (2 s): open tasks that stay open
QUIESCE_TIMEOUT_S = 60.0
MAX_RESTARTS = 3
BACKLOG = 60  # records produced at once before a catch-up kill
POISON_VALUES = (math.nan, math.inf, -math.inf, math.nan, math.inf)
MALFORMED = 300
SUMMARY_FIELDS = ("tokens", "cost_usd", "llm_calls", "tool_calls", "tools", "errors", "max_tool_repeat", "models",
                  "outcome", "alerts")
MUST_BE_ZERO = ("lost", "not_in_ref", "summaries_differing", "missing", "wrong", "flagged_wrong")

T_START = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T_START:6.1f}s] {msg}", flush=True)


class ExperimentError(RuntimeError):
    """The experiment could not run to its end (a bounded wait ran out, a process would not start)."""


# -- input ----------------------------------------------------------------------------------------------------


def base_records(n_records: int, spans_per_record: int, duration_s: float) -> list[bytes]:
    """One tile of SDK-made tasks, sized so COPIES tiles make ~n_records and last ~duration_s of event time."""
    n_tasks = max(10, n_records * spans_per_record // (COPIES * SPANS_PER_TASK))
    per_copy_s = max(duration_s / COPIES - 2.0, 1.0)  # minus a task's length and the 1 s between tiles
    spacing = int(per_copy_s * 1e9 / n_tasks)
    return make_records(make_spans(n_tasks, spacing_ns=spacing, loop_every=LOOP_EVERY), spans_per_record)


def poison_record(rng: random.Random, value: float, t_ns: int) -> bytes:
    """A complete two-span task (agent root, one chat call) whose input token count is the double `value`."""
    td = TracesData()
    rs = td.resource_spans.add()
    kv = rs.resource.attributes.add(key="service.name")
    kv.value.string_value = "poison-bot"
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "opentelemetry.instrumentation.openai_v2", "2.4b0"
    trace_id = rng.randbytes(16)
    root_id = rng.randbytes(8)
    chat = ss.spans.add(trace_id=trace_id, span_id=rng.randbytes(8), parent_span_id=root_id, name="chat gpt-4o",
                        kind=3, start_time_unix_nano=t_ns - 400_000_000, end_time_unix_nano=t_ns - 100_000_000)
    for key, text in (("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "gpt-4o"),
                      ("gen_ai.response.model", "gpt-4o"), ("gen_ai.provider.name", "openai")):
        chat.attributes.add(key=key).value.string_value = text
    chat.attributes.add(key="gen_ai.usage.input_tokens").value.double_value = value
    chat.attributes.add(key="gen_ai.usage.output_tokens").value.int_value = 100
    root = ss.spans.add(trace_id=trace_id, span_id=root_id, name="invoke_agent poison-bot", kind=1,
                        start_time_unix_nano=t_ns - 500_000_000, end_time_unix_nano=t_ns)
    for key, text in (("gen_ai.operation.name", "invoke_agent"), ("gen_ai.agent.name", "poison-bot")):
        root.attributes.add(key=key).value.string_value = text
    return td.SerializeToString()


def malformed_records(rng: random.Random, n: int, settings: Settings) -> list[bytes]:
    """`n` random byte strings that the decoder rejects (random bytes sometimes parse as a valid TracesData)."""
    out: list[bytes] = []
    while len(out) < n:
        raw = rng.randbytes(rng.randint(1, 2000))
        try:
            decode_record(raw, max_bytes=settings.max_record_bytes, encoding=settings.spans_encoding)
        except RecordError:
            out.append(raw)
        except Exception:  # also not a usable record
            continue
    return out


def with_poison(records: list[bytes], settings: Settings, seed: int = 7) -> list[bytes]:
    """The good records with POISON_VALUES records at even intervals and MALFORMED bad ones at random places."""
    rng = random.Random(seed)
    out = list(records)
    bad = malformed_records(rng, MALFORMED, settings)
    for k, value in enumerate(POISON_VALUES):
        at = (k + 1) * len(records) // (len(POISON_VALUES) + 1)
        out.insert(at + k, poison_record(rng, value, newest_end(records[at - 1])))
    for raw in bad:
        out.insert(rng.randint(1, len(out)), raw)
    return out


def schedule(records: list[bytes]) -> list[float]:
    """Seconds after the first send at which each record is due: LEAD_S before its newest span end (records
    with no span, e.g. random bytes, go with the one before)."""
    ends: list[int] = []
    for rec in records:
        try:
            end = newest_end(rec)
        except Exception:  # not a TracesData
            end = 0
        ends.append(end or (ends[-1] if ends else 0))
    first = next((e for e in ends if e), 0)
    return [max(0.0, (e - first) / 1e9) for e in ends]


class PacedProducer(threading.Thread):
    """Sends `records` at their scheduled times (or at once after `burst`), unkeyed, round-robin over the
    partitions, one record per produce batch. Counts what was sent and delivered per partition."""

    def __init__(self, bootstrap: str, topic: str, records: list[bytes], due_s: list[float]) -> None:
        super().__init__(daemon=True, name="producer")
        self.bootstrap, self.topic, self.records, self.due_s = bootstrap, topic, records, due_s
        self.sent = 0
        self.released = 0  # records below this index are due now (a backlog)
        self.delivered = [0] * PARTITIONS
        self.errors: list[str] = []
        self.finished = threading.Event()
        self.started_at = 0.0

    def burst(self, n: int) -> int:
        """Release the next `n` unsent records at once; returns how many were released."""
        self.released = min(len(self.records), max(self.released, self.sent) + n)
        return self.released - self.sent

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.delivered[msg.partition()] += 1

    def run(self) -> None:
        # Idempotent: a retried produce request (a broker slow to answer while groups rebalance) would otherwise
        # write its records twice, and the workers would count both copies (they are other offsets) while the
        # reference counts the record once. Duplicated input is checked after each run.
        p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0, "batch.num.messages": 1, "acks": "all",
                      "enable.idempotence": True,
                      "queue.buffering.max.messages": len(self.records) + 10,
                      "queue.buffering.max.kbytes": 1 << 21})
        try:
            self.started_at = time.monotonic()
            while self.sent < len(self.records):
                wait = self.due_s[self.sent] - (time.monotonic() - self.started_at)
                if self.sent < self.released or wait <= 0:
                    p.produce(self.topic, value=self.records[self.sent], key=None,
                              partition=self.sent % PARTITIONS, on_delivery=self._delivered)
                    self.sent += 1
                    p.poll(0)
                else:
                    p.poll(min(wait, 0.01))
            left = p.flush(120)
            if left:
                self.errors.append(f"{left} records not delivered after 120 s")
        finally:
            self.finished.set()


# -- one experiment ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    lost: int = 0
    not_in_ref: Counter = field(default_factory=Counter)
    lost_by_kind: Counter = field(default_factory=Counter)
    alerts_resent: int = 0
    alerts_resent_other_content: int = 0
    summaries_differing: int = 0
    summaries_resent: int = 0
    missing: int = 0
    wrong: int = 0
    wrong_examples: list[str] = field(default_factory=list)
    wrong_fields: Counter = field(default_factory=Counter)
    resent_fields: Counter = field(default_factory=Counter)  # fields that differ between copies of an alert_id
    live_only_tasks: int = 0
    flagged: int = 0         # tasks on agentwatch.flagged (tail-keep)
    flagged_resent: int = 0  # extra copies of a flagged task (allowed, like summaries)
    flagged_wrong: int = 0   # flagged without a reference alert, alerted but not flagged, or spans lost/doubled
    late: float = 0.0
    dlq: int = 0
    recovery: list[Recovery] = field(default_factory=list)
    failure: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def bad(self) -> bool:
        return bool(self.failure) or any(
            (sum(v.values()) if isinstance(v, Counter) else v) for v in (getattr(self, k) for k in MUST_BE_ZERO))

    def recovery_text(self) -> str:
        """The worst fault's; "*": some fault was followed by the next one before offsets advanced again."""
        if any(r.seconds is None for r in self.recovery):
            return "never"
        worst = max((r.seconds for r in self.recovery if r.seconds), default=0.0)
        star = "*" if any(r.after_next for r in self.recovery) else ""
        return f"{worst:.1f}{star}" if worst else "-"


@dataclass
class Recovery:
    fault: str
    seconds: float | None  # None: some partition never committed again; 0: none stopped committing
    after_next: bool = False  # the offsets advanced only after the next fault

    def __str__(self) -> str:
        if self.seconds is None:
            return f"after {self.fault}: never"
        if not self.seconds:
            return f"after {self.fault}: no commit stall"
        return f"after {self.fault}: {self.seconds:.1f}s" + (" (only after the next fault)" if self.after_next else "")


class Run:
    """The processes of one experiment, what is known about them, and the faults' actions."""

    def __init__(self, name: str, tmp: Path, broker: EmbeddedBroker, env: dict[str, str]) -> None:
        self.name, self.tmp, self.broker, self.env = name, tmp, broker, env
        self.workers: list[LocalWorker] = []
        self.wanted: dict[int, bool] = {}  # id(worker) -> should be running
        self.restarts = 0
        self.lock = threading.Lock()
        self.metrics: dict[int, dict[str, float]] = {}  # pid -> last scrape
        self.most_dormant = 0.0  # dormant tasks in one worker's scrape, at most
        self.commits: dict[int, list[tuple[float, int]]] = {}  # input partition -> (time, committed) at changes
        self.events: list[tuple[str, float, list[int] | None]] = []  # (fault, time, committed-offset floors)
        self.notes: list[str] = []
        self.producer: PacedProducer | None = None
        self.records: list[bytes] = []
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, daemon=True, name="monitor")
        self._monitor.start()

    # -- processes ------------------------------------------------------------------------------------------
    def start_worker(self) -> LocalWorker:
        i = len(self.workers)
        w = LocalWorker(self.broker.url, self.env, log_dir=str(self.tmp / f"worker{i}"))
        self.workers.append(w)
        self.wanted[id(w)] = True
        self._start(w, f"worker{i}")
        return w

    def _start(self, w: LocalWorker, label: str) -> None:
        t = time.monotonic()
        try:
            w.start()
        except Exception as exc:
            raise ExperimentError(f"{label} did not start: {str(exc)[:2000]}") from exc
        say(f"  {label} ready in {time.monotonic() - t:.1f}s (pid {w.pid})")

    def label(self, w: LocalWorker) -> str:
        return f"worker{self.workers.index(w)}"

    def _scrape(self, w: LocalWorker) -> dict[str, float]:
        pid = w.pid
        if pid is None or not w.running:
            return {}
        try:
            m = scrape(w.metrics_port, METRICS)
        except Exception:  # e.g. http.client.IncompleteRead: the worker died mid-answer
            return {}
        if m:
            with self.lock:
                self.metrics[pid] = m
                self.most_dormant = max(self.most_dormant, m.get("agentwatch_dormant_tasks{}", 0.0))
        return m

    def kill(self, w: LocalWorker) -> None:
        """SIGKILL (after a last scrape of its counters); the process is reaped, its log kept."""
        self._scrape(w)
        pid = w.pid
        self.wanted[id(w)] = False
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        w.stop(timeout_s=10.0)
        say(f"  SIGKILL {self.label(w)} (pid {pid}); input lag {self.input_lag()} records")

    def restart(self, w: LocalWorker) -> None:
        self.wanted[id(w)] = True
        self.event("restart " + self.label(w))
        self._start(w, self.label(w))

    def terminate(self, w: LocalWorker) -> None:
        self._scrape(w)
        self.wanted[id(w)] = False
        t = time.monotonic()
        w.stop(timeout_s=30.0)
        say(f"  SIGTERM {self.label(w)}: exited in {time.monotonic() - t:.1f}s")

    def stop_all(self) -> None:
        for w in self.workers:
            self.wanted[id(w)] = False
            with contextlib.suppress(Exception):
                w.stop(timeout_s=15.0)

    def supervise(self) -> None:
        """Restart a worker that exited on its own (as Kubernetes would), at most MAX_RESTARTS times."""
        for w in self.workers:
            if self.wanted.get(id(w)) and not w.running:
                tail = " | ".join(line.strip()[:200] for line in w.log_tail(8).splitlines()[-4:])
                self.notes.append(f"{self.label(w)} exited on its own; log tail: {tail}")
                say(f"  {self.label(w)} EXITED on its own; log tail: {tail}")
                if self.restarts >= MAX_RESTARTS:
                    self.wanted[id(w)] = False
                    self.notes.append(f"{self.label(w)} not restarted again (already {MAX_RESTARTS} restarts)")
                    continue
                self.restarts += 1
                w.stop()
                self.restart(w)

    def event(self, what: str, floors: list[int] | None = None) -> None:
        """A fault at this moment. With `floors` (per input partition) it has recovered once every partition's
        committed offset passes its floor (else: once every partition that stopped committing advances)."""
        self.events.append((what, time.monotonic(), floors))

    # -- input ------------------------------------------------------------------------------------------------
    def begin_input(self, base: list[bytes], poison: bool = False) -> PacedProducer:
        """Tile the input now (so its event time starts LEAD_S ahead of this moment) and start producing."""
        start_ns = time.time_ns() + int(LEAD_S * 1e9)
        records, _ = tile_records(base, COPIES * len(base), start_ns=start_ns)
        if poison:
            records = with_poison(records, from_env(self.env))
        self.records = records
        self.producer = PacedProducer(self.broker.bootstrap, self.env["AGENTWATCH_SPANS_TOPIC"], records,
                                      schedule(records))
        self.producer.start()
        say(f"  producing {len(records)} records over {self.producer.due_s[-1]:.0f}s")
        return self.producer

    def at(self, fraction: float, timeout_s: float = 120.0) -> None:
        """Wait until `fraction` of the input was sent."""
        assert self.producer is not None
        n = int(fraction * len(self.records))
        self.wait(lambda: self.producer.sent >= n, timeout_s, f"{fraction:.0%} of the input sent")

    def reads(self, w: LocalWorker, n: int, timeout_s: float = 60.0) -> None:
        """Wait until worker `w` (this process) has read `n` input records."""
        def read() -> bool:
            return total([self._scrape(w)], "agentwatch_records{") >= n
        self.wait(read, timeout_s, f"{self.label(w)} reading {n} records", poll_s=0.02)

    def wait(self, cond: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.1) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            self.supervise()
            if time.monotonic() > deadline:
                raise ExperimentError(f"timed out after {timeout_s:g}s waiting for {what}")
            time.sleep(poll_s)

    def input_lag(self) -> int | str:
        lag = group_lag(self.broker.bootstrap, GROUP, [self.env["AGENTWATCH_SPANS_TOPIC"]], timeout_s=2.0)
        return sum(lag.values()) if lag else "?"

    # -- monitoring ----------------------------------------------------------------------------------------------
    def _watch(self) -> None:
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP, "enable.auto.commit": False})
        tps = [TopicPartition(self.env["AGENTWATCH_SPANS_TOPIC"], p) for p in range(PARTITIONS)]
        try:
            while not self._stop.is_set():
                for w in list(self.workers):
                    with contextlib.suppress(Exception):  # a worker being killed or restarted
                        self._scrape(w)
                with contextlib.suppress(Exception):  # the broker may be frozen or the group rebalancing
                    now = time.monotonic()
                    for tp in c.committed(tps, timeout=1.0):
                        series = self.commits.setdefault(tp.partition, [(now, tp.offset)])
                        if tp.offset != series[-1][1]:
                            series.append((now, tp.offset))
                self._stop.wait(SCRAPE_S)
        finally:
            c.close()

    def close(self) -> None:
        self._stop.set()
        self._monitor.join(timeout=10)

    def late_spans(self) -> float:
        with self.lock:
            return total(list(self.metrics.values()), "agentwatch_late_spans{")

    def active(self) -> list[float]:
        return [total([self._scrape(w)], "agentwatch_active_tasks{") for w in self.workers if w.running]

    def recovery(self) -> list[Recovery]:
        """Per fault: until every input partition that stopped committing advances again (see the docstring)."""
        out: list[Recovery] = []
        end = time.monotonic()
        for k, (what, t0, floors) in enumerate(self.events):
            t_next = self.events[k + 1][1] if k + 1 < len(self.events) else end
            worst: float | None = 0.0
            for p, series in self.commits.items():
                if floors is not None:
                    passed = next((t for t, c in series if t > t0 and c > floors[p]), None)
                    if passed is None:
                        worst = None
                        break
                    worst = max(worst, passed - t0)
                    continue
                times = [t for t, _ in series]
                gap_end = next((b for a, b in itertools.pairwise(times)
                                if b - a >= GAP_S and b > t0 and a < t_next), None)
                if gap_end is None and times[-1] < t0 and end - t0 >= GAP_S:
                    worst = None  # never committed again after the fault
                    break
                if gap_end is not None:
                    worst = max(worst, gap_end - t0)
            out.append(Recovery(what, worst, worst is not None and t0 + worst > t_next))
        return out

def quiesce(run: Run, outputs: list[str]) -> None:
    """Bounded wait until the input is consumed and committed, tasks are closed and nothing new is written."""
    assert run.producer is not None
    bootstrap = run.broker.bootstrap
    run.wait(run.producer.finished.is_set, run.producer.due_s[-1] + 150, "the producer to finish")
    if run.producer.errors:
        raise ExperimentError(f"producer: {run.producer.errors[:3]}")
    say(f"  input sent ({len(run.records)} records); waiting for quiescence")
    topics = [run.env["AGENTWATCH_SPANS_TOPIC"], INTERNAL_TOPIC, AGENTS_TOPIC]
    meta = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-meta", "enable.auto.commit": False})
    deadline = time.monotonic() + QUIESCE_TIMEOUT_S
    last_out, out_changed = None, time.monotonic()
    last_active: list[float] | None = None
    active_changed = time.monotonic()
    why = "not checked yet"
    try:
        while time.monotonic() < deadline:
            run.supervise()
            now = time.monotonic()
            hw = sum(meta.get_watermark_offsets(TopicPartition(t, p), timeout=2.0)[1]
                     for t in outputs for p in range(PARTITIONS))
            if hw != last_out:
                last_out, out_changed = hw, now
            active = run.active()
            if active != last_active:
                last_active, active_changed = active, now
            lag = group_lag(bootstrap, GROUP, topics, timeout_s=3.0)
            behind = {f"{t}[{p}]": n for (t, p), n in (lag or {}).items() if n}
            running = [w for w in run.workers if run.wanted.get(id(w))]
            problems = []
            if not running or not all(w.running for w in running):
                problems.append("no worker running")
            if lag is None or len(lag) < len(topics) * PARTITIONS or behind:
                problems.append(f"group lag {behind or lag}")
            if any(active) and now - active_changed < ACTIVE_STABLE_S:
                problems.append(f"open tasks {active}")
            if now - out_changed < QUIET_S:
                problems.append("outputs still being written")
            if not problems:
                note = f" (open tasks {active}, unchanged {now - active_changed:.0f}s)" if any(active) else ""
                say(f"  quiesced{note}")
                if any(active):
                    run.notes.append(f"quiesced with open tasks {active} (unchanged for {ACTIVE_STABLE_S:g}s)")
                return
            why = "; ".join(problems)
            time.sleep(0.5)
    finally:
        meta.close()
    raise ExperimentError(f"NOT QUIESCED after {QUIESCE_TIMEOUT_S:g}s: {why}")


def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every value on `topic` (manual assignment from the start, no group): until each partition reported EOF
    and nothing arrived for 1 s (tansu's high watermark can sit below a batched last write)."""
    return [v for _, v in read_keyed(bootstrap, topic, timeout_s)]


def read_keyed(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[tuple[bytes, bytes]]:
    """As `read_topic`, with each record's key."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    out: list[tuple[bytes, bytes]] = []
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        eof: set[int] = set()
        deadline = time.monotonic() + timeout_s
        last = time.monotonic()
        while time.monotonic() < deadline and (len(eof) < PARTITIONS or time.monotonic() - last < 1.0):
            for m in c.consume(500, timeout=0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                else:
                    out.append((m.key(), m.value()))
                    last = time.monotonic()
    finally:
        c.close()
    return out


def reference(records: list[bytes], env: dict[str, str], tmp: Path) -> tuple[list[dict], list[dict], list[str]]:
    """`agentwatch replay` (CLI, the workers' settings) over `records` in order: (alerts, summaries, notes)."""
    settings = from_env(env)
    keep, notes = [], []
    for i, rec in enumerate(records):
        try:
            decode_record(rec, max_bytes=settings.max_record_bytes, encoding=settings.spans_encoding)
        except RecordError:
            pass
        except Exception as exc:  # replay would crash on it
            notes.append(f"record {i}: {type(exc).__name__}: {exc}")
            continue
        keep.append(rec)
    path = tmp / "input.otlp"
    with open(path, "wb") as f:
        write_length_prefixed(keep, f)
    proc = subprocess.run([sys.executable, "-m", "agentwatch.cli", "replay", str(path), "--policy",
                           env["AGENTWATCH_POLICY"]], capture_output=True, env=env, timeout=300)
    if proc.returncode != 0:
        raise ExperimentError(f"replay failed ({proc.returncode}): {proc.stderr.decode()[-1500:]}")
    alerts, summaries = [], []
    for line in proc.stdout.splitlines():
        d = orjson.loads(line)
        (alerts if d.pop("type") == "alert" else summaries).append(d)
    return alerts, summaries, notes


def differs(live: dict, ref: dict) -> list[str]:
    out = []
    for f in SUMMARY_FIELDS:
        a, b = live.get(f), ref.get(f)
        same = sorted(a or []) == sorted(b or []) if f == "alerts" else a == b  # alert order depends on batching
        if not same:
            out.append(f"{f} {a!r} != {b!r}")
    return out


def compare(row: Row, ref_alerts: list[dict], ref_tasks: list[dict], live_alerts: list[bytes],
            live_tasks: list[bytes]) -> None:
    ref_ids = {a["alert_id"]: a["kind"] for a in ref_alerts}
    copies: dict[str, list[bytes]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for raw in live_alerts:
        a = orjson.loads(raw)
        copies[a["alert_id"]].append(raw)
        kinds[a["alert_id"]] = a["kind"]
    row.lost_by_kind = Counter(k for i, k in ref_ids.items() if i not in copies)
    row.lost = sum(row.lost_by_kind.values())
    row.not_in_ref = Counter(kinds[i] for i in copies if i not in ref_ids)
    for same in copies.values():
        distinct = list(dict.fromkeys(same))
        row.alerts_resent += len(same) - len(distinct)
        row.alerts_resent_other_content += len(distinct) - 1
        if len(distinct) > 1:
            first, *others = (orjson.loads(raw) for raw in distinct)
            row.resent_fields.update({k for o in others for k in first.keys() | o.keys() if first.get(k) != o.get(k)})
    ref_by_task = {s["task_id"]: s for s in ref_tasks}
    live: dict[str, list[bytes]] = defaultdict(list)
    for raw in live_tasks:
        live[orjson.loads(raw)["task_id"]].append(raw)
    row.missing = sum(1 for t in ref_by_task if t not in live)
    row.live_only_tasks = sum(1 for t in live if t not in ref_by_task)
    for task_id, same in live.items():
        distinct = set(same)
        row.summaries_resent += len(same) - len(distinct)
        row.summaries_differing += len(distinct) > 1
        ref = ref_by_task.get(task_id)
        if ref is None:
            continue
        parsed = [orjson.loads(raw) for raw in distinct]
        diffs = [d for d in (differs(s, ref) for s in parsed) if d]
        if diffs:
            row.wrong += 1
            row.wrong_fields.update({d.split(" ", 1)[0] for ds in diffs for d in ds})
            if len(row.wrong_examples) < 5:
                row.wrong_examples.append(f"task {task_id[:12]}… ({len(same)} summaries): {'; '.join(diffs[0])}")


def compare_flagged(row: Row, records: list[bytes], ref_tasks: list[dict], live: list[tuple[bytes, bytes]]) -> None:
    """Tail-keep: the flagged tasks are the reference tasks that raised an alert, and every copy of each holds
    each of its task's input spans exactly once."""
    spans: dict[str, list[str]] = defaultdict(list)
    for rec in records:
        with contextlib.suppress(Exception):  # records the decoder rejects hold no spans of any task
            for sp in decode_record(rec, max_bytes=1 << 26).spans:
                spans[sp.trace_id].append(sp.span_id)
    copies: dict[str, list[bytes]] = defaultdict(list)
    for k, v in live:
        copies[k.decode()].append(v)
    wrong = set(copies) ^ {t["task_id"] for t in ref_tasks if t["alerts"]}
    for task_id, values in copies.items():
        for v in set(values):
            if sorted(sp.span_id for sp in decode_record(v, max_bytes=1 << 26).spans) != sorted(spans[task_id]):
                wrong.add(task_id)
    row.flagged, row.flagged_resent, row.flagged_wrong = len(copies), len(live) - len(copies), len(wrong)


def run_experiment(key: str, base: list[bytes], policy: Path) -> Row:
    name, script, _ = EXPERIMENTS[key]
    row = Row(name)
    t0 = time.monotonic()
    say(f"experiment {name!r}")
    tmp = Path(tempfile.mkdtemp(prefix="agentwatch-faults-"))
    env = child_env(drop_prefixes=("AGENTWATCH_",))
    env.update(WORKER_ENV, AGENTWATCH_POLICY=str(policy), AGENTWATCH_SPANS_TOPIC="otlp_spans")
    settings = from_env(env)
    outputs = [settings.alerts_topic, settings.tasks_topic]
    run: Run | None = None
    live_alerts: list[bytes] = []
    live_tasks: list[bytes] = []
    live_flagged: list[tuple[bytes, bytes]] = []
    try:
        with EmbeddedBroker(log_dir=tmp / "broker") as broker:
            ensure_topics(broker.bootstrap, topics_to_create(settings))
            run = Run(name, tmp, broker, env)
            try:
                script(run, base)
                quiesce(run, outputs)
            except ExperimentError as exc:
                row.failure = str(exc)
                say(f"  FAILED: {exc}")
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(broker.pid or 0, signal.SIGCONT)  # in case it failed while frozen
                for w in run.workers:
                    run._scrape(w)
                row.late = run.late_spans()
                with run.lock:
                    read = list(run.metrics.values())
                ok, bad = (total(read, f'agentwatch_records{{status="{status}"') for status in ("ok", "malformed"))
                row.notes.append(f"input records read (last scrape of each worker process, re-reads included): "
                                 f"ok {ok:.0f}, malformed {bad:.0f}, of {len(run.records)} produced; "
                                 f"at most {run.most_dormant:.0f} dormant tasks in a worker")
                live_alerts = read_topic(broker.bootstrap, settings.alerts_topic)
                live_tasks = read_topic(broker.bootstrap, settings.tasks_topic)
                live_flagged = read_keyed(broker.bootstrap, settings.flagged_topic)
                row.dlq = len(read_topic(broker.bootstrap, settings.dlq_topic))
                logged = len(read_topic(broker.bootstrap, settings.spans_topic))
                if logged != len(run.records):
                    row.notes.append(f"the input topic holds {logged} records for {len(run.records)} produced: "
                                     "the workers read the copies, the reference does not")
                row.recovery = run.recovery()
                run.stop_all()
                run.close()
                for w in run.workers:
                    row.notes += [f"{run.label(w)} log: {p}" for p in log_problems(w.log_path)
                                  if "dead-letter" not in p][:6]
        if run.records:
            ref_alerts, ref_tasks, ref_notes = reference(run.records, env, tmp)
            row.notes += [f"left out of the reference (the offline decoder raises): {n}" for n in ref_notes]
            compare(row, ref_alerts, ref_tasks, live_alerts, live_tasks)
            compare_flagged(row, run.records, ref_tasks, live_flagged)
            say(f"  reference: {len(ref_alerts)} alerts {dict(Counter(a['kind'] for a in ref_alerts))}, "
                f"{len(ref_tasks)} tasks; live: {len(live_alerts)} alerts, {len(live_tasks)} summaries")
    except ExperimentError as exc:
        row.failure = row.failure or str(exc)
        say(f"  FAILED: {exc}")
    finally:
        if run is not None:
            run.stop_all()
            run.close()
            row.notes = run.notes + row.notes
        if row.bad():  # what it takes to find out why: worker and broker logs, the input (replay's format), outputs
            for name, values in (("live_alerts.jsonl", live_alerts), ("live_tasks.jsonl", live_tasks)):
                (tmp / name).write_bytes(b"\n".join(values))
            row.notes.append(f"kept for diagnosis: {tmp} (worker*/ logs, input.otlp, live_*.jsonl)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for r in row.recovery:
        say(f"  recovery {r}")
    row.seconds = time.monotonic() - t0
    say(f"  done in {row.seconds:.0f}s")
    return row


# -- the faults -------------------------------------------------------------------------------------------------


def exp_none(run: Run, base: list[bytes]) -> None:
    run.start_worker()
    run.begin_input(base)


def exp_sigkill(run: Run, base: list[bytes]) -> None:
    w = run.start_worker()
    producer = run.begin_input(base)
    run.at(0.1)
    run.kill(w)
    for _ in range(2):  # catch-up kills: a backlog on top of what piles up during the restart, killed reading it
        n = producer.burst(BACKLOG)
        run.restart(w)
        run.reads(w, 1)
        read = total([run._scrape(w)], "agentwatch_records{")
        say(f"  backlog: {n} records produced at once at the restart; the new process has read {read:.0f} records "
            f"(input sent so far {producer.sent})")
        run.kill(w)
    run.restart(w)


def exp_kill_one(run: Run, base: list[bytes]) -> None:
    run.start_worker()
    victim = run.start_worker()
    run.wait(lambda: all(ready(w.metrics_port)[0] for w in run.workers), 60, "both workers ready after the rebalance")
    run.begin_input(base)
    run.at(0.4)
    run.event("SIGKILL worker1")
    run.kill(victim)


def exp_scale(run: Run, base: list[bytes]) -> None:
    first = run.start_worker()
    run.begin_input(base)
    run.at(0.25)
    run.event("worker1 added")
    second = run.start_worker()
    run.wait(lambda: ready(first.metrics_port)[0] and ready(second.metrics_port)[0], 60,
             "both workers ready after the rebalance")
    run.at(0.65)
    run.event("SIGTERM worker0")
    run.terminate(first)


def exp_sigstop(run: Run, base: list[bytes]) -> None:
    run.start_worker()
    run.begin_input(base)
    run.at(0.3)
    pid = run.broker.pid
    assert pid is not None
    assert run.producer is not None
    floors = list(run.producer.delivered)  # recovered once records delivered after this are committed
    os.kill(pid, signal.SIGSTOP)
    say("  broker SIGSTOP")
    try:
        time.sleep(20)
    finally:
        os.kill(pid, signal.SIGCONT)
        run.event("broker SIGCONT", floors)
        say("  broker SIGCONT")


def exp_poison(run: Run, base: list[bytes]) -> None:
    run.start_worker()
    run.begin_input(base, poison=True)


# key -> (name as printed, script, input length as a multiple of --duration). Three SIGKILL restarts take
# ~40 s (the restarted worker's group join waits out the dead member's 6 s session), so that input is longer.
EXPERIMENTS: dict[str, tuple[str, Callable[[Run, list[bytes]], None], float]] = {
    "none": ("none", exp_none, 1.0),
    "sigkill": ("sigkill x3", exp_sigkill, 2.0),
    "kill": ("kill 1 of 2", exp_kill_one, 1.0),
    "scale": ("scale 1->2->1", exp_scale, 1.0),
    "sigstop": ("broker SIGSTOP 20s", exp_sigstop, 1.0),
    "poison": ("poison values", exp_poison, 1.0),
}
COLUMNS = ("experiment", "alerts lost", "alert IDs not in reference", "identical alerts re-sent",
           "summaries duplicated with differing content", "identical summaries re-sent", "tasks missing",
           "tasks with wrong totals", "flagged tasks wrong", "spans dropped late", "DLQ records", "recovery time s")


def table(rows: list[Row]) -> list[str]:
    cells = [COLUMNS] + [(r.name + (" (FAILED)" if r.failure else ""), str(r.lost), str(sum(r.not_in_ref.values())),
                          str(r.alerts_resent), str(r.summaries_differing), str(r.summaries_resent), str(r.missing),
                          str(r.wrong), str(r.flagged_wrong), f"{r.late:.0f}", str(r.dlq), r.recovery_text())
                         for r in rows]
    lines = ["| " + " | ".join(c) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("---" for _ in COLUMNS) + "|")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiments", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS))
    ap.add_argument("--records", type=int, default=300, help="about this many input records (before poison)")
    ap.add_argument("--spans-per-record", type=int, default=100)
    ap.add_argument("--duration", type=float, default=24.0, help="seconds of event time, hence of paced input")
    ap.add_argument("--check", action="store_true", help="exit 1 if a must-be-zero figure is not 0")
    args = ap.parse_args()
    require_upb()
    bases: dict[float, list[bytes]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="agentwatch-faults-policy-"))
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    say(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    rows = []
    try:
        for key in args.experiments:
            stretch = EXPERIMENTS[key][2]
            if stretch not in bases:
                t = time.monotonic()
                bases[stretch] = base_records(args.records, args.spans_per_record, args.duration * stretch)
                say(f"input: {COPIES} x {len(bases[stretch])} records of ~{args.spans_per_record} spans over "
                    f"{args.duration * stretch:.0f}s of event time (made in {time.monotonic() - t:.1f}s)")
            rows.append(run_experiment(key, bases[stretch], policy))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("\n".join(table(rows)))
    print()
    for r in rows:
        extra = []
        if r.failure:
            extra.append(f"FAILED: {r.failure}")
        if r.lost:
            extra.append(f"alerts lost by kind: {dict(r.lost_by_kind)}")
        if r.not_in_ref:
            extra.append(f"alert IDs not in reference by kind: {dict(r.not_in_ref)}")
        if r.alerts_resent_other_content:
            extra.append(f"{r.alerts_resent_other_content} re-sent alert copies with other content than the first "
                         f"(fields: {dict(r.resent_fields)})")
        if r.wrong_fields:
            extra.append(f"wrong totals by field (tasks): {dict(r.wrong_fields)}")
        if r.live_only_tasks:
            extra.append(f"{r.live_only_tasks} live task_ids the reference lacks")
        extra += [f"wrong totals: {e}" for e in r.wrong_examples]
        extra.append(f"tail-keep: {r.flagged} tasks flagged ({r.flagged_resent} identical-task copies re-sent)")
        extra += [f"recovery {x}" for x in r.recovery]
        extra += r.notes
        if extra:
            print(f"{r.name} ({r.seconds:.0f}s):")
            print("\n".join(f"  {e}" for e in extra))
    print(f"\nwhole suite: {time.monotonic() - T_START:.0f}s")
    if args.check and any(r.bad() for r in rows):
        print("check: FAILED (non-zero figure in lost / not in reference / differing duplicates / missing / "
              "wrong totals / flagged tasks wrong, or an experiment did not complete)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
