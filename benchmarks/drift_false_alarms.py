"""How often does window drift cry wolf, and how fast does it see a real +50 % cost step?

Synthetic agents (seeded): Poisson task arrivals; lognormal cost (tokens follow cost) and duration; a
normal evaluation score. For each seed:
- false alarms: window-drift findings on 10,000 stationary tasks per agent, per agent-day;
- detection delay: minutes from a step of +50 % in cost (the whole distribution x1.5) to the first
  cost_drift window finding;
- per-summary cost of DriftDetector.observe.
Two traffic levels (60 and 150 tasks/h) and two cost spreads (lognormal sigma 0.5 and 1.0).

    .venv/bin/python benchmarks/drift_false_alarms.py [--seeds 10]

Runs in well under a minute.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from agentwatch.detectors.drift import DriftDetector

T0 = 1_700_000_000 * 10**9
DAY = 86_400 * 10**9


def tasks(seed: int, n: int, rate_h: float, cost_sigma: float, step_at: int | None = None,
          agent: str = "agent") -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    ends = T0 + (np.cumsum(rng.exponential(3600 / rate_h, n)) * 1e9).astype(np.int64)
    cost = rng.lognormal(-1.0, cost_sigma, n)
    tokens = cost * 20_000 * rng.lognormal(0.0, 0.1, n)
    duration = rng.lognormal(3.0, 0.5, n)
    score = np.clip(rng.normal(0.8, 0.08, n), 0.0, 1.0)
    for i in range(n):
        k = 1.5 if step_at is not None and ends[i] >= step_at else 1.0
        yield {"agent": agent, "end": int(ends[i]), "cost_usd": float(cost[i] * k),
               "tokens": {"total": int(tokens[i] * k)}, "duration_s": float(duration[i]), "tool_calls": 3,
               "errors": {}, "scores": {"relevance": float(score[i])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sigma", type=float, default=3.0, help="drift_sigma")
    args = ap.parse_args()
    print(f"drift_sigma={args.sigma}, default DriftConfig, {args.seeds} seeds per row")
    print(f"{'tasks/h':>7} {'cost sd(ln)':>11} {'agent-days':>10} {'false alarms':>12} {'per agent-day':>13} "
          f"{'step delay min (median / max / missed)':>40} {'us/observe':>10}")
    for rate in (60, 150):
        for cost_sigma in (0.5, 1.0):
            days, alarms, delays, missed, spent, calls = 0.0, 0, [], 0, 0.0, 0
            for seed in range(args.seeds):
                det = DriftDetector()
                stream = list(tasks(seed, 10_000, rate, cost_sigma))
                days += (stream[-1]["end"] - stream[0]["end"]) / DAY
                t = time.perf_counter()
                for s in stream:
                    found = det.observe(s, "*", args.sigma, None, s["end"])
                    alarms += sum("/drift_sigma:" in f.rule for f in found)
                spent += time.perf_counter() - t
                calls += len(stream)

                step_at = T0 + 3 * DAY  # 3 days of history, then the step
                det = DriftDetector()
                delay = None
                for s in tasks(1000 + seed, int(rate * 24 * 4), rate, cost_sigma, step_at):
                    for f in det.observe(s, "*", args.sigma, None, s["end"]):
                        if delay is None and s["end"] >= step_at and f.evidence["dimension"] == "cost":
                            delay = (s["end"] - step_at) / 60e9
                if delay is None:
                    missed += 1
                else:
                    delays.append(delay)
            med = f"{np.median(delays):.0f}" if delays else "-"
            worst = f"{max(delays):.0f}" if delays else "-"
            print(f"{rate:>7} {cost_sigma:>11} {days:>10.0f} {alarms:>12} {alarms / days:>13.4f} "
                  f"{med + ' / ' + worst + ' / ' + str(missed):>40} {spent / calls * 1e6:>10.1f}")


if __name__ == "__main__":
    main()
