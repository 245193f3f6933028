"""Every vocabulary, built with the real SDK and OTLP encoder, normalizes to the same facts."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentwatch.demo.synth import VOCABS, Step, Task
from agentwatch.model import AGENT, LLM, OTHER, TOOL
from agentwatch.otlp.normalize import canonical_args_hash
from otel_helpers import T0, decode, record_of

ARGS = {"q": "weather in Paris", "units": "metric"}


def _task(vocab: str, **kw) -> Task:
    return Task("support-bot", [
        Step("llm", model="gpt-4o-mini", provider="openai", input_tokens=1200, output_tokens=80,
             cache_read_tokens=300, reasoning_tokens=20),
        Step("tool", tool="search", args=ARGS),
    ], vocab=vocab, conversation_id="conv-1", **kw)


@pytest.mark.parametrize("vocab", VOCABS)
def test_vocabulary_normalizes(vocab):
    spans = decode(record_of([(_task(vocab), T0)], resource={"k8s.namespace.name": "prod"}))
    llm = [s for s in spans if s.kind == LLM]
    tools = [s for s in spans if s.kind == TOOL]
    agents = [s for s in spans if s.kind == AGENT and s.agent_name]
    assert len(llm) == 1 and len(tools) == 1, [(s.name, s.kind) for s in spans]
    s = llm[0]
    assert s.model and s.model.startswith("gpt-4o-mini")
    assert (s.input_tokens, s.output_tokens) == (1200, 80)
    if vocab not in ("langfuse", "otel_legacy"):   # those vocabularies carry no cache/reasoning counts
        assert s.cache_read_tokens == 300
    if vocab != "langfuse":
        assert s.provider == "openai"
    t = tools[0]
    assert t.tool_name == "search"
    # Every argument shape (JSON string, Traceloop's args/kwargs wrapper, OpenInference input.value)
    # hashes to the same canonical value.
    assert t.args_hash == canonical_args_hash(ARGS)
    assert [a.agent_name for a in agents][-1:] == ["support-bot"]
    assert all(sp.resource.namespace == "prod" and sp.resource.service == "svc" for sp in spans)
    if vocab in ("otel", "openinference", "langfuse", "traceloop"):
        assert any(sp.conversation_id == "conv-1" for sp in spans)


def test_span_without_genai_keys_is_other():
    spans = decode(record_of([(_task("openlit"), T0)]))
    http = [s for s in spans if s.name == "POST"]
    assert http and all(s.kind == OTHER and s.model is None and s.input_tokens is None for s in http)


def test_openlit_metric_attribute_is_not_counted():
    (s,) = [s for s in decode(record_of([(_task("openlit"), T0)])) if s.kind == LLM]
    assert s.input_tokens == 1200 and s.output_tokens == 80 and s.total_tokens == 1280
    assert s.cost_usd is not None


def test_errors_and_evaluations():
    task = Task("bot", [Step("tool", tool="db", args={"id": 1}, error_type="TimeoutError")],
                evaluations={"helpfulness": 0.75})
    spans = decode(record_of([(task, T0)]))
    (tool,) = [s for s in spans if s.kind == TOOL]
    assert tool.error and tool.error_type == "TimeoutError"
    assert any(s.evals == [("helpfulness", 0.75)] for s in spans)
    oi = decode(record_of([(Task("bot", [Step("llm", input_tokens=1)], vocab="openinference",
                                 evaluations={"relevance": 0.5}), T0)]))
    assert any(s.evals == [("relevance", 0.5)] for s in oi)


@pytest.mark.parametrize(("a", "b"), [
    ('{"b": 1, "a": [1, 2]}', {"a": [1, 2], "b": 1}),
    ('{"args": [], "kwargs": {"q": "x"}}', '{"q":"x"}'),
    ("not json   at all", "not json at all"),
])
def test_canonical_args(a, b):
    assert canonical_args_hash(a) == canonical_args_hash(b)
    assert canonical_args_hash('{"q": "x"}') != canonical_args_hash('{"q": "y"}')


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(), st.from_regex(r"evaluations[.\-/0-9a-z]{0,12}", fullmatch=True)))
def test_the_evaluations_prefix_test_is_startswith(key: str) -> None:
    """normalize tests every unmatched key for OpenInference's `evaluations.` prefix by two comparisons: the
    same answer as str.startswith on any text."""
    from agentwatch.otlp import normalize
    from agentwatch.otlp.vocab import OI_EVALUATIONS_PREFIX

    assert (normalize._OI_LO <= key < normalize._OI_HI) == key.startswith(OI_EVALUATIONS_PREFIX)
