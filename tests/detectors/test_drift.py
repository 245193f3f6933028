"""Drift and error detectors on synthetic task summaries: seeded RNG, clock passed in, no sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest

from agentwatch.baselines import Baselines
from agentwatch.detectors.drift import DriftConfig, DriftDetector
from agentwatch.detectors.errors import ErrorBurstDetector, NewErrorTypeDetector
from agentwatch.model import Finding
from agentwatch.sinks.alerts import rfc3339

T0 = 1_700_000_000 * 10**9
HOUR = 3600 * 10**9
DAY = 24 * HOUR


def tasks(seed: int, n: int, rate_h: float, agent: str = "support-bot", step_at: int | None = None,
          step: float = 1.5, t0: int = T0) -> Iterator[dict[str, Any]]:
    """Stationary task summaries (Poisson arrivals; lognormal cost, tokens and duration; a normal score);
    from `step_at` on, cost and tokens are multiplied by `step`. `end` is Unix ns (rfc3339_ns accepts it)."""
    rng = np.random.default_rng(seed)
    ends = t0 + (np.cumsum(rng.exponential(3600 / rate_h, n)) * 1e9).astype(np.int64)
    cost = rng.lognormal(-1.0, 0.5, n)
    tokens = cost * 20_000 * rng.lognormal(0.0, 0.1, n)
    duration = rng.lognormal(3.0, 0.5, n)
    score = np.clip(rng.normal(0.8, 0.08, n), 0.0, 1.0)
    calls = rng.integers(1, 8, n)
    for i in range(n):
        k = step if step_at is not None and ends[i] >= step_at else 1.0
        yield {"agent": agent, "task_id": f"{agent}-{seed}-{i}", "trace_id": f"{i:032x}", "end": int(ends[i]),
               "cost_usd": float(cost[i] * k), "tokens": {"total": int(tokens[i] * k)},
               "duration_s": float(duration[i]), "tool_calls": int(calls[i]), "errors": {},
               "scores": {"relevance": float(score[i])}, "outcome": "ok"}


def run(det: DriftDetector, stream: Iterator[dict[str, Any]], sigma: float | None = 3.0,
        multiple: float | None = None) -> list[tuple[dict[str, Any], Finding]]:
    out = []
    for s in stream:
        out.extend((s, f) for f in det.observe(s, "*", sigma, multiple, s["end"]))
    return out


def window_findings(found: list[tuple[dict[str, Any], Finding]]) -> list[Finding]:
    return [f for _, f in found if "/drift_sigma:" in f.rule]


# -- window drift ----------------------------------------------------------------------------------

def test_false_alarms_on_stationary_tasks_at_most_1pct_per_agent_day() -> None:
    det = DriftDetector()
    agents, days, alarms = 20, 0.0, []
    for a in range(agents):
        stream = list(tasks(seed=a, n=10_000, rate_h=60, agent=f"agent-{a}"))
        days += (stream[-1]["end"] - stream[0]["end"]) / DAY
        alarms += window_findings(run(det, iter(stream)))
    rate = len(alarms) / days
    print(f"\nwindow drift false alarms: {len(alarms)} in {days:.0f} agent-days = {rate:.4f} per agent-day "
          f"(sigma 3.0, {agents} agents x 10,000 tasks)")
    assert rate <= 0.01, [f.message for f in alarms]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_step_of_50pct_in_cost_is_detected_within_the_short_window(seed: int) -> None:
    cfg = DriftConfig()
    step_at = T0 + 3 * DAY
    found = run(DriftDetector(cfg), tasks(seed=seed, n=12_000, rate_h=150, step_at=step_at))
    before = [f for s, f in found if s["end"] < step_at]
    after = [(s, f) for s, f in found if s["end"] >= step_at and f.evidence["dimension"] == "cost"]
    assert not before
    assert after, "step not detected"
    s, f = after[0]
    delay_s = (s["end"] - step_at) / 1e9
    print(f"\n+50% cost step detected after {delay_s / 60:.1f} min: {f.message}")
    assert delay_s <= cfg.short_window_s
    assert (f.kind, f.severity, f.action) == ("cost_drift", "warning", "notify")
    assert f.rule == "*/drift_sigma:cost" and f.ordinal == 1 and f.ts_ns == s["end"]
    assert f.evidence["direction"] == "up" and f.evidence["scale"] == "log"
    assert f.observed > f.threshold > f.baseline["mean"]
    assert set(f.baseline) == {"mean", "stddev", "n", "window"} and f.baseline["window"] == "7d"
    assert f.observed / f.baseline["mean"] > 1.1  # the short window is partly before the step
    # Once per excursion: the shift persists but the dimension does not fire again.
    assert len(after) == 1


def test_window_drift_rearms_after_the_mean_returns_and_numbers_excursions() -> None:
    det = DriftDetector()
    base = list(tasks(seed=7, n=150 * 72, rate_h=150))  # 3 days
    run(det, iter(base))
    t = base[-1]["end"]
    high = list(tasks(seed=8, n=300, rate_h=150, t0=t, step_at=t))          # 2 h at +50 %
    calm = list(tasks(seed=9, n=900, rate_h=150, t0=high[-1]["end"]))       # 6 h back to normal
    again = list(tasks(seed=10, n=300, rate_h=150, t0=calm[-1]["end"], step_at=calm[-1]["end"]))
    fired = [window_findings(run(det, iter(part))) for part in (high, calm, again)]
    cost = [[f.ordinal for f in part if f.evidence["dimension"] == "cost"] for part in fired]
    assert cost == [[1], [], [2]]


def test_no_alerts_from_an_empty_or_small_baseline() -> None:
    det = DriftDetector()
    # 29 tasks: below min_baseline_tasks, then a 100x task and a sustained jump.
    stream = list(tasks(seed=3, n=29, rate_h=60))
    assert run(det, iter(stream), multiple=5.0) == []
    t = stream[-1]["end"]
    huge = dict(stream[0], end=t + 10**9, cost_usd=100.0, task_id="huge")
    assert det.observe(huge, "*", 3.0, 5.0, huge["end"]) == []
    jump = list(tasks(seed=4, n=40, rate_h=600, t0=t + 2 * 10**9, step_at=t, step=5.0))
    assert run(det, iter(jump), multiple=None) == []
    # A brand-new agent's first task never alerts.
    first = dict(stream[0], agent="new-agent")
    assert det.observe(first, "*", 3.0, 5.0, first["end"]) == []


def test_score_drift_from_scores_arriving_after_their_tasks() -> None:
    det = DriftDetector()
    rng = np.random.default_rng(11)
    stream = list(tasks(seed=11, n=60 * 48, rate_h=60))
    for s in stream:  # the tasks close without scores; the evaluations arrive a minute later
        scores = s.pop("scores")
        assert det.observe(s, "rules/support", 3.0, 5.0, s["end"]) == []
        assert det.observe_score("support-bot", "relevance", scores["relevance"], s["end"] + 60 * 10**9) == []
    t = stream[-1]["end"] + 60 * 10**9
    found = []
    for _ in range(120):  # relevance drops from 0.8 to 0.65
        t += 60 * 10**9
        found += det.observe_score("support-bot", "relevance", float(rng.normal(0.65, 0.08)), t)
    assert len(found) == 1
    f = found[0]
    assert (f.kind, f.action) == ("score_drift", "notify")
    assert f.rule == "rules/support/drift_sigma:score:relevance"
    assert f.evidence["direction"] == "down" and f.observed < f.threshold < f.baseline["mean"]
    assert "relevance" in f.message and "below" in f.message


# -- cost_multiple ---------------------------------------------------------------------------------

def test_single_10x_task_fires_cost_multiple_exactly_once() -> None:
    det = DriftDetector()
    stream = list(tasks(seed=5, n=2000, rate_h=60))
    assert run(det, iter(stream), multiple=5.0) == []
    _, mean, _ = det.baselines.peek("support-bot").baseline(0)
    t = stream[-1]["end"]
    spike = dict(stream[-1], task_id="spike", end=t + 30 * 10**9, cost_usd=10 * mean)
    after = list(tasks(seed=6, n=200, rate_h=60, t0=spike["end"]))
    found = run(det, iter([spike, *after]), multiple=5.0)
    assert len(found) == 1
    s, f = found[0]
    assert s is spike
    assert (f.kind, f.severity, f.action, f.rule, f.ordinal) == ("cost_drift", "warning", "review",
                                                                 "*/cost_multiple", 0)
    assert f.observed == pytest.approx(10 * mean) and f.threshold == pytest.approx(5 * mean)
    assert f.baseline["n"] == 2000 and f.baseline["window"] == "7d" and f.ts_ns == spike["end"]
    assert "10.0x support-bot's 7d mean" in f.message


def test_cost_multiple_compares_before_adding_and_falls_back_to_tokens() -> None:
    det = DriftDetector()
    for i in range(30):
        s = {"agent": "a", "end": rfc3339(T0 + i * 10**9), "cost_usd": 1.0, "tokens": {"total": 1000}}
        assert det.observe(s, "r", 3.0, 5.0, T0 + i * 10**9) == []
    # 5.5 > 5 x 1.0; had the task been added first the mean would be 1.145 and 5.5 < 5.73.
    s = {"agent": "a", "end": rfc3339(T0 + 31 * 10**9), "cost_usd": 5.5, "tokens": {"total": 1000}}
    [f] = det.observe(s, "r", 3.0, 5.0, T0 + 31 * 10**9)
    assert f.evidence == {"dimension": "cost", "multiple": 5.5}
    assert f.message == "task cost $5.50 is 5.5x a's 7d mean $1.00 (n=30)"
    s = {"agent": "a", "end": rfc3339(T0 + 32 * 10**9), "cost_usd": None, "tokens": {"total": 9000}}
    [f] = det.observe(s, "r", 3.0, 5.0, T0 + 32 * 10**9)
    assert f.evidence["dimension"] == "tokens" and f.observed == 9000.0
    assert f.message.startswith("task used 9,000 tokens (cost unknown), is 9.0x a's 7d mean 1,000")
    assert det.observe(dict(s, end=T0 + 33 * 10**9), "r", None, None, T0 + 33 * 10**9) == []


# -- restore ---------------------------------------------------------------------------------------

def test_restored_detector_behaves_identically() -> None:
    det = DriftDetector()
    step_at = T0 + 2 * DAY + HOUR // 2
    stream = list(tasks(seed=21, n=150 * 50, rate_h=150, step_at=step_at))
    cut = 150 * 48
    run(det, iter(stream[:cut]), multiple=5.0)
    data = orjson.loads(orjson.dumps(det.to_dict()))
    restored = DriftDetector.from_dict(data)
    assert orjson.dumps(restored.to_dict()) == orjson.dumps(det.to_dict())
    a = run(det, iter(stream[cut:]), multiple=5.0)
    b = run(restored, iter(stream[cut:]), multiple=5.0)
    assert a and [f for _, f in a] == [f for _, f in b]
    assert orjson.dumps(restored.to_dict()) == orjson.dumps(det.to_dict())


# -- errors ----------------------------------------------------------------------------------------

def _task(agent: str, i: int, errors: dict[str, int], conversation: str | None = None, trace: str = "t",
          end_s: float = 0.0) -> dict[str, Any]:
    return {"agent": agent, "task_id": f"{agent}-{i}", "trace_id": trace, "conversation_id": conversation,
            "end": rfc3339(T0 + int(end_s * 1e9)), "errors": errors, "outcome": "error" if errors else "ok"}


def test_new_error_type_fires_once_and_known_types_do_not() -> None:
    det = NewErrorTypeDetector(Baselines())
    now = T0
    # Warm-up: the agent's first tasks (errors included) only teach the detector what is usual.
    for i in range(40):
        now = T0 + i * 60 * 10**9
        assert det.observe(_task("a", i, {"Timeout": 1} if i % 4 == 0 else {}, end_s=i * 60), "r", now) == []
    s = _task("a", 100, {"RateLimitError": 2, "Timeout": 1}, end_s=41 * 60)
    [f] = det.observe(s, "rules/a", T0 + 41 * 60 * 10**9)
    assert (f.kind, f.severity, f.action, f.rule, f.ordinal) == ("new_error_type", "warning", "review",
                                                                 "rules/a/new_error_type", 0)
    assert f.evidence["error_type"] == "RateLimitError" and f.observed == 2.0
    assert f.baseline["n"] == 41 and f.baseline["window"] == "7d"
    assert "RateLimitError" in f.message and "40 tasks" in f.message
    # Not again while it stays in the window; another agent has its own set (and its own warm-up).
    assert det.observe(_task("a", 101, {"RateLimitError": 1}, end_s=42 * 60), "r", T0 + 42 * 60 * 10**9) == []
    assert det.observe(_task("b", 1, {"RateLimitError": 1}, end_s=43 * 60), "r", T0 + 43 * 60 * 10**9) == []
    # After 7 days of tasks without it, the type is new again.
    t = 42 * 60
    for i in range(200):
        t += 3600
        assert det.observe(_task("a", 200 + i, {"Timeout": 1}, end_s=t), "r", T0 + t * 10**9) == []
    [f] = det.observe(_task("a", 999, {"RateLimitError": 1}, end_s=t + 60), "r", T0 + (t + 60) * 10**9)
    assert f.evidence["error_type"] == "RateLimitError"


def test_new_error_types_in_one_task_get_distinct_ordinals() -> None:
    det = NewErrorTypeDetector(Baselines(), min_baseline_tasks=5)
    for i in range(5):
        det.observe(_task("a", i, {}, end_s=i), "r", T0 + i * 10**9)
    found = det.observe(_task("a", 9, {"b": 1, "a": 3}, end_s=9), "r", T0 + 9 * 10**9)
    assert [(f.evidence["error_type"], f.ordinal) for f in found] == [("a", 0), ("b", 1)]


def test_error_burst_three_agents_in_a_conversation_within_60s_fires_once() -> None:
    det = ErrorBurstDetector()
    found = []
    for k, (agent, t) in enumerate([("planner", 0), ("coder", 20), ("reviewer", 45), ("tester", 50)]):
        s = _task(agent, k, {"ToolError": 1}, conversation="conv-1", trace=f"trace-{k}", end_s=t)
        found += det.observe(s, "*", T0 + int(t * 1e9))
    [f] = found
    assert (f.kind, f.severity, f.action, f.rule, f.ordinal) == ("error_burst", "critical", "review",
                                                                 "*/error_burst", 1)
    assert f.evidence["group"] == "conversation" and f.evidence["agents"] == ["coder", "planner", "reviewer"]
    assert f.ts_ns == T0 + 45 * 10**9
    # After the burst is over, a new one in the same conversation fires again (burst 2).
    found = []
    for k, (agent, t) in enumerate([("planner", 600), ("coder", 610), ("reviewer", 620)]):
        found += det.observe(_task(agent, 10 + k, {"E": 1}, conversation="conv-1", trace=f"x{k}", end_s=t),
                             "*", T0 + int(t * 1e9))
    assert [f.ordinal for f in found] == [2]


def test_error_burst_needs_three_agents_inside_the_window() -> None:
    det = ErrorBurstDetector()
    two = [("planner", 0), ("coder", 10), ("planner", 20), ("coder", 30)]
    for k, (agent, t) in enumerate(two):
        assert det.observe(_task(agent, k, {"E": 1}, conversation="c2", end_s=t), "*", T0) == []
    spread = [("planner", 1000), ("coder", 1150), ("reviewer", 1300)]  # 3 agents over 5 minutes
    for k, (agent, t) in enumerate(spread):
        s = _task(agent, k, {"E": 1}, conversation="c3", trace=f"s{k}", end_s=t)
        assert det.observe(s, "*", T0) == []
    # Tasks without errors do not count.
    for k, agent in enumerate(["x", "y", "z"]):
        assert det.observe(_task(agent, k, {}, conversation="c4", end_s=2000), "*", T0) == []


def test_error_burst_by_lineage_and_bounded_groups() -> None:
    det = ErrorBurstDetector(max_groups=10)
    found = []
    for k, agent in enumerate(["a", "b", "c"]):  # no conversation, one trace
        found += det.observe(_task(agent, k, {"E": 1}, trace="shared", end_s=k), "*", T0)
    assert [f.evidence["group"] for f in found] == ["trace"]
    for k in range(50):
        det.observe(_task("a", k, {"E": 1}, conversation=f"c{k}", trace=f"t{k}", end_s=100 + k), "*", T0)
    assert len(det) == 10 and det.evictions > 0
    restored = ErrorBurstDetector.from_dict(orjson.loads(orjson.dumps(det.to_dict())), max_groups=10)
    assert restored.to_dict() == det.to_dict()
