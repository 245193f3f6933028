"""Drift alerts from per-agent baselines: one task far above the agent's rolling mean, and window drift.

Fed one task summary (`agentwatch.task/v1`) at a time (`observe`), plus evaluation scores that arrive
after their task closed (`observe_score`). State is the shared, bounded `Baselines` map
(`agentwatch.baselines`); the clock is passed in, nothing reads the wall clock.

(a) **cost_multiple** (kind `cost_drift`, warning, review; rule "<rule>/cost_multiple", ordinal 0): this
    task's cost_usd (its total tokens when the cost is unknown) exceeds `cost_multiple` x the agent's
    arithmetic mean of that dimension over the baseline window. Judged before the task joins the baseline,
    and only once the baseline holds `min_baseline_tasks` values.

(b) **window drift** (kind `cost_drift` for cost / tokens / duration, `score_drift` for evaluation scores;
    warning, notify; rule "<rule>/drift_sigma:<dimension>", ordinal = the agent+dimension's excursion
    number, so replays give the same alert IDs). With the reference = the baseline window *minus* the short
    window (so a step change is not absorbed into its own reference):

        z = (short-window mean - reference mean) / (reference stddev x sqrt(1/n_short + 1/n_reference))

    A dimension fires when |z| > drift_sigma **and** the newest half of the short window is beyond the
    band on the same side too (its own z, with its own n), and both have held at every evaluation for
    `confirm_s` of event time. Then it is disarmed until |z| <= drift_sigma x `rearm_fraction`
    (hysteresis) or z crosses to the other side: once per excursion.

Statistical choices, and why:
- **Log scale for cost, tokens and duration.** They are positive and right-skewed (lognormal-like), and
  the mean of an hour of skewed values has a much heavier upper tail than the normal curve a sigma
  threshold assumes: in simulation (lognormal, sigma 0.5, 60-140 tasks/h) the same test on arithmetic
  means raised 0.03-0.05 false alarms per agent-day, on ln(value) none in 200 agent-days. So these
  dimensions are compared as means of ln(value), i.e. geometric means; a +50 % shift of the whole
  distribution is a +0.405 shift in ln. Values <= 0 (a free task) do not enter the log statistics.
  Findings report geometric means (observed, threshold and baseline.mean; baseline.stddev is the stddev
  of ln(value)); evidence says `"scale": "log"`. Scores are compared as they are. cost_multiple (a)
  uses plain arithmetic means.
- **Standard error, not stddev**: an hour's mean of 100 tasks is 10x tighter than one task, so a sustained
  shift is many standard errors while a single outlier task is not (that one is (a)'s job). The
  1/n_reference term is the reference mean's own uncertainty: negligible with days of history
  (it is then stddev / sqrt(n_short)), but it keeps a young agent's thin reference from alerting.
- **Newest half + `confirm_s` (default 15 min).** The short window slides and is re-evaluated at every
  task, so a bare |z| > 3 would be tested on strongly overlapping windows all day: for normal data that
  gives ~0.5 excursions per dimension-day. An excursion carried by a cluster of older tasks still inside
  the sliding window fails the newest-half test; a brief one fails the hold. Together they bring normal
  stationary data to ~0.002 per dimension-day (simulated), while a shift of delta standard errors is
  caught about (3 / delta) x short window + confirm_s after it starts.
  Measured (benchmarks/drift_false_alarms.py, 20 seeds, drift_sigma 3): no false alarm in 388 agent-days;
  a +50 % cost step is seen after a median 33 min (max 44) at 150 tasks/h with ln-sd 0.5, 42 (max 88)
  at 60 tasks/h; with ln-sd 1.0 the same step is only ~3 standard errors an hour and takes hours.
- "cost" covers tokens on tasks whose cost is unknown (as (a) does): with known prices the two move
  together and judging both would alert twice. tool_calls and errors are kept but not judged.
- `min_short_tasks` (10) and `min_baseline_tasks` (30): fewer values give no verdict (and reset a pending
  excursion). The reference stddev is floored (1e-6 x |mean|, 1e-12) so a constant dimension cannot give
  an infinite z from float64 rounding.
Limits: a dimension fires once per excursion, so a second step in the same direction before re-arming is
not reported; daily seasonality is not modelled (a strong diurnal cycle reads as drift); the power to see a
shift grows with sqrt(tasks per short window): at 10 tasks an hour only large shifts are visible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..baselines import (
    COST,
    DURATION,
    FIXED_DIMS,
    LOG_DIM,
    TOKENS,
    TOOL_CALLS,
    AgentBaseline,
    BaselineConfig,
    Baselines,
    rfc3339_ns,
    window_label,
)
from ..model import Finding

_NS = 1_000_000_000
_TITLES = {COST: "task cost", TOKENS: "tokens per task", DURATION: "task duration"}
_JUDGEABLE = ("cost", "tokens", "duration")


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """Every option of the drift detectors, with its default; see the module docstring for why."""

    baseline_window_s: int = 7 * 86_400   # reference window (rolling mean / stddev)
    baseline_bucket_s: int = 3_600        # 168 buckets for 7 days
    short_window_s: int = 3_600           # window whose mean is compared against the reference
    short_bucket_s: int = 60              # 60 buckets for 1 hour
    min_baseline_tasks: int = 30          # no alert from a reference with fewer values
    min_short_tasks: int = 10             # no window-drift verdict on fewer values in the short window
    confirm_s: int = 900                  # the excursion must hold this long (event time) before firing
    rearm_fraction: float = 0.5           # re-arm once |z| <= drift_sigma * rearm_fraction
    # Judged by window drift, besides every evaluation score ("cost" also covers tokens when cost is unknown).
    window_dimensions: tuple[str, ...] = ("cost", "duration")
    max_agents: int = 1000
    max_scores: int = 16
    max_error_types: int = 256

    def __post_init__(self) -> None:
        unknown = set(self.window_dimensions) - set(_JUDGEABLE)
        if unknown:
            raise ValueError(f"unknown window dimensions {sorted(unknown)}; choose from {list(_JUDGEABLE)}")
        if self.min_baseline_tasks < 2 or self.min_short_tasks < 1:
            raise ValueError("min_baseline_tasks must be >= 2 and min_short_tasks >= 1")
        if self.confirm_s < 0 or not 0.0 <= self.rearm_fraction < 1.0:
            raise ValueError("confirm_s must be >= 0 and rearm_fraction in [0, 1)")
        self.baseline_config()  # validates the window geometry

    def baseline_config(self) -> BaselineConfig:
        return BaselineConfig(self.baseline_window_s, self.baseline_bucket_s, self.short_window_s,
                              self.short_bucket_s, self.max_scores, self.max_error_types)

    def new_baselines(self) -> Baselines:
        return Baselines(self.baseline_config(), self.max_agents)


def _fmt(d: int, x: float) -> str:
    """A value of dimension `d` as a person reads it."""
    if d == COST:
        return f"${x:,.2f}" if abs(x) >= 0.995 else f"${x:.3g}"
    if d == TOKENS:
        return f"{x:,.0f}"
    if d == DURATION:
        return f"{x:,.1f}s"
    return f"{x:.3g}"


class DriftDetector:
    """cost_multiple and window-drift findings for task summaries; see the module docstring."""

    __slots__ = ("_judged", "baselines", "config", "long_label", "short_label")

    def __init__(self, config: DriftConfig | None = None, baselines: Baselines | None = None) -> None:
        self.config = config = config or DriftConfig()
        self.baselines = baselines if baselines is not None else config.new_baselines()
        self._judged = frozenset(FIXED_DIMS.index(name) for name in config.window_dimensions)
        self.long_label = window_label(config.baseline_window_s)
        self.short_label = window_label(config.short_window_s)

    def observe(self, summary: Mapping[str, Any], rule: str, drift_sigma: float | None,
                cost_multiple: float | None, now_ns: int) -> list[Finding]:
        """Judge one task summary against its agent's baseline, then add it to the baseline.

        `rule` is the matched policy rule's name; `drift_sigma` / `cost_multiple` None switch (b) / (a)
        off (the task still feeds the baseline). Findings carry ts_ns = the summary's `end`.
        """
        agent = str(summary["agent"])
        end_ns = rfc3339_ns(summary["end"])
        ab = self.baselines.get(agent, max(now_ns, end_ns))
        ab.last_rule, ab.last_sigma = rule, drift_sigma
        out: list[Finding] = []

        cost = summary.get("cost_usd")
        tokens = (summary.get("tokens") or {}).get("total")
        if cost_multiple is not None:
            d, x = (COST, cost) if cost is not None else (TOKENS, tokens)
            if x is not None:
                f = self._cost_multiple(ab, agent, d, float(x), rule, cost_multiple, end_ns)
                if f is not None:
                    out.append(f)

        values: list[tuple[int, float]] = []
        judge: list[int] = []  # dimensions this task moved that window drift judges
        for d, x in ((COST, cost), (TOKENS, tokens), (DURATION, summary.get("duration_s")),
                     (TOOL_CALLS, summary.get("tool_calls"))):
            if x is not None:
                values.append((d, float(x)))
                if d in self._judged or (d == TOKENS and cost is None and COST in self._judged):
                    judge.append(d)
        for name, score in (summary.get("scores") or {}).items():
            d = ab.score_dim(name) if score is not None else None
            if d is not None:
                values.append((d, float(score)))
                judge.append(d)
        ab.add(end_ns, values)

        if drift_sigma is not None:
            for d in judge:
                f = self._window(ab, agent, d, rule, drift_sigma, now_ns, end_ns)
                if f is not None:
                    out.append(f)
        return out

    def observe_score(self, agent: str, evaluation: str, score: float, now_ns: int, *,
                      rule: str | None = None, drift_sigma: float | None = None) -> list[Finding]:
        """Add an evaluation score that arrived after its task closed (placed at `now_ns`).

        `rule` / `drift_sigma` default to those of the agent's last `observe`; a score for an agent with no
        task seen yet only feeds the baseline. Findings carry ts_ns = now_ns.
        """
        ab = self.baselines.get(agent, now_ns)
        d = ab.score_dim(evaluation)
        if d is None:
            return []
        ab.add(now_ns, [(d, float(score))])
        rule = rule if rule is not None else ab.last_rule
        sigma = drift_sigma if drift_sigma is not None else ab.last_sigma
        if rule is None or sigma is None:
            return []
        f = self._window(ab, agent, d, rule, sigma, now_ns, now_ns)
        return [f] if f is not None else []

    # -- (a) ---------------------------------------------------------------------------------------

    def _cost_multiple(self, ab: AgentBaseline, agent: str, d: int, x: float, rule: str, multiple: float,
                       ts_ns: int) -> Finding | None:
        n, mean, sd = ab.baseline(d)
        if n < self.config.min_baseline_tasks or mean <= 0.0 or x <= multiple * mean:
            return None
        ratio = x / mean
        what = f"task cost {_fmt(d, x)}" if d == COST else f"task used {_fmt(d, x)} tokens (cost unknown),"
        return Finding(
            kind="cost_drift", severity="warning", action="review", rule=f"{rule}/cost_multiple",
            observed=x, threshold=multiple * mean, ts_ns=ts_ns,
            baseline={"mean": mean, "stddev": sd, "n": n, "window": self.long_label},
            evidence={"dimension": FIXED_DIMS[d], "multiple": round(ratio, 2)},
            message=f"{what} is {ratio:.1f}x {agent}'s {self.long_label} mean {_fmt(d, mean)} (n={n:,})")

    # -- (b) ---------------------------------------------------------------------------------------

    def _window(self, ab: AgentBaseline, agent: str, d: int, rule: str, sigma: float, now_ns: int,
                ts_ns: int) -> Finding | None:
        """Advance dimension `d`'s excursion state machine; a Finding when an excursion is confirmed."""
        cfg = self.config
        s = LOG_DIM.get(d, d)  # the dimension the statistics are taken on
        n_s = int(ab.short.total[0][s])
        if n_s < cfg.min_short_tasks:
            ab.drift_pending_dir[d] = 0  # no verdict: an unconfirmed excursion starts over
            return None
        mean_s = ab.short.total[1][s] / n_s
        n_b, mean_b, sd_b = ab.baseline_without_short(s)
        if n_b < cfg.min_baseline_tasks:
            ab.drift_pending_dir[d] = 0  # no verdict: an unconfirmed excursion starts over
            return None
        sd = max(sd_b, 1e-6 * abs(mean_b), 1e-12)
        se = sd * math.sqrt(1.0 / n_s + 1.0 / n_b)
        z = (mean_s - mean_b) / se
        side = 1 if z > 0 else -1
        fired = ab.drift_dir[d]
        if fired:
            if abs(z) <= sigma * cfg.rearm_fraction or (side != fired and abs(z) > sigma):
                ab.drift_dir[d] = 0  # re-armed (or straight into an excursion the other way)
            else:
                return None
        if abs(z) <= sigma:
            ab.drift_pending_dir[d] = 0
            return None
        n_h, mean_h, _ = ab.short_window(s, newest_half=True)
        if not n_h or side * (mean_h - mean_b) / (sd * math.sqrt(1.0 / n_h + 1.0 / n_b)) <= sigma:
            ab.drift_pending_dir[d] = 0  # the newest half is not beyond the band: not a current shift
            return None
        if ab.drift_pending_dir[d] != side:
            ab.drift_pending_dir[d] = side
            ab.drift_pending_since[d] = now_ns
        if now_ns - ab.drift_pending_since[d] < cfg.confirm_s * _NS:
            return None
        ab.drift_pending_dir[d] = 0
        ab.drift_dir[d] = side
        ab.drift_excursions[d] += 1

        edge = mean_b + side * sigma * se
        name = ab.names[d]
        where = f"{abs(z):.1f} standard errors {'above' if z > 0 else 'below'}"
        evidence: dict[str, Any] = {"dimension": name, "direction": "up" if z > 0 else "down",
                                    "z": round(z, 2), "short_n": n_s, "short_window": self.short_label}
        if d in LOG_DIM:  # report geometric means
            kind = "cost_drift"
            observed, threshold, mean_ref = math.exp(mean_s), math.exp(edge), math.exp(mean_b)
            evidence["scale"] = "log"
            message = (f"{agent} {_TITLES[d]} over the last {self.short_label} is "
                       f"{observed / mean_ref:.2f}x its {self.long_label} level: geometric mean "
                       f"{_fmt(d, observed)} vs {_fmt(d, mean_ref)} (n={n_s:,} vs {n_b:,}), {where} "
                       "on a log scale")
        else:
            kind = "score_drift"
            observed, threshold, mean_ref = mean_s, edge, mean_b
            message = (f"{agent} mean {name[6:]!r} score over the last {self.short_label} is {mean_s:.3g} "
                       f"(n={n_s:,}), {where} its {self.long_label} mean {mean_b:.3g} (sd {sd_b:.3g}, "
                       f"n={n_b:,})")
        return Finding(
            kind=kind, severity="warning", action="notify", rule=f"{rule}/drift_sigma:{name}",
            observed=observed, threshold=threshold, ts_ns=ts_ns, ordinal=ab.drift_excursions[d],
            baseline={"mean": mean_ref, "stddev": sd_b, "n": n_b, "window": self.long_label},
            evidence=evidence, message=message)

    # -- persistence -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self.baselines.to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], config: DriftConfig | None = None) -> DriftDetector:
        config = config or DriftConfig()
        return cls(config, Baselines.from_dict(data, config.baseline_config(), config.max_agents))

