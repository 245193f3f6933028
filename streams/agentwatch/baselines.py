"""Per-agent rolling baselines, fed by task summaries (`agentwatch.task/v1`), for the drift detectors.

What is kept per agent (`AgentBaseline`), for the dimensions cost_usd, tokens.total, duration_s,
tool_calls, errors per task, ln(cost), ln(tokens), ln(duration) (positive values only; what window drift
compares) and each evaluation score:

- **Baseline window** (default 7 days) in 1-hour buckets: a ring of 168 buckets, each holding the
  count, sum and sum of squares of every dimension. Window mean and standard deviation come from the
  running totals of those three moments.
- **Short window** (default 1 hour) in 1-minute buckets: a ring of 60 buckets, same moments; the moments
  of its newest half are summed from the ring on demand. Everything added to the short window is also in
  the baseline window, so "the baseline without the short window" (what window drift compares against,
  so a step change is not absorbed into its own reference) is the baseline totals minus the short
  totals: no third ring.
- **Error types** seen in the baseline window, with their last-seen event time.

Why buckets of moments: memory per agent is fixed by the number of buckets and dimensions, not by the
number of tasks, and the moments of a window are the sum of its buckets' moments.

Bounds (all configurable in `BaselineConfig` / `Baselines`):
- 8 fixed dimensions + at most `max_scores` (16) evaluation names per agent; a new name beyond the cap
  takes the slot of a name with no data left in the baseline window, else it is dropped and counted
  (`AgentBaseline.dropped_scores`).
- at most `max_error_types` (256) error types per agent; beyond it the least recently seen is evicted.
  Error types and evaluation names are truncated to 200 characters.
- at most `max_agents` (1000) agents; beyond it the least recently updated agent is evicted and counted
  (`Baselines.evictions`). An agent's rings hold 3 moments x 8 dimensions x (168 + 60) buckets of
  float64 = 43 KiB, plus 5.3 KiB per score name (1000 agents with one score each: ~49 MB). Its
  `to_dict()` is ~65 KB of JSON once both windows are full (less for sparse agents).

Precision trade-offs, and why these bucket sizes:
- Window edges are bucket-granular: the baseline window covers the last 167 whole hours plus the current
  partial hour (between 167 h and 168 h), the short window 59 to 60 minutes. 1-minute short buckets keep
  that jitter under 2 % of the short window, so the short mean does not jump when an old bucket expires;
  1-hour baseline buckets keep it under 1 % of a week while holding the ring at 168 entries. Finer buckets
  would cost memory and changelog bytes for no visible gain; coarser short buckets (say 10 min) would make
  the short window swing between 50 and 60 minutes.
- Variance is (sum of squares - sum^2 / n) / (n - 1) in float64. The cancellation error is about
  1e-16 x n x (mean / stddev)^2 relative, so it matters only for a dimension whose stddev is below ~1e-5
  of its mean; readers floor the stddev (see the drift detector). Running totals are recomputed from the
  ring (not kept by add-and-subtract) whenever the ring advances, so rounding does not accumulate.
- An observation is placed by its own event time (the summary's `end`); one older than a window is not
  added to that window. Scores arriving later (evaluation log records) are placed at their arrival time.

Hot path: the open (newest) bucket and the window totals are Python float lists, so adding one task is
a few list updates; the numpy rings are touched only when a bucket closes (a vectorized flush, zeroing
of expired buckets and one re-sum of the totals), for late observations, and for the newest-half sum.

`to_dict()`/`from_dict()` give plain JSON-serializable data (lists of numbers and strings, orjson-ready)
for the changelog: only non-empty buckets are written, in bucket order, so equal state gives equal
bytes. Float values round-trip exactly through JSON (shortest round-trip repr).

Besides statistics, `AgentBaseline` carries the window-drift detector's small per-dimension state
(armed / pending / excursion count) and the policy last applied to the agent, so that one eviction and
one changelog entry cover everything the drift detectors know about an agent.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

_NS = 1_000_000_000

# Fixed dimensions; evaluation scores follow from index N_FIXED. The ln_* dimensions hold the natural
# log of the positive values of cost, tokens and duration (what window drift compares, see its module).
COST, TOKENS, DURATION, TOOL_CALLS, ERRORS, LN_COST, LN_TOKENS, LN_DURATION = range(8)
FIXED_DIMS = ("cost", "tokens", "duration", "tool_calls", "errors", "ln_cost", "ln_tokens", "ln_duration")
N_FIXED = len(FIXED_DIMS)
LOG_DIM = {COST: LN_COST, TOKENS: LN_TOKENS, DURATION: LN_DURATION}
MAX_NAME_LEN = 200  # error types and evaluation names are truncated to this many characters

STATE_VERSION = 1


def window_label(seconds: int) -> str:
    """A window length as people write it: 604800 -> "7d", 3600 -> "1h", 5400 -> "90m"."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@functools.lru_cache(maxsize=256)  # the per-agent stage reads a summary's "end" three times
