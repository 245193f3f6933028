"""The checkpoint order, with a fake producer: outputs acknowledged, then state, then (embedded) markers."""

import asyncio

from agentwatch.demo.synth import Step, Task
from agentwatch.policy import Policy
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.checkpoint import Checkpointer
from agentwatch.stream.core import Record, WorkerCore
from agentwatch.stream.topology import HW_MARKER_KEY, INTERNAL_TOPIC, TABLE, changelog_topic
from otel_helpers import T0, record_of

CHANGELOG = changelog_topic(TABLE)


class FakeProducer:
    """Records every send and every acknowledgement wait, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.internal: list[tuple[int, bytes]] = []  # re-key messages, to feed back to `aggregate`

    def send(self, topic, value, key=None, partition=None, headers=None) -> None:
        kind = "marker" if key == HW_MARKER_KEY else "state" if topic == CHANGELOG else "output"
        self.events.append(("send", kind))
        if topic == INTERNAL_TOPIC:
            self.internal.append((partition, value))

    async def wait_delivered(self) -> None:
        self.events.append(("acked", ""))


def _worker(hw_markers: bool = False) -> tuple[WorkerCore, FakeProducer]:
    out = FakeProducer()
    core = WorkerCore(Settings(partitions=2), Policy(), Metrics(10), out, input_partitions=1, hw_markers=hw_markers)
    core.assign({0, 1}, {0, 1}, [], [])
    core.shortcut.abandon()  # every span through the (fake) re-key topic
    return core, out


def test_state_is_sent_only_after_every_output_is_acknowledged() -> None:
    core, out = _worker()
    core.route([Record("otlp_spans", 0, 0, record_of([(Task("bot", [Step("llm", input_tokens=5)]), T0)]))],
               wall_ns=T0)
    core.aggregate([Record("agentwatch-spans-by-task", p, 0, v) for p, v in _sent_internal(out)])
    ck = Checkpointer(core, out)
    ck.take()
    core.tick(T0)  # work after the checkpoint was taken belongs to the next one
    out.events.clear()
    asyncio.run(ck.complete())
    sends = [i for i, e in enumerate(out.events) if e == ("send", "state")]
    first_ack = out.events.index(("acked", ""))
    assert sends and all(i > first_ack for i in sends) and out.events[-1] == ("acked", "")


def test_checkpoints_taken_before_completion_are_all_written_in_order_and_markers_come_last() -> None:
    core, out = _worker(hw_markers=True)
    ck = Checkpointer(core, out)
    for offset in range(2):
        core.route([Record("otlp_spans", 0, offset, record_of([(Task("bot", [Step("llm", input_tokens=5)]), T0)]))],
                   wall_ns=T0)
        core.aggregate([Record("agentwatch-spans-by-task", p, 0, v) for p, v in _sent_internal(out)])
        ck.take()
    out.events.clear()
    asyncio.run(ck.complete())
    kinds = [k for e, k in out.events if e == "send"]
    assert kinds.count("state") == 2 and kinds[-1] == "marker" and "output" not in kinds
    assert out.events[-1] == ("acked", "") and out.events[0] == ("acked", "")
    out.events.clear()
    asyncio.run(ck.complete())  # nothing taken since: only the acknowledgement wait
    assert out.events == [("acked", "")]


def _sent_internal(out: FakeProducer) -> list[tuple[int, bytes]]:
    """The re-key messages sent since the last call."""
    sent, out.internal = out.internal, []
    return sent
