"""Task state and detectors through the engine, on spans from the real SDK."""

import random

import pytest

from agentwatch.demo.synth import Step, Task
from agentwatch.engine import Engine, EngineConfig, NullObserver
from agentwatch.model import LLM
from agentwatch.policy import Policy, parse_policy
from agentwatch.tasks import MAX_TOOLS, OTHER_LABEL, TaskState
from otel_helpers import T0, decode, emit, record_of, records_of


def run(records: list[bytes], policy: Policy | None = None, flush: bool = True, **cfg):
    engine = Engine(policy or Policy(), EngineConfig(**cfg))
    alerts, summaries = [], []
    for rec in records:
        out = engine.process(decode(rec))
        alerts += out.alerts
        summaries += out.summaries
    if flush:
        out = engine.flush()
        alerts += out.alerts
        summaries += out.summaries
    return engine, alerts, summaries


def llm(i, o, **kw):
    return Step("llm", input_tokens=i, output_tokens=o, **kw)


def tool(name="search", args=None, **kw):
    return Step("tool", tool=name, args=args, **kw)


def test_no_double_count_of_agent_span_usage():
    task = Task("bot", [llm(100, 10), tool(args={"a": 1}), llm(200, 20)], agent_usage=True)
    _, _, (summary,) = run([record_of([(task, T0)])])
    assert summary["tokens"]["input"] == 300 and summary["tokens"]["output"] == 30
    assert summary["tokens"]["total"] == 330 and summary["llm_calls"] == 2


def test_agent_span_usage_used_when_no_llm_spans():
    task = Task("bot", [tool(args={"a": 1})], agent_usage=True)
    spans = decode(record_of([(task, T0)]))
    (agent,) = [s for s in spans if s.agent_name == "bot"]
    agent.input_tokens, agent.output_tokens = 500, 50
    engine = Engine(Policy())
    engine.process(spans)
    (summary,) = engine.flush().summaries
    assert summary["tokens"]["total"] == 550


@pytest.mark.parametrize("vocab", ["otel", "traceloop", "openinference", "langfuse", "openlit"])
@pytest.mark.parametrize("order", ["export", "parents_first", "shuffled"])
def test_agent_attribution_whatever_the_arrival_order(vocab, order):
    task = Task("support-bot", [llm(100, 10), tool(args={"a": 1}), llm(50, 5)], vocab=vocab)
    spans, _ = emit([(task, T0)], service="pod-service")
    if order == "parents_first":
        spans = spans[::-1]
    elif order == "shuffled":
        random.Random(7).shuffle(spans)
    from agentwatch.demo.synth import records
    _, _, (summary,) = run(records(spans, per_record=2))  # also: one trace split over several records
    assert summary["agent"] == "support-bot"
    assert summary["service"] == "pod-service"
    assert summary["tokens"]["total"] == 165 and summary["llm_calls"] == 2 and summary["tool_calls"] == 1
    assert summary["outcome"] == "ok"


def test_trace_split_over_records_is_one_task():
    tasks = [(Task("a", [llm(10, 1)] * 5), T0), (Task("b", [llm(20, 2)] * 3), T0)]
    _, _, summaries = run(records_of(tasks, per_record=1))
    by_agent = {s["agent"]: s for s in summaries}
    assert len(summaries) == 2
    assert by_agent["a"]["tokens"]["total"] == 55 and by_agent["b"]["tokens"]["total"] == 66


def test_agent_falls_back_to_service_name():
    spans = [s for s in decode(record_of([(Task("x", [llm(1, 1)]), T0)], service="my-svc")) if s.kind == 1]
    engine = Engine(Policy())
    engine.process(spans)
    (summary,) = engine.flush().summaries
    assert summary["agent"] == "my-svc" and summary["outcome"] == "timed_out"


POLICY = parse_policy("""
agents:
  - match: "*"
    task_tokens: 1000
    task_cost_usd: 0.01
    daily_cost_usd: 0.05
    tool_repeat: 3
    stall_s: 60
""")


def kinds(alerts):
    return sorted(a["kind"] for a in alerts)


