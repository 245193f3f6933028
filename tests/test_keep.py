"""Tail-keep (keep.py, Engine): what a task keeps, its bounds, what is flagged at close, and that a flagged
task's spans replay to the same alerts. Spans from the real SDK (tests/otel_helpers.py)."""

from __future__ import annotations

import orjson

from agentwatch.demo.synth import Step, Task
from agentwatch.engine import Engine, EngineConfig, NullObserver
from agentwatch.keep import KeptSpans, decode_rows, encode_rows, flagged_headers, from_headers
from agentwatch.otlp.encode import to_traces
from agentwatch.policy import Policy, parse_policy
from agentwatch.tasks import TaskState
from otel_helpers import T0, decode, record_of

POLICY = parse_policy("""
agents:
  - match: "*"
    task_tokens: 100000
    tool_repeat: 3
    keep_below: {faithfulness: 0.5}
""")


class Recorder(NullObserver):
    def __init__(self) -> None:
        self.keep: list[tuple[str, str, int]] = []

    def tail_keep(self, status: str, reason: str, nbytes: int) -> None:
        self.keep.append((status, reason, nbytes))


def loop_task(agent: str = "bot") -> Task:
    return Task(agent, [Step("llm", input_tokens=10, output_tokens=1),
                        *[Step("tool", tool="search", args={"q": "paris"}) for _ in range(4)],
                        Step("llm", input_tokens=10, output_tokens=1)])


def healthy_task(agent: str = "bot", evaluations: dict[str, float] | None = None) -> Task:
    return Task(agent, [Step("llm", input_tokens=10, output_tokens=1), Step("tool", tool="search", args={"q": 1}),
                        Step("llm", input_tokens=10, output_tokens=1)], evaluations=evaluations)


def engine(observer: NullObserver | None = None, **cfg: int) -> Engine:
    return Engine(POLICY, EngineConfig(keep=True, **cfg), observer=observer)


def _ids(spans) -> list[str]:
    return sorted(s.span_id for s in spans)


def test_a_task_that_alerts_is_flagged_with_every_span_and_its_alert_ids() -> None:
    spans = decode(record_of([(loop_task(), T0), (healthy_task(), T0 + 10**9)]))
    e = engine()
    out = e.process(spans)
    out.extend(e.flush())
    (flagged,) = out.flagged
    loop_alerts = [a for a in out.alerts if a["kind"] == "tool_loop"]
    assert flagged.alert_kinds == ["tool_loop"] and flagged.alert_ids == [a["alert_id"] for a in loop_alerts]
    assert flagged.reasons == ["alert"] and flagged.cut == 0
    mine = [s for s in spans if s.trace_id == flagged.trace_id]
    assert _ids(decode_rows(flagged.rows)) == _ids(mine)
    assert e.kept_bytes == 0 and all(t.kept is None for t in e.tasks.values())


def test_a_healthy_task_keeps_nothing_and_a_low_score_is_flagged() -> None:
    good = healthy_task(evaluations={"faithfulness": 0.9})
    bad = healthy_task("other", evaluations={"faithfulness": 0.2})
    e = engine()
    out = e.process(decode(record_of([(good, T0), (bad, T0 + 10**9)])))
    out.extend(e.flush())
    (flagged,) = out.flagged
    assert flagged.agent == "other" and flagged.reasons == ["low_score"] and flagged.alert_ids == []


def test_off_by_default_keeps_nothing() -> None:
    e = Engine(POLICY)
    out = e.process(decode(record_of([(loop_task(), T0)])))
    out.extend(e.flush())
    assert out.flagged == [] and all(t.kept is None for t in e.tasks.values())


