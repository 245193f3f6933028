"""Deterministic simulation of delivery: the worker's core (stream/core.py) over an in-memory Kafka, with
crashes, partial deliveries, lost commits and rebalances injected between any two steps.

The simulated runtime follows what the Faust adapter (stream/app.py) does: a step is one stage batch;
a checkpoint is `core.checkpoint()` with the offsets processed so far chosen at that moment, then (other
steps may run meanwhile) every record acknowledged, then those offsets committed. A crash loses the
worker's memory and, per partition, any suffix of what its producer had not delivered yet. A rebalance
commits (or, at random, fails to commit) and hands partitions round, each new owner recovering the
tables from their changelogs and starting at the committed offsets.

Property, for every seed: the task summaries (totals, tools, errors, outcome, alert kinds), the set of
alert IDs and each agent's baseline task count equal those of `agentwatch replay` over the same records;
a summary sent more than once is identical each time (tasks idle for 1 s of event time are frozen at each
checkpoint: dormant.py); the tasks flagged by tail-keep are those that alerted, each flagged record (every
copy) holding each of its task's spans exactly once.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from agentwatch.demo.synth import Step, Task
from agentwatch.engine import Engine, EngineConfig
from agentwatch.otlp.decode import decode_record
from agentwatch.policy import parse_policy
from agentwatch.replay import replay, write_length_prefixed
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.clock import behind, caught_up
from agentwatch.stream.core import Record, WorkerCore
from agentwatch.stream.topology import AGENTS_TOPIC, BASELINE_TABLE, INTERNAL_TOPIC, TABLE, changelog_topic
from otel_helpers import T0, emit, records

PARTITIONS = 4  # re-key, per-agent and changelog topics
INPUTS = 3
INPUT = "otlp_spans"
# Tasks idle 1 s of event time are frozen at each checkpoint (dormant.py): crashes meet dormant tasks too.
SETTINGS = Settings(partitions=PARTITIONS, max_alerts_per_minute=10**6, hibernate_after_s=1.0)
POLICY = parse_policy("agents:\n  - match: '*'\n    task_tokens: 3000\n    task_cost_usd: 0.0006\n"
                      "    tool_repeat: 3\n    stall_s: 20\n    idle_timeout_s: 40\n")
TASKS_CHANGELOG, BASELINES_CHANGELOG = changelog_topic(TABLE), changelog_topic(BASELINE_TABLE)
S = 10**9
SEEDS = 300
CHECKPOINT_WEIGHT = 0.15
FAULT_P = 0.01  # per step: a run of ~500 steps sees its faults spread over the input


# -- data: real SDK spans, several tasks interleaved, some over budget, some looping, one stalled ----------
def _dataset(seed: int, n_tasks: int = 14, per_record: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    random.seed(seed)  # the SDK draws trace and span IDs from the global generator: the same data every run
    tasks = []
    for i in range(n_tasks):
        steps = []
        looping = i % 4 == 0
        for _ in range(rng.randint(3, 4) if looping else rng.randint(1, 4)):
            steps.append(Step("llm", input_tokens=rng.randint(100, 1500), output_tokens=rng.randint(10, 200)))
            tool = "search" if looping else rng.choice(("search", "fetch"))
            args = {"q": "same"} if looping else {"q": rng.random()}
            error = "Timeout" if rng.random() < 0.1 else None
            steps.append(Step("tool", tool=tool, args=args, error_type=error))
        tasks.append((Task(f"agent-{i % 3}", steps, end_root=i != 5), T0 + i * 700_000_000))
    spans, _ = emit(tasks)
    spans.sort(key=lambda s: s.end_time)
    return records(spans, per_record)


DATASETS = [_dataset(k) for k in range(3)]


def _spans_by_task(recs: list[bytes]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for rec in recs:
        for s in decode_record(rec, max_bytes=1 << 24).spans:
            out[s.trace_id].append(s.span_id)
    return out


def _reference(recs: list[bytes], tmp: Path) -> tuple[dict[str, dict], set[str]]:
    path = tmp / "input.otlp"
    with path.open("wb") as f:
        write_length_prefixed(recs, f)
    engine = Engine(POLICY, EngineConfig(max_alerts_per_minute=10**6))
    summaries, alerts = {}, set()
    for out in replay([path], engine, max_record_bytes=1 << 24):
        summaries.update((s["task_id"], s) for s in out.summaries)
        alerts.update(a["alert_id"] for a in out.alerts)
    return summaries, alerts


# -- the in-memory Kafka ---------------------------------------------------------------------------
class Log:
    def __init__(self) -> None:
        self.parts: dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = defaultdict(list)
        self.committed: dict[tuple[str, int], int] = {}

    def end(self, topic: str, p: int) -> int:
        return len(self.parts[(topic, p)])

    def read(self, topic: str, p: int, start: int, n: int) -> list[Record]:
        rows = self.parts[(topic, p)][start:start + n]
        return [Record(topic, p, start + i, value, key) for i, (key, value) in enumerate(rows)]

    def table(self, topic: str) -> list[tuple[bytes, bytes]]:
        """A changelog as Faust recovers it: the last value per key, deletes applied."""
        last: dict[bytes, bytes | None] = {}
        for (t, _), rows in self.parts.items():
            if t == topic:
                for key, value in rows:
                    last[key] = value  # type: ignore[index]
        return [(k, v) for k, v in last.items() if v is not None]

    def values(self, topic: str) -> list[bytes]:
        return [v for (t, _), rows in self.parts.items() if t == topic for _, v in rows if v is not None]

    def keyed(self, topic: str) -> list[tuple[bytes, bytes]]:
        return [(k, v) for (t, _), rows in self.parts.items() if t == topic for k, v in rows if k and v]


class SimProducer:
    """A producer: records queue per partition and are delivered in order (librdkafka, idempotent)."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.queues: dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = defaultdict(list)

    def send(self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None,
             headers: Any = None) -> None:
        self.queues[(topic, partition or 0)].append((key, value))

    def deliver(self, where: tuple[str, int], n: int) -> None:
        queue = self.queues[where]
        self.log.parts[where].extend(queue[:n])
        del queue[:n]

    def deliver_some(self, rng: random.Random) -> None:
        busy = [w for w, q in self.queues.items() if q]
        if busy:
            where = rng.choice(busy)
            self.deliver(where, rng.randint(1, len(self.queues[where])))

    def deliver_all(self) -> None:
        for where, queue in self.queues.items():
            self.deliver(where, len(queue))

    def crash(self, rng: random.Random) -> None:
        for where, queue in self.queues.items():
            self.deliver(where, rng.randint(0, len(queue)))
            queue.clear()

    @property
    def empty(self) -> bool:
        return not any(self.queues.values())