def test_token_budget_fires_once_above_threshold_not_at_it():
    at = Task("bot", [llm(500, 0), llm(500, 0)])           # exactly 1000: not over
    over = Task("bot", [llm(500, 0), llm(500, 1), llm(500, 0)])
    _, alerts, _ = run([record_of([(at, T0)])], POLICY)
    assert "token_budget" not in kinds(alerts)
    _, alerts, _ = run(records_of([(over, T0)], per_record=1), POLICY)
    budget = [a for a in alerts if a["kind"] == "token_budget"]
    assert len(budget) == 1 and budget[0]["observed"] == 1001 and budget[0]["threshold"] == 1000
    assert budget[0]["action"] == "terminate" and budget[0]["rule"] == "*/task_tokens"


def test_cost_budget_fires_once():
    # gpt-4o: 2.5 $/M input. 3000 tokens = $0.0075 per call.
    costly = Task("bot", [llm(3000, 0, model="gpt-4o"), llm(3000, 0, model="gpt-4o")])
    _, alerts, summaries = run(records_of([(costly, T0)], per_record=1), POLICY)
    assert kinds(alerts).count("cost_budget") == 1
    assert summaries[0]["cost_usd"] == pytest.approx(0.015)


def loop_task(n, args=True, llm_between=True):
    steps = []
    for _ in range(n):
        if llm_between:
            steps.append(llm(10, 1))
        steps.append(tool("search", {"q": "paris"} if args else None))
    return Task("bot", [*steps, llm(10, 1)])


@pytest.mark.parametrize("per_record", [None, 100])
def test_tool_loop_fires_once_at_threshold_not_below(per_record):
    _, alerts, (summary,) = run(records_of([(loop_task(2), T0)], per_record), POLICY)
    assert "tool_loop" not in kinds(alerts) and summary["max_tool_repeat"] == 2
    _, alerts, (summary,) = run(records_of([(loop_task(6), T0)], per_record), POLICY)
    (loop,) = [a for a in alerts if a["kind"] == "tool_loop"]
    assert loop["observed"] == 3 and loop["evidence"]["repeats"] == 3
    assert loop["evidence"]["tool"] == "search" and len(loop["evidence"]["args_sha256"]) == 64
    assert len(loop["evidence"]["span_ids"]) == 3 and loop["severity"] == "critical"
    assert summary["max_tool_repeat"] == 6 and summary["alerts"] == ["tool_loop"]


def test_loop_run_inside_one_batch_that_then_breaks_is_caught():
    steps = [tool("search", {"q": 1})] * 3 + [tool("other", {"q": 2})]
    _, alerts, _ = run([record_of([(Task("bot", steps), T0)])], POLICY)
    assert kinds(alerts) == ["tool_loop"]


def test_different_args_are_not_a_loop():
    steps = [tool("search", {"q": i}) for i in range(6)]
    _, alerts, _ = run([record_of([(Task("bot", steps), T0)])], POLICY)
    assert "tool_loop" not in kinds(alerts)


def test_weak_loop_signal_without_arguments():
    # No arguments, an LLM call between each: not a loop (the weak signal needs consecutive calls).
    _, alerts, _ = run([record_of([(loop_task(5, args=False), T0)])], POLICY)
    assert "tool_loop" not in kinds(alerts)
    _, alerts, _ = run([record_of([(loop_task(3, args=False, llm_between=False), T0)])], POLICY)
    (loop,) = [a for a in alerts if a["kind"] == "tool_loop"]
    assert "arguments not recorded" in loop["message"] and loop["evidence"]["args_sha256"] is None
    assert loop["severity"] == "warning"


def test_stall_fires_once_after_stall_s_not_before():
    stuck = Task("bot", [llm(10, 1), tool(args={"a": 1})], end_root=False)
    engine, _alerts, _ = run([record_of([(stuck, T0)])], POLICY, flush=False)
    last = engine.clock_ns
    assert engine.tick(last + 59 * 10**9).alerts == []
    out = engine.tick(last + 60 * 10**9)
    assert kinds(out.alerts) == ["stalled_task"]
    assert engine.tick(last + 120 * 10**9).alerts == []
    summaries = engine.tick(last + 901 * 10**9).summaries  # default idle_timeout_s 900
    assert summaries[0]["outcome"] == "timed_out" and summaries[0]["alerts"] == ["stalled_task"]


def test_finished_task_never_stalls_and_closes_after_grace():
    engine, _, _ = run([record_of([(Task("bot", [llm(1, 1)]), T0)])], POLICY, flush=False)
    assert engine.tick(engine.clock_ns + 10**9).summaries == []        # within the 2 s grace
    out = engine.tick(engine.clock_ns + 10**12)
    assert out.alerts == [] and out.summaries[0]["outcome"] == "ok"