def test_the_per_task_bound_keeps_the_first_and_the_last_spans() -> None:
    spans = decode(record_of([(loop_task(), T0)]))
    spans.sort(key=lambda s: s.start_ns)
    k = KeptSpans()
    k.add(spans, max_spans=4, max_bytes=1 << 20)
    assert [s.span_id for s in decode_rows(k.rows)] == [s.span_id for s in spans[:2] + spans[-2:]]
    assert k.cut == len(spans) - 4
    row = len(next(encode_rows(spans[:1])))
    k = KeptSpans()
    k.add(spans, max_spans=1000, max_bytes=4 * row + row // 2)  # room for about four rows
    assert len(k.rows) < len(spans) and k.nbytes <= 4 * row + row // 2 and k.cut == len(spans) - len(k.rows)
    rows = list(encode_rows(spans))
    assert k.rows[0] == rows[0] and k.rows[-1] == rows[-1]


def test_a_truncated_flagged_task_says_so() -> None:
    obs = Recorder()
    e = engine(obs, keep_max_spans=4)
    out = e.process(decode(record_of([(loop_task(), T0)])))
    out.extend(e.flush())
    (flagged,) = out.flagged
    assert len(flagged.rows) == 4 and flagged.cut > 0
    assert ("truncated", "alert", 0) in obs.keep and [s for s, *_ in obs.keep].count("kept") == 1


def test_over_the_worker_bound_the_least_recently_updated_buffers_go_first_and_count() -> None:
    obs = Recorder()
    first = decode(record_of([(loop_task("a"), T0)]))
    one = sum(map(len, encode_rows(first)))
    e = engine(obs, keep_max_worker_bytes=one + one // 2)
    e.process(first)                                          # task a: open until the grace after its root
    e.process(decode(record_of([(healthy_task("b"), T0 + 10**9)])))
    assert e.kept_bytes <= one + one // 2
    dropped = [x for x in obs.keep if x[0] == "dropped"]
    assert dropped and dropped[0][1] == "worker_bytes" and dropped[0][2] == one
    out = e.flush()
    assert out.flagged == []                                  # a's buffer was let go: it is lost, and counted
    assert ("lost", "alert", 0) in obs.keep


def test_the_buffer_survives_the_persisted_state() -> None:
    e = engine()
    spans = decode(record_of([(loop_task(), T0)]))
    e.process([s for s in spans if s.parent_id])  # the root has not arrived: the task stays open
    (task,) = e.tasks.values()
    back = TaskState.from_dict(orjson.loads(orjson.dumps(task.to_dict())))
    assert back.kept is not None and back.kept.rows == task.kept.rows and back.kept.nbytes == task.kept.nbytes
    e2 = engine()
    e2.adopt(task.task_id, orjson.loads(orjson.dumps(task.to_dict())))
    assert e2.kept_bytes == task.kept.nbytes
    out = e2.process([s for s in spans if not s.parent_id])
    out.extend(e2.flush())
    (flagged,) = out.flagged
    assert _ids(decode_rows(flagged.rows)) == _ids(spans)
    assert e2.kept_bytes == 0


def test_state_persisted_before_tail_keep_is_read() -> None:
    e = engine()
    e.process([s for s in decode(record_of([(loop_task(), T0)])) if s.parent_id])
    (task,) = e.tasks.values()
    doc = orjson.loads(orjson.dumps(task.to_dict()))
    del doc["kept"], doc["alert_ids"]
    back = TaskState.from_dict(doc)
    assert back.kept is None and back.alert_ids == []


def test_flagged_spans_replay_to_the_same_alerts() -> None:
    e = engine()
    out = e.process(decode(record_of([(loop_task(), T0)])))
    out.extend(e.flush())
    (flagged,) = out.flagged
    record = to_traces(decode_rows(flagged.rows)).SerializeToString()
    again = Engine(POLICY)
    out2 = again.process(decode(record))
    out2.extend(again.flush())
    assert sorted(a["alert_id"] for a in out2.alerts) == sorted(a["alert_id"] for a in out.alerts)
    assert out2.summaries == out.summaries


def test_headers_round_trip() -> None:
    e = engine()
    out = e.process(decode(record_of([(loop_task(), T0)])))
    out.extend(e.flush())
    (f,) = out.flagged
    h = from_headers(flagged_headers(f))
    assert h["task_id"] == f.task_id and h["alert_ids"] == f.alert_ids and h["spans"] == len(f.rows)
    assert h["truncated"] == 0 and h["reasons"] == ["alert"] and h["end_ns"] == f.end_ns


def test_policy_keep_below_is_validated() -> None:
    import pytest

    from agentwatch.policy import PolicyError

    with pytest.raises(PolicyError, match="keep_below"):
        parse_policy('agents:\n  - match: "*"\n    keep_below: [1]\n')
    assert Policy().rule_for("x").keep_below == ()


def test_a_kept_row_holds_little_more_memory_than_its_bytes() -> None:
    """orjson's output keeps its over-allocated buffer (8 KiB for a ~290-byte row): rows are trimmed copies."""
    import tracemalloc

    spans = decode(record_of([(loop_task(), T0)])) * 50
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows = list(encode_rows(spans))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1.5 * sum(map(len, rows)) + 100 * len(rows)


def test_rows_of_spans_from_several_resources_each_carry_their_own() -> None:
    """`encode_rows` encodes a resource once per run of its spans: interleaved resources must not mix."""
    from agentwatch.model import Resource

    spans = decode(record_of([(healthy_task(), T0)]))
    resources = [Resource("svc-a", "ns"), Resource("svc-b", "", "pod-1", "dep"), Resource()]
    for i, s in enumerate(spans):
        s.resource = resources[i % 3]
    back = decode_rows(list(encode_rows(spans)))
    assert [s.resource for s in back] == [s.resource for s in spans]
    assert [[getattr(b, f) for f in ("span_id", "name", "input_tokens", "args_hash")] for b in back] == [
        [getattr(s, f) for f in ("span_id", "name", "input_tokens", "args_hash")] for s in spans]
