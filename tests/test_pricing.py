from datetime import UTC, datetime

import pytest
from genai_prices import Usage, calc_price

from agentwatch.pricing import Pricer

TS = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1e9)
SAMPLE = [
    ("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-3-5-sonnet-latest", "anthropic"),
    ("gemini-1.5-pro", "gcp.vertex_ai"), ("o3-mini", "openai"), ("claude-3-5-haiku-latest", "anthropic"),
]


@pytest.mark.parametrize(("model", "provider"), SAMPLE)
@pytest.mark.parametrize(("inp", "out", "cache", "write"), [(2000, 200, 1000, 0), (150_000, 4000, 0, 0), (10, 0, 0, 0),
                                                          (5000, 100, 1000, 3000), (250_000, 10, 0, 240_000)])
def test_fast_path_agrees_with_calc_price(model, provider, inp, out, cache, write):
    pricer = Pricer()
    got = pricer.cost(model, provider, TS, inp, out, cache, write)
    pid = {"gcp.vertex_ai": "google"}.get(provider, provider)
    want = calc_price(Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cache, cache_write_tokens=write),
                      model_ref=model,
                      provider_id=pid, genai_request_timestamp=datetime.fromtimestamp(TS / 1e9, UTC)).total_price
    assert got == pytest.approx(float(want), rel=1e-9, abs=1e-12)


def test_unknown_model_is_none_and_counted_overrides_win():
    pricer = Pricer({"my-finetune": {"input": 0.5, "output": 1.5}})
    assert pricer.cost("no-such-model-xyz", "openai", TS, 100, 10, 0) is None
    assert pricer.unknown_models == {"no-such-model-xyz": 1}
    assert pricer.cost("my-finetune", None, TS, 1_000_000, 1_000_000, 0) == pytest.approx(2.0)
    assert pricer.cost(None, "openai", TS, 1, 1, 0) is None


def test_cache_reads_priced_at_cache_rate():
    pricer = Pricer()
    full = pricer.cost("gpt-4o-mini", "openai", TS, 1_000_000, 0, 0)
    cached = pricer.cost("gpt-4o-mini", "openai", TS, 1_000_000, 0, 1_000_000)
    assert full == pytest.approx(0.15) and cached == pytest.approx(0.075)
