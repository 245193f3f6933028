"""Per-agent rolling baselines: window statistics against numpy, bounds, and changelog round-trips."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from agentwatch.baselines import (
    COST,
    DURATION,
    ERRORS,
    LN_COST,
    N_FIXED,
    AgentBaseline,
    BaselineConfig,
    Baselines,
    rfc3339_ns,
    window_label,
)

T0 = 1_700_000_000 * 10**9
S = 10**9


def _check(got: tuple[int, float, float], values: np.ndarray) -> None:
    n, mean, sd = got
    assert n == len(values)
    assert mean == pytest.approx(values.mean(), rel=1e-9)
    assert sd == pytest.approx(values.std(ddof=1), rel=1e-6)


def test_window_statistics_match_numpy_including_late_values() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    ends = T0 + np.sort(rng.integers(0, 9 * 86400, n)) * S     # 9 days: the first 2 fall out
    values = rng.lognormal(0.0, 1.0, n)
    ab = AgentBaseline()
    for i in range(n):
        late = 0 if i % 10 else int(rng.integers(0, 1800)) * S  # every 10th arrives up to 30 min late
        ab.advance(int(ends[i]) + late)
        ab.add(int(ends[i]), [(COST, float(values[i]))])
    now = int(ends[-1]) + 600 * S
    ab.advance(now)
    head_h, head_m = now // (3600 * S), now // (60 * S)
    in_long = ends // (3600 * S) > head_h - 168                   # whole buckets of the 168-hour ring
    in_short = ends // (60 * S) > head_m - 60
    in_half = ends // (60 * S) > head_m - 30
    _check(ab.baseline(COST), values[in_long])
    _check(ab.short_window(COST), values[in_short])
    _check(ab.short_window(COST, newest_half=True), values[in_half])
    _check(ab.baseline_without_short(COST), values[in_long & ~in_short])
    _check(ab.baseline(LN_COST), np.log(values[in_long]))


def test_windows_expire_and_nonpositive_values_skip_the_log_dimension() -> None:
    ab = AgentBaseline()
    ab.add(T0, [(COST, 0.0), (DURATION, 2.0)])
    assert ab.baseline(COST)[0] == 1 and ab.baseline(LN_COST)[0] == 0
    ab.advance(T0 + 2 * 3600 * S)
    assert ab.short_window(COST)[0] == 0 and ab.baseline(COST)[0] == 1
    ab.add(T0, [(COST, 1.0)])  # late but inside the baseline window: counted there only
    assert ab.baseline(COST)[0] == 2 and ab.short_window(COST)[0] == 0
    ab.advance(T0 + 8 * 86400 * S)
    assert ab.baseline(COST) == (0, 0.0, 0.0) and ab.baseline(DURATION)[0] == 0
    ab.add(T0, [(COST, 1.0)])  # older than every window: dropped
    assert ab.baseline(COST)[0] == 0


def test_agents_beyond_max_agents_are_evicted_least_recently_updated_first() -> None:
    b = Baselines(max_agents=3)
    for i, name in enumerate(["a", "b", "c"]):
        b.get(name, T0 + i * S)
    b.get("a", T0 + 10 * S)       # a is now the most recent
    b.get("d", T0 + 11 * S)       # evicts b
    assert list(b) == ["c", "a", "d"] and "b" not in b and b.evictions == 1
    for i in range(10):
        b.get(f"x{i}", T0 + (20 + i) * S)
    assert len(b) == 3 and b.evictions == 11


def test_score_names_are_capped_and_stale_slots_reused() -> None:
    ab = AgentBaseline(BaselineConfig(max_scores=16))
    dims = [ab.score_dim(f"eval-{i}") for i in range(16)]
    for d in dims:
        ab.add(T0, [(d, 0.5)])
    assert ab.score_dim("eval-16") is None and ab.dropped_scores == 1
    assert ab.score_dim("eval-3") == dims[3] and len(ab.names) == N_FIXED + 16
    # Once a name has no data left in the baseline window, a new name takes its slot.
    ab.advance(T0 + 8 * 86400 * S)
    for d in dims[1:]:
        ab.add(T0 + 8 * 86400 * S, [(d, 0.5)])
    d = ab.score_dim("eval-new")
    assert d == dims[0] and ab.names[d] == "score:eval-new" and ab.baseline(d)[0] == 0
    ab.add(T0 + 8 * 86400 * S, [(d, 0.9)])
    assert ab.score_dim("eval-0") is None


def test_error_types_beyond_the_cap_evict_the_least_recently_seen() -> None:
    ab = AgentBaseline(BaselineConfig(max_error_types=256))
    for i in range(300):
        assert ab.record_errors({f"E{i}": 1}, T0 + i * S, T0 + i * S) == [f"E{i}"]
    assert len(ab.error_types) == 256
    assert "E0" not in ab.error_types and "E43" not in ab.error_types and "E44" in ab.error_types
    assert ab.record_errors({"E299": 2, "E0": 1}, T0 + 400 * S, T0 + 400 * S) == ["E0"]
    assert ab.tasks_in_window() == 301 and ab.baseline(ERRORS)[0] == 301
    # Last seen more than a window ago: new again.
    later = T0 + 8 * 86400 * S
    assert ab.record_errors({"E299": 1}, later, later) == ["E299"]


def test_to_dict_round_trips_exactly_and_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    b = Baselines(max_agents=5)
    t = T0
    for i in range(3000):
        t += int(rng.integers(1, 300)) * S
        ab = b.get(f"agent-{i % 7}", t)
        d = ab.score_dim(f"e{i % 3}")
        ab.add(t - int(rng.integers(0, 600)) * S, [(COST, float(rng.lognormal())), (DURATION, 3.0), (d, 0.7)])
        ab.record_errors({"Timeout": 1} if i % 5 == 0 else {}, t, t)
        ab.drift_excursions[COST] = i % 4
    data = b.to_dict()
    blob = orjson.dumps(data)
    restored = Baselines.from_dict(orjson.loads(blob))
    assert orjson.dumps(restored.to_dict()) == blob
    assert list(restored) == list(b) and restored.evictions == b.evictions
    for name in b:
        x, y = b.peek(name), restored.peek(name)
        for d in range(len(x.names)):
            assert x.baseline(d) == y.baseline(d) and x.short_window(d) == y.short_window(d)
            assert x.short_window(d, newest_half=True) == y.short_window(d, newest_half=True)
    # Both go on identically.
    for bl in (b, restored):
        bl.get("agent-1", t + 90 * S).add(t + 90 * S, [(COST, 1.5)])
    assert orjson.dumps(restored.to_dict()) == orjson.dumps(b.to_dict())


def test_stored_state_with_another_geometry_starts_afresh() -> None:
    b = Baselines()
    b.get("a", T0).add(T0, [(COST, 1.0)])
    data = orjson.loads(orjson.dumps(b.to_dict()))
    other = Baselines.from_dict(data, BaselineConfig(baseline_window_s=2 * 86400))
    assert len(other) == 0
    with pytest.raises(ValueError):
        AgentBaseline.from_dict(data["agents"][0][1], BaselineConfig(short_window_s=1800))


def test_config_validation_and_helpers() -> None:
    with pytest.raises(ValueError):
        BaselineConfig(baseline_window_s=5000)       # not a multiple of the bucket
    with pytest.raises(ValueError):
        BaselineConfig(short_window_s=180, short_bucket_s=60)   # odd number of short buckets
    with pytest.raises(ValueError):
        Baselines(max_agents=0)
    assert [window_label(s) for s in (604800, 3600, 5400, 45)] == ["7d", "1h", "90m", "45s"]
    assert rfc3339_ns("2023-11-14T22:13:20Z") == T0
    assert rfc3339_ns("2023-11-14T22:13:20.123456789Z") == T0 + 123456789
    assert rfc3339_ns("2023-11-15T00:13:20.5+02:00") == T0 + 500_000_000
    assert rfc3339_ns(T0) == T0


def test_memory_per_agent_is_fixed_by_buckets_not_tasks() -> None:
    ab = AgentBaseline()
    size = ab.long.moments.nbytes + ab.short.moments.nbytes
    for i in range(20_000):
        ab.add(T0 + i * 10 * S, [(COST, 1.0 + math.sin(i)), (DURATION, 2.0)])
    assert ab.long.moments.nbytes + ab.short.moments.nbytes == size
    assert len(orjson.dumps(ab.to_dict())) < 80_000
