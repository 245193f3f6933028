"""agent_silent through the per-agent stage: once per silence, an all-clear, never for a quiet system."""

from agentwatch.agents import AgentStage
from agentwatch.detectors.silence import MIN_TASKS
from agentwatch.policy import Policy, parse_policy
from agentwatch.sinks.alerts import rfc3339
from otel_helpers import T0

S = 10**9
GAP = 30 * S  # each agent closes a task every 30 s


def summary(agent: str, i: int) -> dict:
    end = T0 + i * GAP
    return {"task_id": f"{agent}-{i}", "trace_id": f"{i:032x}", "agent": agent, "service": agent, "resource": {},
            "start": rfc3339(end - S), "end": rfc3339(end), "outcome": "ok", "llm_calls": 1, "tool_calls": 0,
            "tokens": {"total": 100}, "cost_usd": 0.001, "models": [], "tools": {}, "max_tool_repeat": 0,
            "errors": {}, "scores": {}, "alerts": []}


def run(stage: AgentStage, agents: list[str], start: int, stop: int) -> list[dict]:
    """Agents `agents` each close task i at T0 + i x GAP; the input clock follows second by second."""
    alerts = []
    for i in range(start, stop):
        for a in agents:
            alerts += stage.observe_summary(summary(a, i))
        for s in range(30):
            alerts += stage.observe_clock(T0 + i * GAP + s * S)
    return alerts


def test_silent_agent_fires_once_then_is_heard_again() -> None:
    stage = AgentStage(Policy())
    assert run(stage, ["a", "b"], 0, 40) == []
    alerts = run(stage, ["b"], 40, 60)  # a stops; b goes on, so the input is heard
    (silent,) = alerts
    assert silent["kind"] == "agent_silent" and silent["agent"] == "a" and silent["severity"] == "warning"
    assert silent["action"] == "notify" and silent["rule"] == "*/silence_multiple" and silent["task_id"] == "a-39"
    assert silent["threshold"] == 90.0 and 90.0 < silent["observed"] <= 91.0  # 3 x the 30 s median gap
    assert silent["evidence"]["median_gap_s"] == 30.0
    (heard,) = stage.observe_summary(summary("a", 60))
    assert heard["severity"] == "info" and heard["kind"] == "agent_silent" and heard["task_id"] == "a-60"
    assert heard["resolves"] == {"alert_id": silent["alert_id"], "severity": "warning", "action": "notify"}
    assert heard["service"] == silent["service"] == ""  # one Alertmanager identity for both


def test_a_quiet_system_or_an_outage_makes_no_agent_silent() -> None:
    stage = AgentStage(Policy())
    run(stage, ["a", "b"], 0, 40)
    # everyone stops: no span, the input clock stands still, however long
    assert stage.observe_clock(T0 + 39 * GAP + 9 * S) == []
    # input resumes an hour later (a Collector outage): the jump counts 10 s, not an hour
    assert run(stage, ["a", "b"], 400, 410) == []


def test_no_verdict_before_min_tasks_and_none_when_turned_off() -> None:
    stage = AgentStage(Policy())
    run(stage, ["a", "b"], 0, MIN_TASKS - 1)
    assert run(stage, ["b"], MIN_TASKS - 1, 80) == []
    off = AgentStage(parse_policy("agents: [{match: 'a', silence_multiple: null}]"))
    run(off, ["a", "b"], 0, 40)
    assert run(off, ["b"], 40, 80) == []


def test_silence_survives_a_restart_without_firing_twice() -> None:
    stage = AgentStage(Policy())
    run(stage, ["a", "b"], 0, 40)
    (silent,) = run(stage, ["b"], 40, 50)
    saved = dict(stage.take_dirty())
    other = AgentStage(Policy())
    for agent, state in saved.items():
        assert other.adopt(agent, state)
    assert run(other, ["b"], 50, 70) == []  # still silent: not raised again
    (heard,) = other.observe_summary(summary("a", 70))
    assert heard["resolves"]["alert_id"] == silent["alert_id"]


def test_never_silent_sooner_than_a_minute_whatever_the_median_gap() -> None:
    stage = AgentStage(Policy())
    for i in range(40):  # a bursty agent: its tasks end 1 ms apart, in bursts
        stage.observe_summary({**summary("a", 0), "task_id": f"a-{i}", "end": rfc3339(T0 + i * 10**6)})
    alerts = []
    for s in range(1, 70):
        alerts += [(s, a["kind"]) for a in stage.observe_clock(T0 + s * S)]
    assert alerts == [(62, "agent_silent")]  # heard time starts at the first clock (1 s): 61 s > 60 s


def test_state_is_bounded_by_max_agents() -> None:
    from agentwatch.detectors.drift import DriftConfig

    stage = AgentStage(Policy(), DriftConfig(max_agents=3))
    for n in range(10):
        stage.observe_summary(summary(f"agent-{n}", 0))
    assert list(stage.silence.agents) == ["agent-7", "agent-8", "agent-9"]