@dataclass
class SimWorker:
    log: Log
    wall: Callable[[], int]
    core: WorkerCore = field(init=False)
    out: SimProducer = field(init=False)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    pending_commit: dict[tuple[str, int], int] | None = None
    pending_state: list[Any] | None = None
    paused: set[int] = field(default_factory=set)  # input partitions paused by alignment
    hw: dict[int, int] = field(default_factory=dict)  # a paused input partition's high watermark at the pause

    def __post_init__(self) -> None:
        self.out = SimProducer(self.log)
        self.core = WorkerCore(SETTINGS, POLICY, Metrics(50, CollectorRegistry()), self.out, input_partitions=INPUTS)

    def owned(self, topic: str) -> list[int]:
        return [p for (t, p) in self.positions if t == topic]

    def highwater(self, p: int) -> int:
        """An input partition's high watermark as the reader knows it: from its last fetch. A paused partition is
        not fetched, so it stays where it was at the pause; the others are fetched all the time."""
        return self.hw[p] if p in self.paused else self.log.end(INPUT, p)

    def align(self, rng: random.Random) -> None:
        """Pause and resume as `app._align`. A partition paused still hands over the records already fetched
        (up to the high watermark that fetch reported, which may be short of the end by then)."""
        inputs = self.owned(INPUT)
        pause = self.core.to_pause(inputs, behind(self.offsets()))
        for p in pause - self.paused:
            self.hw[p] = min(self.log.end(INPUT, p), self.positions[(INPUT, p)] + rng.randint(0, 3))
        self.paused = pause

    def fetched(self, p: int, n: int) -> int:
        """Up to `n` of the next records of input partition `p`: a paused one only what was fetched before."""
        return min(n, self.hw[p] - self.positions[(INPUT, p)]) if p in self.paused else n

    def readable_input(self) -> list[int]:
        return [p for p in self.readable(INPUT) if p not in self.paused or self.positions[(INPUT, p)] < self.hw[p]]

    def offsets(self) -> dict[int, tuple[int, int]]:
        """Owned input partition -> (high watermark as the reader knows it, next offset): what the reader sees."""
        return {p: (self.highwater(p), self.positions[(INPUT, p)]) for p in self.owned(INPUT)}

    def caught_up(self) -> list[int]:
        return caught_up(self.offsets(), self.paused)

    def readable(self, topic: str) -> list[int]:
        return [p for p in self.owned(topic) if self.positions[(topic, p)] < self.log.end(topic, p)]

    def step(self, topic: str, p: int, n: int) -> None:
        recs = self.log.read(topic, p, self.positions[(topic, p)], n)
        if topic == INPUT:
            self.core.route(recs, wall_ns=self.wall())
        else:
            {INTERNAL_TOPIC: self.core.aggregate, AGENTS_TOPIC: self.core.agents}[topic](recs)
        self.positions[(topic, p)] += len(recs)

    def begin_checkpoint(self) -> None:
        self.pending_state = (self.pending_state or []) + self.core.checkpoint()
        self.pending_commit = dict(self.positions)

    def finish_checkpoint(self, rng: random.Random | None = None) -> None:
        """Outputs acknowledged, then the state sent (and, later, acknowledged), then the offsets committed."""
        if self.pending_state is not None:
            self.out.deliver_all()
            self.core.write_state(self.pending_state)
            self.pending_state = None
            if rng is not None and rng.random() < 0.5:
                return  # the state is on its way: other steps run while the runtime waits
        self.out.deliver_all()
        for tp, offset in (self.pending_commit or {}).items():
            if tp in self.positions:  # a commit for a revoked partition is discarded (as Faust does)
                self.log.committed[tp] = offset
        self.pending_commit = None


