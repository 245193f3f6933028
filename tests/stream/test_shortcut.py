"""The local shortcut's state machine (stream/shortcut.py) and the internal wire format it travels in."""

from agentwatch.demo.synth import Step, Task
from agentwatch.otlp.decode import decode_record
from agentwatch.stream.shortcut import LocalShortcut
from agentwatch.stream.wire import Batch, decode_batch, encode_barrier, encode_spans
from otel_helpers import T0, record_of


def test_partitions_go_local_only_when_every_barrier_is_consumed() -> None:
    sc = LocalShortcut()
    sc.assign({0, 2})
    assert sc.barriers_due and sc.local == frozenset()
    assert sc.take_barriers() == [0, 2] and not sc.barriers_due
    token = sc.token
    sc.seen(0, token)
    assert sc.local == frozenset()          # partition 2 may still hold older spans
    sc.seen(2, "another-worker-1")          # not ours: ignored
    sc.seen(2, "")
    assert sc.local == frozenset()
    sc.seen(2, token)
    assert sc.local == {0, 2} and sc.token == ""


def test_a_rebalance_makes_old_barriers_worthless() -> None:
    sc = LocalShortcut()
    sc.assign({0})
    old = sc.token
    sc.take_barriers()
    sc.abandon()                            # a rebalance begins
    assert sc.local == frozenset() and not sc.barriers_due
    sc.seen(0, old)
    assert sc.local == frozenset()
    sc.assign({0, 1})
    assert sc.token != old
    sc.seen(0, old)                         # the barrier of the previous assignment arrives late
    assert sc.pending == {0, 1}


def test_local_partitions_are_dropped_at_the_next_rebalance() -> None:
    sc = LocalShortcut()
    sc.assign({1})
    sc.seen(1, sc.token)
    assert sc.local == {1}
    sc.assign({1, 3})
    assert sc.local == frozenset() and sc.barriers_due
    sc.assign(set())
    assert not sc.barriers_due and sc.pending == set()


def test_wire_round_trip_of_spans_and_barriers() -> None:
    spans = decode_record(record_of([(Task("bot", [Step("llm", input_tokens=7, output_tokens=3),
                                                  Step("tool", tool="search", args={"q": "x"})]), T0)]),
                          max_bytes=1 << 20).spans
    batch = decode_batch(encode_spans(spans, {2: 123}))
    assert batch.watermarks == [[2, 123]] and batch.barrier == "" and batch.evaluations == []
    assert [(s.trace_id, s.span_id, s.kind, s.input_tokens, s.args_hash, s.resource.service) for s in batch.spans] == [
        (s.trace_id, s.span_id, s.kind, s.input_tokens, s.args_hash, s.resource.service) for s in spans]
    assert decode_batch(encode_barrier("w1-7")) == Batch([], [], [], "w1-7")
