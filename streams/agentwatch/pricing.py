"""Cost of an LLM call: genai-prices' bundled snapshot, plus the policy's override table.

`genai_prices.calc_price` costs ~240 µs a call (Decimal arithmetic, unit registry); on the hot path
that alone would cap a worker near 12k spans/s. So rates are resolved once per (model, provider, UTC
day) into plain floats per token, and a call's cost is a few multiplications. Tiered prices (the tier
is chosen by the call's input tokens and applies to all its tokens, as genai-prices does) are kept as
(base, [(start, price)]). Prices never come from the network: `UpdatePrices` is never started.

Token semantics follow the GenAI conventions: input tokens include cache reads and cache writes, so
uncached input = input - cache_read - cache_write, priced at the input rate; cache reads at the
cache-read rate and cache writes at the cache-write rate (each the input rate where the model has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

_PER_TOKEN = 1e-6  # prices are USD per million tokens
_DAY_NS = 86_400 * 10**9
_CACHE_MAX = 4096

# OTel `gen_ai.provider.name` values that genai-prices knows under another id.
_PROVIDER_ALIASES = {
    "gcp.gen_ai": "google", "gcp.vertex_ai": "google", "gcp.gemini": "google", "google": "google",
    "aws.bedrock": "aws", "azure.ai.openai": "azure", "azure.ai.inference": "azure", "azure": "azure",
    "x_ai": "x-ai", "xai": "x-ai", "mistral_ai": "mistral", "mistralai": "mistral",
}

Rate = float | tuple[float, tuple[tuple[int, float], ...]]


def _rate(price: object) -> Rate | None:
    if price is None:
        return None
    tiers = getattr(price, "tiers", None)
    if tiers is not None:  # genai_prices TieredPrices
        return (float(price.base) * _PER_TOKEN,  # type: ignore[attr-defined]
                tuple((int(t.start), float(t.price) * _PER_TOKEN) for t in tiers))
    return float(price) * _PER_TOKEN  # type: ignore[arg-type]


def _at(rate: Rate, input_tokens: int) -> float:
    if isinstance(rate, float):
        return rate
    base, tiers = rate
    for start, price in reversed(tiers):
        if input_tokens > start:
            return price
    return base


class Rates:
    """Per-token USD rates of one model on one day."""

    __slots__ = ("cache_read", "cache_write", "input", "output")

    def __init__(self, input: Rate, output: Rate, cache_read: Rate | None, cache_write: Rate | None = None) -> None:
        self.input = input
        self.output = output
        self.cache_read = cache_read if cache_read is not None else input
        self.cache_write = cache_write if cache_write is not None else input

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int, cache_write_tokens: int = 0) -> float:
        uncached = max(input_tokens - cache_read_tokens - cache_write_tokens, 0)
        cost = (uncached * _at(self.input, input_tokens) + cache_read_tokens * _at(self.cache_read, input_tokens)
                + output_tokens * _at(self.output, input_tokens))
        if cache_write_tokens:
            cost += cache_write_tokens * _at(self.cache_write, input_tokens)
        return cost


class Pricer:
    """Resolves and caches rates; remembers (bounded) which models had no price, for `doctor`."""

    def __init__(self, overrides: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self._overrides = {
            model: Rates(p["input"] * _PER_TOKEN, p["output"] * _PER_TOKEN,
                         p["cache_read"] * _PER_TOKEN if p.get("cache_read") is not None else None)
            for model, p in (overrides or {}).items()
        }
        self._cache: dict[tuple[str, str | None], tuple[int, Rates | None]] = {}
        self.unknown_models: dict[str, int] = {}  # model -> unpriced calls (bounded like the cache)
        self._snapshot = None

    def rates(self, model: str, provider: str | None, ts_ns: int) -> Rates | None:
        override = self._overrides.get(model)
        if override is not None:
            return override
        day = ts_ns // _DAY_NS
        key = (model, provider)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == day:
            return hit[1]
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        rates = self._lookup(model, provider, ts_ns)
        self._cache[key] = (day, rates)
        return rates

    def cost(self, model: str | None, provider: str | None, ts_ns: int, input_tokens: int, output_tokens: int,
             cache_read_tokens: int, cache_write_tokens: int = 0) -> float | None:
        """USD for one call, or None when the model's price is unknown."""
        if not model:
            return None
        rates = self.rates(model, provider, ts_ns)
        if rates is None:
            if model in self.unknown_models or len(self.unknown_models) < _CACHE_MAX:
                self.unknown_models[model] = self.unknown_models.get(model, 0) + 1
            return None
        return rates.cost(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)

    def load(self) -> None:
        """Load genai-prices' table now (~0.2 s), not when the first priced call arrives: a long-running command
        calls this during start-up, so the first batch is not held up and the table is frozen with the rest of
        start-up (process_tuning.py)."""
        if self._snapshot is None:
            from genai_prices import data_snapshot

            self._snapshot = data_snapshot.get_snapshot()

    def _lookup(self, model: str, provider: str | None, ts_ns: int) -> Rates | None:
        self.load()
        provider_id = _PROVIDER_ALIASES.get(provider, provider) if provider else None
        found = None
        for pid in (provider_id, None) if provider_id else (None,):
            try:
                found = self._snapshot.find_provider_model(model, None, pid, None)
                break
            except LookupError:
                continue
        if found is None:
            return None
        when = datetime.fromtimestamp(ts_ns / 1e9, UTC)
        mp = found[1].get_prices(when)
        inp, out = _rate(getattr(mp, "input_mtok", None)), _rate(getattr(mp, "output_mtok", None))
        if inp is None or out is None:
            return None
        return Rates(inp, out, _rate(getattr(mp, "cache_read_mtok", None)),
                     _rate(getattr(mp, "cache_write_mtok", None)))