class Simulation:
    def __init__(self, recs: list[bytes], seed: int, workers: int, faults: int) -> None:
        self.rng = random.Random(seed)
        self.log = Log()
        self.recs = recs
        self.produced = 0
        self.wall = T0
        self.faults = faults
        self.paused_steps = 0  # steps with an input partition paused by alignment
        self.workers = [SimWorker(self.log, self.now) for _ in range(workers)]
        self.rebalance()

    def now(self) -> int:
        return self.wall

    def rebalance(self) -> None:
        rng = self.rng
        for w in self.workers:  # revoke: Faust checkpoints and flushes; the commit itself may fail
            w.begin_checkpoint()
            if rng.random() < 0.3:
                w.pending_commit = None  # CommitFailedError: the state is written, the offsets are not
            w.finish_checkpoint()
        order = self.workers[:]
        rng.shuffle(order)
        n = len(order)
        turn = rng.randrange(n)
        owners = {}
        for p in range(PARTITIONS):  # co-partitioned: re-key, per-agent and changelog partition p together
            owners[(INTERNAL_TOPIC, p)] = owners[(AGENTS_TOPIC, p)] = order[(p + turn) % n]
        for p in range(INPUTS):
            owners[(INPUT, p)] = rng.choice(order)
        for w in order:
            w.positions = {tp: self.log.committed.get(tp, 0) for tp, o in owners.items() if o is w}
            w.paused = set()  # the worker resumes what it paused at each assignment
            w.core.assign(set(w.owned(INTERNAL_TOPIC)), set(w.owned(AGENTS_TOPIC)),
                          self.log.table(TASKS_CHANGELOG), self.log.table(BASELINES_CHANGELOG))

    def produce(self) -> None:
        rec = self.recs[self.produced]
        self.log.parts[(INPUT, self.produced % INPUTS)].append((None, rec))
        self.produced += 1
        from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
        ends = [s.end_time_unix_nano for rs in TracesData.FromString(rec).resource_spans
                for ss in rs.scope_spans for s in ss.spans]
        self.wall = max(self.wall, max(ends) + S)  # records are produced as their spans end

    def tick(self, w: SimWorker) -> None:
        w.align(self.rng)
        w.core.heartbeat(w.caught_up(), self.wall)
        w.core.tick(self.wall)

    def fault(self) -> None:
        rng = self.rng
        self.faults -= 1
        kind = rng.choice(("crash", "crash", "scale_out", "scale_in") if len(self.workers) > 1
                          else ("crash", "crash", "scale_out"))
        if kind == "crash":
            victim = rng.choice(self.workers)
            victim.out.crash(rng)
            self.workers.remove(victim)
            if not self.workers or rng.random() < 0.7:
                self.workers.append(SimWorker(self.log, self.now))  # restarted at once (or never, for a failover)
        elif kind == "scale_out":
            self.workers.append(SimWorker(self.log, self.now))
        else:
            leaver = rng.choice(self.workers)  # SIGTERM: finishes, commits, flushes, leaves
            leaver.begin_checkpoint()
            leaver.finish_checkpoint()
            self.workers.remove(leaver)
        self.rebalance()

    def step(self, quiet: bool = False) -> None:
        """One random step (or, unless `quiet`, sometimes a fault)."""
        rng = self.rng
        actions: list[Any] = []
        if self.produced < len(self.recs):
            actions.append(self.produce)
        for w in self.workers:
            core = w.core
            if core.shortcut.barriers_due:
                actions.append(core.send_barriers)
            elif core.shortcut.pending:
                actions.append(core.shortcut.abandon if rng.random() < 0.02 else (lambda: None))
            else:
                w.align(rng)  # watermark alignment, as the reader does after each batch and tick
                self.paused_steps += bool(w.paused)
                actions += [lambda w=w, p=p: w.step(INPUT, p, w.fetched(p, rng.randint(1, 3)))
                            for p in w.readable_input()]
            for topic in (INTERNAL_TOPIC, AGENTS_TOPIC):
                actions += [lambda w=w, t=topic, p=p: w.step(t, p, rng.randint(1, 4)) for p in w.readable(topic)]
            if not w.out.empty:
                actions.append(lambda w=w: w.out.deliver_some(rng))
            actions.append(lambda w=w: self.tick(w))
            if rng.random() < CHECKPOINT_WEIGHT:  # commits are rare next to steps, as in a worker
                actions.append(w.begin_checkpoint if w.pending_commit is None else lambda w=w: w.finish_checkpoint(rng))
        if self.faults and not quiet and rng.random() < FAULT_P:
            self.fault()
            return
        rng.choice(actions)()

    def run(self, max_steps: int = 20_000) -> None:
        steps = 0
        while (self.produced < len(self.recs) or self.faults) and steps < max_steps:
            self.step()
            steps += 1
        # Input over, no more faults: let everything drain, the clock run past every deadline, then commit.
        for _ in range(100):
            for _ in range(20):
                self.step(quiet=True)
            self.wall += 5 * S
            for w in self.workers:
                w.out.deliver_all()
                for topic in (INTERNAL_TOPIC, AGENTS_TOPIC, INPUT):
                    if topic == INPUT and (w.core.shortcut.barriers_due or w.core.shortcut.pending):
                        continue  # route waits for the barriers (stream/shortcut.py)
                    for p in w.owned(topic):
                        while w.positions[(topic, p)] < self.log.end(topic, p):
                            w.step(topic, p, 10)
                self.tick(w)
            if all(not w.core.engine.tasks and w.out.empty and not any(
                    w.readable(t) for t in (INPUT, INTERNAL_TOPIC, AGENTS_TOPIC)) for w in self.workers):
                break