def rfc3339_ns(value: str | int | float) -> int:
    """Unix nanoseconds from an RFC 3339 timestamp (any number of fraction digits); ints pass through."""
    if isinstance(value, int | float):
        return int(value)
    s = value.strip()
    if s[-1] in "Zz":
        s, tz = s[:-1], "+00:00"
    elif len(s) > 6 and s[-6] in "+-" and s[-3] == ":":
        s, tz = s[:-6], s[-6:]
    else:
        tz = "+00:00"
    frac = 0
    dot = s.find(".")
    if dot >= 0:
        digits = s[dot + 1:]
        frac = int((digits + "000000000")[:9])
        s = s[:dot]
    return int(datetime.fromisoformat(s + tz).timestamp()) * _NS + frac


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    """Window geometry and per-agent caps. Windows must be whole multiples of their bucket size."""

    baseline_window_s: int = 7 * 86_400
    baseline_bucket_s: int = 3_600
    short_window_s: int = 3_600
    short_bucket_s: int = 60
    max_scores: int = 16
    max_error_types: int = 256

    def __post_init__(self) -> None:
        for win, bucket, what in ((self.baseline_window_s, self.baseline_bucket_s, "baseline"),
                                  (self.short_window_s, self.short_bucket_s, "short")):
            if bucket <= 0 or win <= 0 or win % bucket:
                raise ValueError(f"{what} window {win}s must be a positive multiple of its bucket {bucket}s")
        if (self.short_window_s // self.short_bucket_s) % 2:
            raise ValueError("the short window must hold an even number of buckets (its newest half is "
                             "judged too)")
        if self.short_window_s > self.baseline_window_s:
            raise ValueError("the short window must not be longer than the baseline window")
        if self.max_scores < 0 or self.max_error_types < 1:
            raise ValueError("max_scores must be >= 0 and max_error_types >= 1")

    def geometry(self) -> list[int]:
        """What a stored ring must match to be restored."""
        return [self.baseline_bucket_s, self.baseline_window_s // self.baseline_bucket_s,
                self.short_bucket_s, self.short_window_s // self.short_bucket_s]


class _Ring:
    """Moments (count, sum, sum of squares) of `dims` dimensions in the last `size` time buckets.

    `moments[slot]` (shape 3 x dims; slot = absolute bucket index % size) holds the closed buckets; the
    newest ("open") bucket lives in Python lists until a later one starts; `total` covers all of them.
    """

    __slots__ = ("bucket_ns", "head", "moments", "open", "size", "total")

    def __init__(self, bucket_s: int, size: int, dims: int) -> None:
        self.bucket_ns = bucket_s * _NS
        self.size = size
        self.head = -1  # absolute index (event time // bucket) of the open bucket; -1 before any data
        self.moments = np.zeros((size, 3, dims))
        self.open = _zeros(dims)
        self.total = _zeros(dims)

    def advance(self, t_ns: int) -> None:
        """Make the bucket holding `t_ns` the open one (never backwards), expiring older buckets."""
        b = t_ns // self.bucket_ns
        head = self.head
        if b <= head:
            return
        m, size = self.moments, self.size
        steps = b - head
        if head < 0 or steps >= size:
            m.fill(0.0)
        else:
            m[head % size] = self.open
            # Slots head+1..b held buckets that are now older than the ring.
            start = (head + 1) % size
            end = start + steps
            m[start:min(end, size)] = 0.0
            if end > size:
                m[:end - size] = 0.0
        self.head = b
        self.open = _zeros(m.shape[2])
        # Re-summed, not kept by add-and-subtract, so rounding never accumulates.
        self.total = m.sum(axis=0).tolist()

    def add(self, t_ns: int, values: list[tuple[int, float]]) -> None:
        """Add (dimension, value) pairs observed at event time `t_ns`; dropped if older than the ring."""
        b = t_ns // self.bucket_ns
        if b > self.head:
            self.advance(t_ns)
        age = self.head - b
        if age == 0:
            bucket = self.open
        elif age < self.size:  # late, but inside the ring
            bucket = self.moments[b % self.size]
        else:
            return
        for c, s, q in (bucket, self.total):
            for d, x in values:
                c[d] += 1.0
                s[d] += x
                q[d] += x * x

    def newest(self, k: int) -> list[list[float]]:
        """Moments of the newest `k` buckets (open one included), summed on demand."""
        m, size = self.moments, self.size
        start = (self.head - k + 1) % size
        end = start + k
        tot = m[start:min(end, size)].sum(axis=0)
        if end > size:
            tot += m[:end - size].sum(axis=0)
        tot += self.open
        return tot.tolist()

    def grow(self, dims: int) -> None:
        extra = dims - self.moments.shape[2]
        if extra <= 0:
            return
        self.moments = np.concatenate([self.moments, np.zeros((self.size, 3, extra))], axis=2)
        for lst in (*self.open, *self.total):
            lst.extend([0.0] * extra)

    def clear_dim(self, d: int) -> None:
        self.moments[:, :, d] = 0.0
        for lst in (*self.open, *self.total):
            lst[d] = 0.0

    def to_dict(self) -> dict[str, Any]:
        buckets = []
        if self.head >= 0:
            for slot in np.flatnonzero(self.moments[:, 0].any(axis=1)).tolist():
                age = (self.head - slot) % self.size
                buckets.append([self.head - age, *self.moments[slot].tolist()])
            buckets.sort(key=lambda row: row[0])
            if any(self.open[0]):
                buckets.append([self.head, *(list(v) for v in self.open)])
        return {"head": self.head, "buckets": buckets, "total": [list(v) for v in self.total]}

    def load(self, data: Mapping[str, Any]) -> None:
        self.head = int(data["head"])
        m = self.moments
        m.fill(0.0)
        dims = m.shape[2]
        for absolute, c, s, q in data["buckets"]:
            if absolute == self.head:
                self.open = [list(c), list(s), list(q)]
            else:
                m[absolute % self.size] = (c, s, q)
        self.total = [list(v) for v in data["total"]]
        if len(self.total) != 3 or any(len(v) != dims for v in (*self.open, *self.total)):
            raise ValueError("stored ring does not match this ring's shape")


def _zeros(dims: int) -> list[list[float]]:
    return [[0.0] * dims, [0.0] * dims, [0.0] * dims]


def _stats(n: float, s: float, q: float) -> tuple[int, float, float]:
    """(n, mean, sample stddev) from moments; stddev 0 below two values."""
    if n <= 0:
        return 0, 0.0, 0.0
    mean = s / n
    var = (q - s * mean) / (n - 1) if n > 1 else 0.0
    return int(n), mean, math.sqrt(var) if var > 0.0 else 0.0


class AgentBaseline:
    """Rolling statistics for one agent over a baseline window and a short window (see module doc)."""

    __slots__ = ("config", "drift_dir", "drift_excursions", "drift_pending_dir", "drift_pending_since",
                 "dropped_scores", "error_types", "index", "last_rule", "last_sigma", "long", "names",
                 "short",
                 "updated_ns")

    def __init__(self, config: BaselineConfig | None = None) -> None:
        self.config = config = config or BaselineConfig()
        self.names: list[str] = list(FIXED_DIMS)   # dimension index -> name; scores are "score:<name>"
        self.index: dict[str, int] = {}            # evaluation name -> dimension index
        dims = N_FIXED
        long = config.baseline_window_s // config.baseline_bucket_s
        self.long = _Ring(config.baseline_bucket_s, long, dims)
        short = config.short_window_s // config.short_bucket_s
        self.short = _Ring(config.short_bucket_s, short, dims)
        self.error_types: dict[str, int] = {}     # error.type -> last seen (event time, ns)
        self.dropped_scores = 0                    # score values dropped by the score-name cap
        self.updated_ns = 0
        # Window-drift state per dimension (owned by detectors.drift): fired direction (0 = armed,
        # +1/-1 = fired up/down, waiting to re-arm), pending direction and since when, excursion count.
        self.drift_dir = [0] * dims
        self.drift_pending_dir = [0] * dims
        self.drift_pending_since = [0] * dims
        self.drift_excursions = [0] * dims
        self.last_rule: str | None = None          # policy last applied, for scores arriving on their own
        self.last_sigma: float | None = None

    # -- dimensions --------------------------------------------------------------------------------

    def _drift_state(self) -> list[list[int]]:
        return [self.drift_dir, self.drift_pending_dir, self.drift_pending_since, self.drift_excursions]

    def score_dim(self, evaluation: str) -> int | None:
        """The dimension index of an evaluation name, creating it within the cap; None when capped."""
        evaluation = evaluation[:MAX_NAME_LEN]
        d = self.index.get(evaluation)
        if d is not None:
            return d
        if len(self.index) < self.config.max_scores:
            d = len(self.names)
            self.names.append("score:" + evaluation)
            for ring in (self.long, self.short):
                ring.grow(d + 1)
            for lst in self._drift_state():
                lst.append(0)
        else:
            # Reuse the slot of a name with nothing left in the baseline window (lowest index first).
            counts = self.long.total[0]
            stale = [i for i in self.index.values() if counts[i] == 0.0]
            if not stale:
                self.dropped_scores += 1
                return None
            d = min(stale)
            del self.index[self.names[d][6:]]
            self.names[d] = "score:" + evaluation
            for ring in (self.long, self.short):
                ring.clear_dim(d)
            self.drift_dir[d] = self.drift_pending_dir[d] = self.drift_pending_since[d] = 0
            self.drift_excursions[d] = 0
        self.index[evaluation] = d
        return d

    # -- updates -----------------------------------------------------------------------------------

    def advance(self, now_ns: int) -> None:
        """Expire buckets older than the windows as of `now_ns`."""
        self.long.advance(now_ns)
        self.short.advance(now_ns)
        if now_ns > self.updated_ns:
            self.updated_ns = now_ns

    def add(self, t_ns: int, values: list[tuple[int, float]]) -> None:
        """Add (dimension, value) pairs of one observation at event time `t_ns` to both windows; for
        cost, tokens and duration a positive value's natural log goes to its ln_* dimension too."""
        logs = [(LOG_DIM[d], math.log(x)) for d, x in values if d in LOG_DIM and x > 0.0]
        if logs:
            values = values + logs
        self.long.add(t_ns, values)
        self.short.add(t_ns, values)

    def record_errors(self, errors: Mapping[str, int], t_ns: int, now_ns: int) -> list[str]:
        """Count one task (its total error count goes to the `errors` dimension) and note its error types.

        Returns the types (sorted) not seen in the baseline window before this task.
        """
        self.add(t_ns, [(ERRORS, float(sum(errors.values())))])
        horizon = now_ns - self.config.baseline_window_s * _NS
        seen = self.error_types
        new = []
        for name, count in errors.items():
            if count <= 0:
                continue
            name = name[:MAX_NAME_LEN]
            last = seen.get(name)
            if last is None or last < horizon:
                new.append(name)
            if last is None or t_ns > last:
                seen[name] = t_ns
        if len(seen) > self.config.max_error_types:
            for name in [k for k, v in seen.items() if v < horizon]:
                del seen[name]
            while len(seen) > self.config.max_error_types:
                del seen[min(seen, key=lambda k: (seen[k], k))]
        new.sort()
        return new

    # -- reads -------------------------------------------------------------------------------------

    def baseline(self, d: int) -> tuple[int, float, float]:
        """(n, mean, stddev) of dimension `d` over the whole baseline window."""
        c, s, q = self.long.total
        return _stats(c[d], s[d], q[d])

    def short_window(self, d: int, newest_half: bool = False) -> tuple[int, float, float]:
        """(n, mean, stddev) of dimension `d` over the short window, or over its newest half (summed on
        demand: a few microseconds)."""
        c, s, q = self.short.newest(self.short.size // 2) if newest_half else self.short.total
        return _stats(c[d], s[d], q[d])

    def baseline_without_short(self, d: int) -> tuple[int, float, float]:
        """(n, mean, stddev) of dimension `d` over the baseline window minus the short window."""
        (lc, ls, lq), (sc, ss, sq) = self.long.total, self.short.total
        return _stats(lc[d] - sc[d], ls[d] - ss[d], lq[d] - sq[d])

    def tasks_in_window(self) -> int:
        """Tasks whose errors were recorded in the baseline window (the error detector's warm-up count)."""
        return int(self.long.total[0][ERRORS])

    # -- persistence -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "geometry": self.config.geometry(),
            "names": self.names[N_FIXED:],
            "long": self.long.to_dict(),
            "short": self.short.to_dict(),
            "error_types": sorted(self.error_types.items()),
            "dropped_scores": self.dropped_scores,
            "updated_ns": self.updated_ns,
            "drift": self._drift_state(),
            "last_rule": self.last_rule,
            "last_sigma": self.last_sigma,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], config: BaselineConfig | None = None) -> AgentBaseline:
        """Restore from `to_dict()` output; ValueError if it was written with another window geometry."""
        ab = cls(config)
        if data.get("v") != STATE_VERSION or list(data["geometry"]) != ab.config.geometry():
            raise ValueError("stored baseline has another version or window geometry")
        for name in data["names"]:
            ab.score_dim(name[6:])
        ab.long.load(data["long"])
        ab.short.load(data["short"])
        ab.error_types = {k: int(v) for k, v in data["error_types"]}
        ab.dropped_scores = int(data["dropped_scores"])
        ab.updated_ns = int(data["updated_ns"])
        ab.drift_dir, ab.drift_pending_dir, ab.drift_pending_since, ab.drift_excursions = (
            [int(x) for x in lst] for lst in data["drift"])
        ab.last_rule = data["last_rule"]
        ab.last_sigma = data["last_sigma"]
        return ab


class Baselines:
    """A bounded map agent -> `AgentBaseline`; the least recently updated agent is evicted beyond
    `max_agents` (counted in `evictions`)."""

    __slots__ = ("_agents", "config", "evictions", "max_agents")

    def __init__(self, config: BaselineConfig | None = None, max_agents: int = 1000) -> None:
        if max_agents < 1:
            raise ValueError("max_agents must be >= 1")
        self.config = config or BaselineConfig()
        self.max_agents = max_agents
        self.evictions = 0
        self._agents: OrderedDict[str, AgentBaseline] = OrderedDict()

    def get(self, agent: str, now_ns: int) -> AgentBaseline:
        """The agent's baseline (created when new), marked as just updated and advanced to `now_ns`."""
        ab = self._agents.get(agent)
        if ab is None:
            ab = self._agents[agent] = AgentBaseline(self.config)
            if len(self._agents) > self.max_agents:
                self._agents.popitem(last=False)
                self.evictions += 1
        else:
            self._agents.move_to_end(agent)
        ab.advance(now_ns)
        return ab

    def peek(self, agent: str) -> AgentBaseline | None:
        """The agent's baseline without touching its recency; None if not kept."""
        return self._agents.get(agent)

    def put(self, agent: str, baseline: AgentBaseline) -> None:
        """Adopt a baseline recovered from a changelog (bounded like `get`)."""
        self._agents[agent] = baseline
        self._agents.move_to_end(agent)
        if len(self._agents) > self.max_agents:
            self._agents.popitem(last=False)
            self.evictions += 1

    def remove(self, agent: str) -> None:
        """Forget an agent another worker now owns."""
        self._agents.pop(agent, None)

    def __len__(self) -> int:
        return len(self._agents)

    def __contains__(self, agent: object) -> bool:
        return agent in self._agents

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

    def to_dict(self) -> dict[str, Any]:
        """Agents in recency order (oldest first), so a restore evicts in the same order."""
        return {"v": STATE_VERSION, "max_agents": self.max_agents, "evictions": self.evictions,
                "agents": [[name, ab.to_dict()] for name, ab in self._agents.items()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], config: BaselineConfig | None = None,
                  max_agents: int | None = None) -> Baselines:
        """Restore; agents stored with another window geometry start afresh (they are skipped)."""
        out = cls(config, max_agents if max_agents is not None else int(data["max_agents"]))
        out.evictions = int(data["evictions"])
        for name, stored in data["agents"]:
            try:
                out._agents[name] = AgentBaseline.from_dict(stored, out.config)
            except ValueError:
                continue
            if len(out._agents) > out.max_agents:
                out._agents.popitem(last=False)
                out.evictions += 1
        return out
