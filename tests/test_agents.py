"""Evaluation scores from the logs signal, and the per-agent stage fed by task summaries."""

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

from agentwatch.agents import AgentStage
from agentwatch.demo.synth import Step, Task, emit_evaluation, make_logger_provider
from agentwatch.engine import Engine
from agentwatch.otlp.decode import RecordTooLarge, UndecodableRecord
from agentwatch.otlp.logs import decode_evaluations
from agentwatch.policy import Policy, parse_policy
from agentwatch.sinks.alerts import rfc3339
from agentwatch.stream.wire import Batch, decode_batch, encode_evaluations
from otel_helpers import T0, decode, emit

TRACE, SPAN = "ab" * 16, "cd" * 8


def _logs(*scores: tuple[str, float], plain_log: bool = True) -> bytes:
    provider = make_logger_provider("judge-svc")
    for name, score in scores:
        emit_evaluation(provider, TRACE, SPAN, name, score, T0)
    if plain_log:  # an ordinary log record in the same batch is skipped
        provider.get_logger("app").emit(timestamp=T0, body="hello", attributes={"x": 1})
    return encode_logs(provider.memory_exporter.get_finished_logs()).SerializeToString()


def test_evaluation_events_decode_and_other_logs_are_skipped():
    evs = decode_evaluations(_logs(("relevance", 0.75), ("toxicity", 0.01)), max_bytes=1 << 20)
    assert [(e.trace_id, e.span_id, e.name, e.score, e.ts_ns, e.service) for e in evs] == [
        (TRACE, SPAN, "relevance", 0.75, T0, "judge-svc"), (TRACE, SPAN, "toxicity", 0.01, T0, "judge-svc")]
    assert decode_batch(encode_evaluations(evs)) == Batch([], evs, [])


def test_bad_log_records():
    data = _logs(("relevance", 0.5))
    with pytest.raises(RecordTooLarge):
        decode_evaluations(data, max_bytes=10)
    with pytest.raises(UndecodableRecord):
        decode_evaluations(b"\x0a\xff\xff\xff\xff\x0f", max_bytes=1 << 20)


def test_scores_attach_to_open_task_or_go_late_with_the_agent():
    spans, (trace_id,) = emit([(Task("bot", [Step("llm", input_tokens=1, output_tokens=1)]), T0)])
    engine = Engine(Policy())
    from agentwatch.demo.synth import encode
    engine.process(decode(encode(spans)))
    evs = decode_evaluations(_logs(("relevance", 0.5), plain_log=False), max_bytes=1 << 20)
    evs[0].trace_id = trace_id
    assert engine.add_evaluations(evs).late_scores == []
    (summary,) = engine.flush().summaries
    assert summary["scores"] == {"relevance": 0.5}
    late = engine.add_evaluations(evs).late_scores  # the task has closed now
    assert late == [{"agent": "bot", "evaluation": "relevance", "score": 0.5, "ts_ns": T0, "trace_id": trace_id}]
    evs[0].trace_id = "ef" * 16  # never seen: the log's own service names the agent
    assert engine.add_evaluations(evs).late_scores[0]["agent"] == "judge-svc"


def _summary(i: int, cost: float, agent: str = "support-bot") -> dict:
    end = T0 + i * 60 * 10**9
    return {"schema": "agentwatch.task/v1", "task_id": f"t{i}", "trace_id": f"{i:032x}", "agent": agent,
            "service": agent, "resource": {}, "start": rfc3339(end - 10**9), "end": rfc3339(end), "duration_s": 1.0,
            "outcome": "ok", "llm_calls": 1, "tool_calls": 1, "tokens": {"total": 1000}, "cost_usd": cost,
            "models": [], "tools": {}, "max_tool_repeat": 1, "errors": {}, "scores": {}, "alerts": []}


def test_agent_stage_fires_cost_drift_once_for_a_10x_task_and_persists():
    stage = AgentStage(Policy())
    alerts = []
    for i in range(40):
        alerts += stage.observe_summary(_summary(i, 0.50 + 0.01 * (i % 5)))
    assert alerts == []
    saved = stage.take_dirty()
    assert [a for a, _ in saved] == ["support-bot"] and stage.take_dirty() == []
    (alert,) = stage.observe_summary(_summary(40, 5.2))
    assert alert["kind"] == "cost_drift" and alert["agent"] == "support-bot" and alert["task_id"] == "t40"
    assert alert["baseline"]["n"] == 40 and alert["baseline"]["window"] == "7d"
    assert alert["rule"] == "*/cost_multiple" and len(alert["alert_id"]) == 64
    # A worker that adopts the saved baseline judges the same task the same way (same alert_id).
    other = AgentStage(Policy())
    assert other.adopt("support-bot", saved[0][1]) and not other.adopt("support-bot", saved[0][1])
    (again,) = other.observe_summary(_summary(40, 5.2))
    assert again["alert_id"] == alert["alert_id"]
    assert other.drop(lambda agent: False) == 1 and other.drop(lambda agent: False) == 0