def _check(sim: Simulation, ref_summaries: dict[str, dict], ref_alerts: set[str]) -> None:
    summaries: dict[str, dict] = {}
    for raw in sim.log.values(SETTINGS.tasks_topic):
        s = orjson.loads(raw)
        s["alerts"] = sorted(s["alerts"])  # the order detectors fired in depends on batch boundaries
        if s["task_id"] in summaries:
            assert summaries[s["task_id"]] == s, "a summary sent again differs"
        summaries[s["task_id"]] = s
    expected = {k: {**v, "alerts": sorted(v["alerts"])} for k, v in ref_summaries.items()}
    assert summaries.keys() == expected.keys()
    for k, s in summaries.items():
        assert s == expected[k], k  # every field, cost included (summed in integer nano-USD: any order)
    alerts = {orjson.loads(a)["alert_id"] for a in sim.log.values(SETTINGS.alerts_topic)}
    assert alerts == ref_alerts
    flagged = sim.log.keyed(SETTINGS.flagged_topic)
    assert {k.decode() for k, _ in flagged} == {k for k, v in ref_summaries.items() if v["alerts"]}
    spans = _spans_by_task(sim.recs)
    for key, value in flagged:
        kept = [s.span_id for s in decode_record(value, max_bytes=1 << 24).spans]
        assert sorted(kept) == sorted(spans[key.decode()]), f"flagged task {key.decode()}: spans lost or doubled"
    counts: dict[str, int] = defaultdict(int)
    for w in sim.workers:
        for agent in list(w.core.agent_stage.drift.baselines):
            counts[agent] += w.core.agent_stage.drift.baselines.peek(agent).tasks_in_window()
    per_agent: dict[str, int] = defaultdict(int)
    for s in ref_summaries.values():
        per_agent[s["agent"]] += 1
    assert dict(counts) == dict(per_agent)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> list[tuple[dict[str, dict], set[str]]]:
    return [_reference(recs, tmp_path_factory.mktemp(f"ref{i}")) for i, recs in enumerate(DATASETS)]