def test_error_outcome_and_error_counts():
    task = Task("bot", [tool("db", {"x": 1}, error_type="TimeoutError"), tool("db", {"x": 2}, error_type="Boom")])
    _, _, (summary,) = run([record_of([(task, T0)])])
    assert summary["errors"] == {"TimeoutError": 1, "Boom": 1}


def test_alert_ids_are_deterministic_across_replays():
    recs = records_of([(loop_task(4), T0), (Task("bot", [llm(600, 600)]), T0)], per_record=3)
    _, a1, _ = run(recs, POLICY)
    _, a2, _ = run(recs, POLICY)
    assert [a["alert_id"] for a in a1] == [a["alert_id"] for a in a2] and len(a1) >= 2
    assert len({a["alert_id"] for a in a1}) == len(a1)


def test_alert_text_never_carries_arguments():
    task = Task("bot", [tool("search", {"q": "secret sk-abcdefghijklmnopqrstuvwx alice@example.com"})] * 3)
    _, alerts, _ = run([record_of([(task, T0)])], POLICY)
    text = str(alerts)
    assert "alice@example.com" not in text and "sk-abcdef" not in text and "secret" not in text


# -- bounds ------------------------------------------------------------------------------------------

def test_max_active_tasks_evicts_least_recently_updated():
    tasks = [(Task(f"bot{i}", [llm(1, 1)], end_root=False), T0 + i * 10**9) for i in range(5)]
    spans, trace_ids = emit(tasks)
    from agentwatch.demo.synth import records
    engine, _, summaries = run(records(spans), flush=False, max_active_tasks=3)
    assert len(engine.tasks) == 3
    assert [s["outcome"] for s in summaries] == ["evicted", "evicted"]
    assert [s["trace_id"] for s in summaries] == trace_ids[:2]


def test_late_spans_after_close_are_dropped_and_closed_ids_bounded():
    spans = decode(record_of([(Task("bot", [llm(1, 1), llm(2, 2)]), T0)]))
    engine = Engine(Policy(), EngineConfig(max_closed=2))
    engine.process(spans[1:])  # everything but the first child
    engine.flush()
    assert engine.process(spans[:1]).summaries == [] and engine.tasks == {}
    for i in range(3):
        engine.process(decode(record_of([(Task(f"x{i}", [llm(1, 1)]), T0)])))
        engine.flush()
    assert len(engine.closed) == 2


def test_per_task_maps_are_capped():
    steps = [tool(f"tool{i}", {"i": i}) for i in range(MAX_TOOLS + 20)]
    _, _, (summary,) = run([record_of([(Task("bot", steps), T0)])])
    assert len(summary["tools"]) == MAX_TOOLS and summary["tools"][OTHER_LABEL] == 21
    assert summary["tool_calls"] == MAX_TOOLS + 20