def test_first_seen_error_type_alerts_once():
    stage = AgentStage(Policy())
    for i in range(35):
        stage.observe_summary({**_summary(i, 0.5), "errors": {"TimeoutError": 1} if i % 7 == 0 else {}})
    s = {**_summary(35, 0.5), "errors": {"SchemaError": 1}}
    assert [a["kind"] for a in stage.observe_summary(s)] == ["new_error_type"]
    assert stage.observe_summary({**s, "task_id": "t36", "end": rfc3339(T0 + 36 * 60 * 10**9)}) == []


def test_daily_cost_budget_fires_once_per_agent_day():
    policy = parse_policy('agents:\n  - match: "*"\n    daily_cost_usd: 0.05\n')
    stage = AgentStage(policy)
    fired = []
    for i in range(6):  # $0.015 a task: over $0.05 on the fourth
        fired += stage.observe_summary(_summary(i, 0.015, agent="spender"))
    (alert,) = fired
    assert alert["kind"] == "cost_budget" and alert["rule"] == "*/daily_cost_usd" and alert["task_id"] == "t3"
    assert alert["observed"] == pytest.approx(0.06)
    next_day = {**_summary(2000, 0.06, agent="spender")}  # 2000 minutes later: a new UTC day
    assert [a["kind"] for a in stage.observe_summary(next_day)] == ["cost_budget"]


def test_late_scores_are_judged_even_before_any_summary_of_the_agent():
    stage = AgentStage(Policy())
    alerts = []
    for i in range(60):  # scores only: relevance ~0.8 for 48 tasks, then 0.5 for the last hour
        score = 0.5 if i >= 48 else 0.8 + 0.02 * ((i % 5) - 2)
        alerts += stage.observe_score({"agent": "judge-only", "evaluation": "relevance", "score": score,
                                       "ts_ns": T0 + i * 5 * 60 * 10**9, "trace_id": f"{i:032x}"})
    assert [a["kind"] for a in alerts] == ["score_drift"]


@pytest.mark.parametrize("seed", range(5))
def test_score_drift_when_summaries_arrive_before_their_late_scores(seed):
    """The worker's real order for historical data: every summary first (the agent's clock is at the end
    of the drop), then the scores. Fires once given the density window drift needs (>= 10 an hour)."""
    import random
    rng = random.Random(seed)
    m = 60 * 10**9
    ends = [T0 + i * 5 * m for i in range(60)] + [T0 + 300 * m + k * 150 * 10**9 for k in range(24)]
    stage = AgentStage(Policy())
    order = list(range(len(ends)))
    rng.shuffle(order)
    for i in order:
        stage.observe_summary({**_summary(i, 0.5), "end": rfc3339(ends[i]), "start": rfc3339(ends[i] - 10**9)})
    alerts = []
    for i, end in enumerate(ends):
        score = 0.5 if i >= 60 else rng.gauss(0.8, 0.03)
        alerts += stage.observe_score({"agent": "support-bot", "evaluation": "relevance", "score": score,
                                       "ts_ns": end + 10**9, "trace_id": f"{i:032x}"})
    assert [a["kind"] for a in alerts] == ["score_drift"]


def test_per_agent_messages_read_again_and_summaries_sent_again_count_once() -> None:
    """A per-agent message at or below the offset an agent absorbed is skipped; so is a summary whose task
    the agent has seen (its task closed again after a crash); both survive the baseline's persistence."""
    import orjson

    from agentwatch.agents import MAX_RECENT_TASKS

    stage = AgentStage(Policy())
    stage.observe_message([_summary(0, 0.5), _summary(1, 0.5)], [], offset=7)
    stage.observe_message([_summary(0, 0.5), _summary(1, 0.5)], [], offset=7)  # read again
    stage.observe_message([_summary(1, 0.5), _summary(2, 0.5)], [], offset=8)  # t1 sent again
    assert stage.drift.baselines.peek("support-bot").tasks_in_window() == 3
    (agent, state), = stage.take_dirty()
    restored = AgentStage(Policy())
    restored.adopt(agent, orjson.loads(orjson.dumps(state)))
    restored.observe_message([_summary(2, 0.5)], [], offset=8)
    restored.observe_message([_summary(2, 0.5)], [], offset=9)
    assert restored.drift.baselines.peek("support-bot").tasks_in_window() == 3
    for i in range(3, 3 + MAX_RECENT_TASKS):  # the bound: only the last MAX_RECENT_TASKS task IDs are kept
        restored.observe_message([_summary(i, 0.5)], [], offset=10 + i)
    assert len(restored.recent["support-bot"]) == MAX_RECENT_TASKS and "t2" not in restored.recent["support-bot"]