def test_reference_has_every_kind_of_outcome(references) -> None:
    """The data exercises what the simulation compares: budget and loop alerts, a stall, errors."""
    for summaries, alerts in references:
        kinds = {k for s in summaries.values() for k in s["alerts"]}
        assert {"token_budget", "cost_budget", "tool_loop", "stalled_task"} <= kinds and len(alerts) >= 10
        assert {s["outcome"] for s in summaries.values()} >= {"ok", "timed_out"}


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_no_fault_equals_replay(references, workers) -> None:
    for seed in range(10):
        sim = Simulation(DATASETS[seed % 3], seed, workers, faults=0)
        sim.run()
        _check(sim, *references[seed % 3])


@pytest.mark.parametrize("workers", [1, 2])
def test_crashes_and_rebalances_at_any_step_equal_replay(references, workers) -> None:
    """SEEDS runs per worker count, each with up to 4 crashes / scale-outs / scale-ins at random steps, input
    partitions paused and resumed by watermark alignment as a worker's reader does (in most runs)."""
    aligned = 0
    for seed in range(SEEDS // 2):
        sim = Simulation(DATASETS[seed % 3], 1000 * workers + seed, workers, faults=4)
        sim.run()
        aligned += sim.paused_steps > 0
        try:
            _check(sim, *references[seed % 3])
        except AssertionError as exc:
            raise AssertionError(f"seed {1000 * workers + seed}: {exc}") from exc
    assert aligned > SEEDS // 4, "alignment paused an input partition in too few runs to be tested here"
