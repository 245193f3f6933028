"""The input clock of agent silence: every per-agent partition hears it from each worker's tick."""

from agentwatch.demo.synth import Step, Task
from agentwatch.policy import Policy
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.core import Record, WorkerCore
from agentwatch.stream.topology import AGENTS_TOPIC
from otel_helpers import T0, record_of
from sink_helpers import ListSink


def test_tick_sends_the_newest_span_end_to_every_agent_partition_when_it_moved() -> None:
    sink = ListSink()
    core = WorkerCore(Settings(partitions=3), Policy(), Metrics(10), sink, input_partitions=1)
    core.assign({0, 1, 2}, {0, 1, 2}, [], [])
    core.shortcut.local = frozenset({0, 1, 2})  # one worker: spans folded here, their watermarks heard here
    core.tick(T0)
    assert [s for s in sink.sent if s[0] == AGENTS_TOPIC] == []  # nothing read yet: no clock
    core.route([Record("otlp_spans", 0, 0, record_of([(Task("bot", [Step("llm", input_tokens=5)]), T0)]))],
               wall_ns=T0)
    newest = core.newest[0]
    sink.sent.clear()
    core.tick(T0)
    clocks = [(p, v) for t, p, v in sink.sent if t == AGENTS_TOPIC]
    assert clocks == [(p, b"[[],[],%d]" % newest) for p in range(3)]
    sink.sent.clear()
    core.tick(T0 + 10**9)  # heartbeats move the task clock, never this one
    assert [s for s in sink.sent if s[0] == AGENTS_TOPIC] == []
    core.agents([Record(AGENTS_TOPIC, p, 7, v) for p, v in clocks])
    assert core.agent_stage.silence.clock_ns == newest


def test_the_input_clock_never_runs_past_the_task_clock() -> None:
    """Tasks still held open by a slower input partition (read by another worker) have not sent their summaries:
    a clock past them would make their agents look silent."""
    sink = ListSink()
    core = WorkerCore(Settings(partitions=1), Policy(), Metrics(10), sink, input_partitions=2)
    core.assign({0}, {0}, [], [])
    core.shortcut.local = frozenset({0})
    core.route([Record("otlp_spans", 0, 0, record_of([(Task("bot", [Step("llm", input_tokens=5)]), T0)]))],
               wall_ns=T0)
    core.tick(T0)
    assert [s for s in sink.sent if s[0] == AGENTS_TOPIC] == []  # input partition 1 not heard: no clock yet
    core.clock.heard(0, 1, T0 - 10**9)  # the other worker has read partition 1 up to a second before T0
    core.tick(T0)
    assert [v for t, _, v in sink.sent if t == AGENTS_TOPIC] == [b"[[],[],%d]" % (T0 - 10**9)]
    assert core.newest[0] > T0 - 10**9