def test_task_state_size_does_not_grow_with_spans():
    import orjson
    engine = Engine(Policy())
    sizes = []
    for n in (200, 2000):  # both past the loop window: size must not grow with spans
        task = Task("bot", [llm(1, 1), tool("t", {"a": 1})] * (n // 2), end_root=False)
        engine.process(decode(record_of([(task, T0)])))
        (state,) = [t for t in engine.tasks.values() if t.llm_calls == n // 2]
        sizes.append(len(orjson.dumps(state.to_dict())))
    assert sizes[1] < sizes[0] * 1.2


def test_alert_rate_bound_per_agent_kind():
    tasks = [(loop_task(3), T0 + i) for i in range(10)]
    policy = parse_policy('agents:\n  - match: "*"\n    tool_repeat: 3\n')
    _engine, alerts, summaries = run([record_of(tasks)], policy, max_alerts_per_minute=4)
    assert kinds(alerts).count("tool_loop") == 4
    assert sum(s["alerts"].count("tool_loop") for s in summaries) == 10


def test_conversation_task_key_joins_traces():
    a = Task("bot", [llm(10, 1)], conversation_id="c1")
    b = Task("bot", [llm(20, 2)], conversation_id="c1")
    _engine, _, summaries = run([record_of([(a, T0), (b, T0 + 10**10)])], task_key="conversation")
    assert len(summaries) == 1 and summaries[0]["tokens"]["total"] == 33
    assert summaries[0]["task_id"] == "c1"


def test_task_state_round_trip():
    """What the worker writes to its table (TaskState.to_dict as JSON) restores the same task."""
    engine, _, _ = run([record_of([(loop_task(2), T0)])], POLICY, flush=False)
    import orjson
    (task,) = engine.tasks.values()
    snap = orjson.loads(orjson.dumps(task.to_dict()))
    other = Engine(POLICY)
    other.adopt(task.task_id, snap)
    (t,) = other.tasks.values()
    assert orjson.loads(orjson.dumps(t.to_dict())) == snap
    assert isinstance(t, TaskState) and t.loop_state[1] == 2 and t.max_repeat == 2


@pytest.mark.parametrize("seed", range(5))
def test_loop_found_whatever_the_record_order(seed):
    # A trace split into one-span records that arrive shuffled (records of one trace on several
    # input partitions): the loop is still judged in start order.
    spans, _ = emit([(loop_task(4), T0)])
    random.Random(seed).shuffle(spans)
    from agentwatch.demo.synth import records
    _, alerts, (summary,) = run(records(spans), POLICY)
    assert kinds(alerts) == ["tool_loop"]
    assert summary["max_tool_repeat"] == 4


def test_loop_window_is_bounded():
    steps = [tool("search", {"i": i}) for i in range(200)]
    engine, _, _ = run([record_of([(Task("bot", steps, end_root=False), T0)])], POLICY, flush=False)
    (task,) = engine.tasks.values()
    from agentwatch.tasks import MAX_RECENT
    assert len(task.recent) == MAX_RECENT and task.max_repeat == 1


def test_tick_judges_each_task_on_its_own_clock() -> None:
    """The worker passes each task's home-partition clock: one task closes, the other is not yet due."""
    engine = Engine(Policy())
    spans = decode(record_of([(Task("agent-a", [Step("llm", input_tokens=5, output_tokens=1)]), T0),
                              (Task("agent-b", [Step("llm", input_tokens=5, output_tokens=1)]), T0)]))
    engine.process(spans)
    ta, tb = sorted(engine.tasks)
    end = max(s.end_ns for s in spans)
    clocks = {ta: end + 10**12, tb: end}
    out = engine.tick(0, lambda task_id: clocks[task_id])
    assert [s["trace_id"] for s in out.summaries] == [ta]
    assert tb in engine.tasks


def test_grace_runs_from_the_clock_when_the_root_arrives_after_its_end() -> None:
    """Input was idle, so the clock is far past the root's end (it follows the wall clock): a span of the
    same task still on its way by a slower path (another partition) gets the grace, not zero."""
    engine = Engine(Policy(), EngineConfig(close_grace_s=2.0))
    spans = decode(record_of([(Task("agent-a", [Step("llm", input_tokens=5, output_tokens=1)] * 2), T0)]))
    sibling = next(s for s in spans if s.kind == LLM)
    now = max(s.end_ns for s in spans) + 60 * 10**9
    engine.process([s for s in spans if s is not sibling], now_ns=now)
    assert engine.tick(now).summaries == []
    engine.process([sibling], now_ns=now + 1 * 10**9)        # arrives 1 s later
    assert engine.tick(now + 1 * 10**9).summaries == []
    (summary,) = engine.tick(now + 2 * 10**9).summaries
    assert summary["llm_calls"] == 2 and summary["tokens"]["total"] == 12
    root_end = max(s.end_ns for s in spans)
    in_time = Engine(Policy(), EngineConfig(close_grace_s=2.0))
    in_time.process(spans, now_ns=root_end - 10**9)          # clock behind the root: the grace runs from its end
    assert in_time.tick(root_end + 1 * 10**9).summaries == []
    assert len(in_time.tick(root_end + 2 * 10**9).summaries) == 1


def test_summary_times_are_rfc3339_milliseconds_truncated() -> None:
    from agentwatch.sinks.alerts import rfc3339
    assert rfc3339(1_795_482_257_999_999_999) == "2026-11-24T01:04:17.999Z"  # never rounded up a second
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"


def _sourced(records: list[bytes], src: int = 0) -> list[list]:
    """Decoded records with their source and offset set, as the worker's route stage does."""
    out = []
    for offset, rec in enumerate(records):
        spans = decode(rec)
        for s in spans:
            s.src, s.offset = src, offset
        out.append(spans)
    return out


def _budget_policy():
    return parse_policy("agents:\n  - match: '*'\n    task_tokens: 150\n")


def test_a_record_read_again_is_not_counted_twice() -> None:
    """After a crash the worker re-reads input from its last commit: the task absorbed those records already."""
    task = Task("bot", [llm(60, 1), llm(60, 1), llm(60, 1)])
    spans, _ = emit([(task, T0)])
    from agentwatch.demo.synth import records
    recs = _sourced(records(spans))  # one span per record
    engine = Engine(_budget_policy())
    alerts = []
    for batch in recs[:3]:
        alerts += engine.process(batch).alerts
    for batch in _sourced(records(spans))[:3]:  # read again, as after a restart from an older offset
        alerts += engine.process(batch).alerts
    for batch in recs[3:]:
        alerts += engine.process(batch).alerts
    (summary,) = engine.flush().summaries
    assert summary["llm_calls"] == 3 and summary["tokens"]["input"] == 180
    assert kinds(alerts) == ["token_budget"]


def test_spans_of_a_closed_task_read_again_are_duplicates_not_a_new_task() -> None:
    raw = record_of([(Task("bot", [llm(10, 1)]), T0)])
    engine = Engine(Policy())
    engine.process(_sourced([raw])[0])
    assert len(engine.flush().summaries) == 1
    again = _sourced([raw])[0]  # the same record at the same offset
    late = _sourced([raw])[0][:1]
    late[0].offset = 7  # a newer record of the closed task: late, not a duplicate
    observer = _Counting()
    engine.observer = observer
    engine.process(again + late)
    assert engine.tasks == {} and engine.flush().summaries == []
    assert observer.duplicates == len(again) and observer.late == 1


class _Counting(NullObserver):
    def __init__(self) -> None:
        self.duplicates = self.late = 0

    def duplicate_spans(self, n: int) -> None:
        self.duplicates += n

    def late_spans(self, n: int) -> None:
        self.late += n


def test_closed_markers_survive_the_changelog_and_are_bounded() -> None:
    import orjson
    engine = Engine(Policy(), EngineConfig(max_closed=2))
    raws = [record_of([(Task("bot", [llm(10, 1)]), T0 + i * 10**10)]) for i in range(3)]
    ids = []
    for raw in raws:
        (spans,) = _sourced([raw])
        engine.process(spans)
        ids.append(spans[0].trace_id)
        engine.flush()
    changed, closed, expired = engine.take_changes()
    assert changed == [] and [k for k, _ in closed] == ids[1:] and expired == [ids[0]]
    restored = Engine(Policy(), EngineConfig(max_closed=2))
    for k, marker in closed:
        restored.adopt(k, orjson.loads(orjson.dumps(marker.to_dict())))
    restored.process(_sourced([raws[2]])[0])  # the last task's record, read again after a restart
    assert restored.tasks == {}
    restored.process(_sourced([raws[0]])[0])  # its marker was forgotten (bound): a new task
    assert list(restored.tasks) == [ids[0]]


def test_stall_gets_one_all_clear_when_its_task_moves_again():
    stuck = Task("bot", [llm(10, 1), tool(args={"a": 1}), tool("fetch", args={"b": 2})], end_root=False)
    spans = sorted(decode(record_of([(stuck, T0)])), key=lambda s: s.end_ns)
    late = spans.pop()  # held back: the task's next step, arriving after the stall
    engine = Engine(POLICY)
    engine.process(spans)
    last = engine.clock_ns
    (stall,) = engine.tick(last + 60 * 10**9).alerts
    late.end_ns = last + 70 * 10**9
    late.start_ns = late.end_ns - 10**6
    (cleared,) = engine.process([late]).alerts
    assert cleared["kind"] == "stalled_task" and cleared["severity"] == "info" and cleared["action"] == "notify"
    assert cleared["resolves"] == {"alert_id": stall["alert_id"], "severity": "warning", "action": "review"}
    assert cleared["observed"] == 70.0 and cleared["alert_id"] != stall["alert_id"]
    # once per task: it neither clears again nor re-stalls, and its summary lists the stall once
    assert engine.tick(late.end_ns + 120 * 10**9).alerts == []
    (summary,) = engine.tick(late.end_ns + 901 * 10**9).summaries
    assert summary["alerts"] == ["stalled_task"]


def test_stall_all_clear_when_the_stalled_task_times_out_and_never_without_a_stall():
    stuck = Task("bot", [llm(10, 1)], end_root=False)
    engine, _, _ = run([record_of([(stuck, T0)])], POLICY, flush=False)
    last = engine.clock_ns
    (stall,) = engine.tick(last + 60 * 10**9).alerts
    out = engine.tick(last + 900 * 10**9)
    assert [s["outcome"] for s in out.summaries] == ["timed_out"]
    (cleared,) = out.alerts
    assert cleared["resolves"]["alert_id"] == stall["alert_id"] and "closed (timed_out)" in cleared["message"]
    assert cleared["ts"] > stall["ts"]  # at its idle deadline, live and in replay alike
    # a task that never stalled gets no all-clear when it times out
    quiet = Task("bot", [llm(10, 1)], end_root=False)
    engine, alerts, _ = run([record_of([(quiet, T0)])], parse_policy("agents: [{match: '*', stall_s: null}]"))
    assert [a for a in alerts if "resolves" in a] == []


def test_metric_deltas_reach_the_observer_summed_once_per_batch() -> None:
    # 5 tasks of one agent and model in one record: one llm() call with their summed usage, not 5
    raw = record_of([(Task("bot", [llm(10, 1), tool()]), T0 + i * 10**9) for i in range(5)])
    observer = _Recording()
    engine = Engine(Policy(), observer=observer)
    engine.process(decode(raw))
    engine.flush()
    assert len(observer.llm_calls) == 1 and len(observer.tool_calls) == 1
    (_agent, _model, _provider, _status, usage), = observer.llm_calls
    assert usage[:3] == [5, 50, 5] and observer.tool_calls[0][-1] == 5


class _Recording(NullObserver):
    def __init__(self) -> None:
        self.llm_calls: list[tuple] = []
        self.tool_calls: list[tuple] = []

    def llm(self, agent: str, model: str, provider: str, status: str, usage: list[float]) -> None:
        self.llm_calls.append((agent, model, provider, status, list(usage)))

    def tool(self, agent: str, tool: str, status: str, n: int) -> None:
        self.tool_calls.append((agent, tool, status, n))


def _copy(spans, offset: int):
    """The spans of one record as read at input offset `offset` of source 0 (a fresh decode: new objects)."""
    for s in spans:
        s.src, s.offset = 0, offset
    return spans


def test_a_record_written_twice_upstream_counts_once() -> None:
    """A producer retrying without idempotence writes a record twice: two offsets, the same spans. The task
    counts each span once (its last MAX_SEEN_SPANS span IDs), whichever batch the copy comes in."""
    random.seed(7)
    task = Task("bot", [Step("llm", input_tokens=100, output_tokens=10), Step("tool", tool="t", args={"a": 1})] * 2)
    rec = record_of([(task, T0)])
    once = Engine(Policy())
    once.process(_copy(decode(rec), 5))
    (expected,) = once.flush().summaries
    for layout in ("two batches", "one batch"):
        seen = _Counting()
        e = Engine(Policy(), observer=seen)
        first, second = _copy(decode(rec), 5), _copy(decode(rec), 9)
        if layout == "one batch":
            e.process(first + second)
        else:
            e.process(first)
            e.process(second)
        (summary,) = e.flush().summaries
        assert summary == expected and seen.duplicates == len(first), layout


def test_a_span_seen_more_than_max_seen_spans_ago_counts_again() -> None:
    """The bound: a task remembers its last MAX_SEEN_SPANS span IDs; a copy arriving later counts."""
    from agentwatch.tasks import MAX_SEEN_SPANS

    random.seed(8)
    spans = decode(record_of([(Task("bot", [Step("llm", input_tokens=1, output_tokens=1)] * (MAX_SEEN_SPANS + 1),
                                    end_root=False), T0)]))
    llm = sorted((s for s in spans if s.kind == LLM), key=lambda s: s.start_ns)
    e = Engine(Policy())
    e.process(_copy(llm, 1))
    (t,) = e.tasks.values()
    assert t.llm_calls == MAX_SEEN_SPANS + 1 and len(t.seen_spans) == MAX_SEEN_SPANS
    e.process(_copy([llm[-1]], 2))  # within the window: dropped
    assert t.llm_calls == MAX_SEEN_SPANS + 1
    e.process(_copy([next(s for s in llm if s.span_id not in t.seen_spans)], 3))  # fell out of it: counted
    assert t.llm_calls == MAX_SEEN_SPANS + 2
