"""otlp/encode.py: normalized spans written back as OTLP decode to the same spans, field for field, in both
encodings. Over the spans of every recorded instrumentation (tests/data/frameworks) and generated ones."""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agentwatch.model import AGENT, LLM, OTHER, TOOL, Resource, Span
from agentwatch.otlp.decode import decode_record
from agentwatch.otlp.encode import to_otlp_json, to_traces
from agentwatch.replay import read_records

FRAMEWORKS = Path(__file__).resolve().parents[1] / "data" / "frameworks"
_FIELDS = [f for f in Span.__slots__ if f not in ("resource", "src", "offset")]


def _row(s: Span) -> tuple:
    return (s.resource.as_tuple(), *(getattr(s, f) for f in _FIELDS))


def _decoded(data: bytes) -> list[Span]:
    out = decode_record(data, max_bytes=1 << 30)
    assert not out.errors, out.errors
    return out.spans


def _assert_round_trip(spans: list[Span]) -> None:
    want = sorted(map(_row, spans), key=repr)
    assert sorted(map(_row, _decoded(to_traces(spans).SerializeToString())), key=repr) == want
    assert sorted(map(_row, _decoded(orjson.dumps(to_otlp_json(spans)))), key=repr) == want


def _recorded() -> list[Span]:
    spans = []
    for path in sorted(FRAMEWORKS.rglob("spans.*")):
        if path.suffix in (".json", ".otlp"):
            for rec in read_records(path):
                spans += decode_record(rec, max_bytes=1 << 30).spans
    return spans


def test_every_recorded_instrumentation_round_trips() -> None:
    spans = _recorded()
    assert len(spans) > 500
    kinds = {s.kind for s in spans}
    assert kinds == {OTHER, LLM, TOOL, AGENT}
    assert any(s.args_hash for s in spans) and any(s.error_type for s in spans)
    _assert_round_trip(spans)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
_hex = st.integers(min_value=1, max_value=2**64 - 1).map(lambda n: f"{n:016x}")
_count = st.none() | st.integers(min_value=0, max_value=2**52 - 1)  # a sum of two stays a valid count


@st.composite
def _span(draw: st.DrawFn) -> Span:
    kind = draw(st.sampled_from((OTHER, LLM, TOOL, AGENT)))
    start = draw(st.integers(min_value=0, max_value=2**62))
    res = Resource(*(draw(st.sampled_from(("", "svc", "ns-1", "pod-a"))) for _ in range(4)))
    s = Span(draw(_hex) + draw(_hex), draw(_hex), draw(st.sampled_from(("",)) | _hex), draw(_text), start,
             start + draw(st.integers(min_value=0, max_value=10**12)), res)
    s.kind = kind
    s.error = draw(st.booleans())
    s.model = draw(st.none() | _text)
    s.provider, s.agent_id, s.conversation_id = (draw(st.none() | _text) for _ in range(3))
    s.agent_name = draw(_text) if kind == AGENT else draw(st.none() | _text)
    s.tool_name = draw(_text) if kind == TOOL else draw(st.none() | _text)
    s.args_hash = draw(st.none() | st.binary(min_size=32, max_size=32).map(bytes.hex))
    s.error_type = draw(st.none() | _text.filter(lambda t: not t.startswith("<class '")))
    s.input_tokens, s.output_tokens = draw(_count), draw(_count)
    s.cache_read_tokens, s.cache_write_tokens, s.reasoning_tokens = draw(_count), draw(_count), draw(_count)
    if s.input_tokens is not None or s.output_tokens is not None:  # normalized: output already holds the rest
        s.total_tokens = draw(st.none() | st.just((s.input_tokens or 0) + (s.output_tokens or 0)))
    else:
        s.total_tokens = draw(_count)
    s.cost_usd = draw(st.none() | st.floats(min_value=0, max_value=1e9))
    s.evals = draw(st.none() | st.lists(st.tuples(_text, st.floats(min_value=-1e9, max_value=1e9)), min_size=1,
                                         max_size=3))
    return s


@settings(max_examples=300, deadline=None)
@given(st.lists(_span(), min_size=1, max_size=8))
def test_generated_spans_round_trip(spans: list[Span]) -> None:
    for s in spans:
        if s.kind == AGENT and s.agent_name is None:
            s.agent_name = "agent"
    _assert_round_trip(spans)
