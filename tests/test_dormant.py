"""Dormant tasks (dormant.py, Engine.hibernate): a frozen task thaws to exactly the task it was, stays frozen
while nothing is due, and freezing at any moment changes no output. Spans from the real SDK (otel_helpers)."""

from __future__ import annotations

import random

import orjson
import pytest

from agentwatch.demo.synth import Step, Task
from agentwatch.dormant import Dormant
from agentwatch.engine import Engine, EngineConfig, Output
from agentwatch.policy import parse_policy
from agentwatch.settings import Settings, SettingsError
from agentwatch.tasks import TaskState
from otel_helpers import T0, decode, record_of
from sink_helpers import ListSink

S = 10**9
POLICY = parse_policy("""
agents:
  - match: "*"
    task_tokens: 2500
    tool_repeat: 3
    stall_s: 20
    idle_timeout_s: 60
""")


def _tasks(rng: random.Random, n: int) -> list[tuple[Task, int]]:
    out = []
    for i in range(n):
        looping = i % 3 == 0
        steps = []
        for _ in range(rng.randint(2, 4)):
            steps.append(Step("llm", input_tokens=rng.randint(100, 900), output_tokens=rng.randint(5, 90),
                              cache_read_tokens=rng.choice((0, 50))))
            steps.append(Step("tool", tool="search" if looping else rng.choice(("fetch", "mail")),
                              args={"q": "same" if looping else rng.random()},
                              error_type="Timeout" if rng.random() < 0.15 else None))
        out.append((Task(f"agent-{i % 3}", steps, end_root=i % 4 != 1,
                         evaluations={"faithfulness": rng.random()} if i % 2 else None), T0 + i * 7 * S))
    return out


def _signature(out: Output) -> tuple:
    return ([(a["alert_id"], a["observed"], a["ts"]) for a in out.alerts], out.summaries, out.late_scores,
            [(f.task_id, f.rows, f.alert_ids) for f in out.flagged])


def _engine(hibernate_after_s: float, **cfg: int) -> Engine:
    return Engine(POLICY, EngineConfig(keep=True, hibernate_after_s=hibernate_after_s, **cfg))


@pytest.mark.parametrize("seed", range(12))
def test_freezing_after_every_step_changes_no_output(seed: int) -> None:
    """The same batches (shuffled, split) and ticks through an engine that never freezes and one that freezes
    every idle task after every step: every step's output is the same, and some tasks were frozen and thawed
    (by spans, ticks, evictions over 6 open tasks, and on odd seeds the shedding of kept spans)."""
    rng = random.Random(seed)
    random.seed(seed)  # the SDK's IDs
    spans = decode(record_of(_tasks(rng, 10)))
    rng.shuffle(spans)
    batches = [spans[i:i + rng.randint(1, 12)] for i in range(0, len(spans), 6)]
    cfg = {"max_active_tasks": 6, "keep_max_worker_bytes": 3000 if seed % 2 else 2**26}  # odd seeds: shedding
    plain, frozen = _engine(0.0, **cfg), _engine(1e-9, **cfg)
    frozen_most = woke = 0
    for batch in batches:
        asleep = frozen.dormant
        assert _signature(plain.process(list(batch))) == _signature(frozen.process(list(batch)))
        if rng.random() < 0.5:
            now = plain.clock_ns + rng.randint(0, 30) * S
            assert _signature(plain.tick(now)) == _signature(frozen.tick(now))
        woke += frozen.dormant < asleep
        frozen.take_changes()
        frozen_most = max(frozen_most, frozen.hibernate())
    assert _signature(plain.flush()) == _signature(frozen.flush())
    assert frozen.dormant == 0 and not frozen.tasks and frozen.kept_bytes == plain.kept_bytes == 0
    assert frozen_most > 1 and woke  # tasks were frozen, and thawed by a span, an eviction or a tick


def test_a_thawed_task_is_the_task_that_was_frozen() -> None:
    random.seed(1)
    e = _engine(0.0)
    e.process(decode(record_of(_tasks(random.Random(1), 8))))
    ended = [t for t in e.tasks.values() if not t.open]
    assert ended and len(ended) < len(e.tasks)
    with pytest.raises(ValueError, match="has ended"):
        Dormant(ended[0])
    for task in (t for t in e.tasks.values() if t.open):
        assert isinstance(task, TaskState)
        d = Dormant(task)
        assert len(d.blob) < len(orjson.dumps(task.to_dict())) / 2  # compressed
        back = d.thaw()
        assert orjson.dumps(back.to_dict()) == orjson.dumps(task.to_dict())
        assert (d.open, d.end_ns, d.agent, d.fired, d.kept_nbytes) == (task.open, task.end_ns, task.agent,
                                                                        tuple(task.fired), task.kept.nbytes)


def test_a_dormant_task_stays_frozen_until_its_stall_is_due_then_stalls_as_a_live_one() -> None:
    random.seed(2)
    stalled = Task("bot", [Step("llm", input_tokens=10, output_tokens=1)], end_root=False)
    e = _engine(10.0)
    e.process(decode(record_of([(stalled, T0)])))
    (task,) = e.tasks.values()
    end = task.end_ns
    assert e.hibernate() == 0  # not idle for 10 s yet (the clock is its own last span)
    e.clock_ns = end + 10 * S
    assert e.hibernate() == 1 and e.dormant == 1 and isinstance(e.tasks[task.task_id], Dormant)
    assert e.tick(end + 19 * S).alerts == [] and e.dormant == 1  # nothing due: not thawed
    (alert,) = e.tick(end + 20 * S).alerts
    assert alert["kind"] == "stalled_task" and e.dormant == 0 and isinstance(e.tasks[task.task_id], TaskState)
    e.clock_ns = end + 40 * S
    assert e.hibernate() == 1
    assert e.tick(end + 50 * S).alerts == [] and e.dormant == 1  # the stall fired already: stays frozen
    out = e.tick(end + 60 * S)  # idle timeout: thawed and closed
    assert [s["outcome"] for s in out.summaries] == ["timed_out"] and e.dormant == 0 and not e.tasks


def test_dropping_a_dormant_task_releases_its_kept_bytes() -> None:
    random.seed(3)
    e = _engine(1e-9)
    e.process(decode(record_of([(Task("bot", [Step("llm", input_tokens=10, output_tokens=1)], end_root=False),
                                 T0)])))
    e.clock_ns += 1
    kept = e.kept_bytes
    assert kept > 0 and e.hibernate() == 1 and e.kept_bytes == kept
    assert e.drop(lambda key: False) == 1 and e.dormant == 0 and e.kept_bytes == 0


def test_the_setting_rejects_negative_and_nan() -> None:
    for bad in (-1.0, float("nan")):
        with pytest.raises(SettingsError, match="HIBERNATE_AFTER_S"):
            Settings(hibernate_after_s=bad).validate()
    assert Settings().hibernate_after_s == 30.0


def test_a_worker_freezes_idle_tasks_after_its_checkpoint_and_reports_them() -> None:
    """Through WorkerCore: the checkpoint writes the changed state first (live), then freezes what is idle; the
    gauge counts the dormant tasks."""
    from prometheus_client import CollectorRegistry

    from agentwatch.policy import Policy
    from agentwatch.sinks.metrics import Metrics
    from agentwatch.stream.core import Record, WorkerCore

    random.seed(4)
    waiting = Task("bot", [Step("llm", input_tokens=10, output_tokens=1)], end_root=False)
    later = Task("bot", [Step("llm", input_tokens=10, output_tokens=1)])
    first, second = record_of([(waiting, T0)]), record_of([(later, T0 + 60 * S)])
    registry = CollectorRegistry()
    core = WorkerCore(Settings(partitions=1, hibernate_after_s=30.0), Policy(), Metrics(50, registry), ListSink(),
                      input_partitions=1)
    core.assign({0}, {0}, [], [])
    core.shortcut.local = frozenset({0})
    core.route([Record("otlp_spans", 0, 0, first)], wall_ns=T0)
    (written,) = [w for w in core.checkpoint() if w[2] is not None]
    assert core.engine.dormant == 0  # idle for 0 s: live
    core.route([Record("otlp_spans", 0, 1, second)], wall_ns=T0)
    writes = core.checkpoint()
    assert written[1] not in {w[1] for w in writes}  # unchanged since: not written again
    assert core.engine.dormant == 1 and isinstance(core.engine.tasks[written[1]], Dormant)
    core.tick(T0)
    assert registry.get_sample_value("agentwatch_dormant_tasks") == 1.0
