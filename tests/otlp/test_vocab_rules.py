"""The per-framework rules of otlp/normalize.py on spans made by the real OTel SDK: a reported total above
input + output, Langfuse's bucketing of usage_details keys, GenAI operations that are never LLM calls."""

from __future__ import annotations

import orjson

from agentwatch.demo.synth import encode, make_provider
from agentwatch.engine import Engine
from agentwatch.model import AGENT, LLM, OTHER
from agentwatch.otlp.decode import decode_record
from agentwatch.policy import Policy
from otel_helpers import decode


def _spans(*specs: tuple[str, dict]) -> bytes:
    """One trace: a root span, then each (name, attributes) as its child, in order."""
    provider = make_provider("svc")
    tracer = provider.get_tracer("rules")
    with tracer.start_as_current_span("root"):
        for name, attrs in specs:
            with tracer.start_as_current_span(name, attributes=attrs):
                pass
    return encode(provider.memory_exporter.get_finished_spans())


def _task(data: bytes) -> dict:
    engine = Engine(Policy())
    engine.process(decode(data))
    (summary,) = engine.flush().summaries
    return summary


def test_reported_total_above_input_plus_output_counts_the_difference_as_reasoning() -> None:
    # OpenInference's Gemini: completion without the thinking tokens, the total with them.
    data = _spans(("generate_content", {"openinference.span.kind": "LLM", "llm.model_name": "gemini-2.5-flash",
                                        "llm.token_count.prompt": 1234, "llm.token_count.completion": 567,
                                        "llm.token_count.total": 2691}))
    (llm,) = [s for s in decode(data) if s.kind == LLM]
    assert (llm.input_tokens, llm.output_tokens, llm.reasoning_tokens) == (1234, 567 + 890, 890)
    tokens = _task(data)["tokens"]
    assert tokens == {"input": 1234, "output": 1457, "cache_read": 0, "reasoning": 890, "total": 2691}


def test_reported_reasoning_is_not_added_twice() -> None:
    data = _spans(("chat", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gemini-2.5-pro",
                            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
                            "gen_ai.usage.reasoning.output_tokens": 50, "gen_ai.usage.total_tokens": 170}))
    (llm,) = [s for s in decode(data) if s.kind == LLM]
    assert (llm.output_tokens, llm.reasoning_tokens) == (70, 50)
    # A total equal to (or below) input + output changes nothing.
    data = _spans(("chat", {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 100,
                            "gen_ai.usage.output_tokens": 20, "gen_ai.usage.total_tokens": 110}))
    (llm,) = [s for s in decode(data) if s.kind == LLM]
    assert (llm.output_tokens, llm.reasoning_tokens) == (20, None)


def test_langfuse_usage_details_keys_are_bucketed_as_langfuse_does() -> None:
    cases = [
        ({"input_tokens": 1234, "output_tokens": 567}, (1234, 567, None, None)),
        ({"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}, (1000, 100, None, None)),
        ({"input": 800, "input_cached_tokens": 200, "output": 50, "output_reasoning_tokens": 30},
         (1000, 80, 200, 30)),
        ({"input_tokens": 300, "cache_read_input_tokens": 700, "output_tokens": 10}, (1000, 10, 700, None)),
        # the SDK's OpenAI integration: OpenAI's usage object, its breakdown nested (parts already counted)
        ({"prompt_tokens": 1234, "completion_tokens": 567, "total_tokens": 1801,
          "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
          "completion_tokens_details": {"reasoning_tokens": 89, "audio_tokens": 0}}, (1234, 567, 200, 89)),
        ({"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 4}}, (10, 5, 4, None)),
    ]
    for usage, (i, o, c, r) in cases:
        data = _spans(("generation", {"langfuse.observation.type": "generation",
                                      "langfuse.observation.model.name": "gpt-4o-mini",
                                      "langfuse.observation.usage_details": orjson.dumps(usage).decode()}))
        (llm,) = [s for s in decode(data) if s.kind == LLM]
        assert (llm.input_tokens, llm.output_tokens, llm.cache_read_tokens, llm.reasoning_tokens) == (i, o, c, r), usage


def test_workflow_and_plan_spans_repeating_usage_are_not_llm_calls() -> None:
    usage = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 50}
    data = _spans(("invoke_workflow triage", {"gen_ai.operation.name": "invoke_workflow", **usage}),
                  ("plan", {"gen_ai.operation.name": "plan", **usage}),
                  ("invoke_node agent", {"gen_ai.operation.name": "invoke_node", **usage}),
                  ("create_agent helper", {"gen_ai.operation.name": "create_agent", "gen_ai.agent.name": "helper"}),
                  ("chat gpt-4o", {"gen_ai.operation.name": "chat", **usage}))
    kinds = {s.name: s.kind for s in decode(data)}
    assert kinds["invoke_workflow triage"] == OTHER and kinds["plan"] == OTHER and kinds["invoke_node agent"] == OTHER
    assert kinds["create_agent helper"] == AGENT and kinds["chat gpt-4o"] == LLM
    task = _task(data)
    assert task["llm_calls"] == 1 and task["tokens"]["total"] == 550 and task["agent"] == "helper"


def _decode_with_errors(data: bytes) -> tuple[list, list[str]]:
    decoded = decode_record(data, max_bytes=1 << 20)
    return decoded.spans, [str(e) for e in decoded.errors]


def test_genkit_usage_is_read_from_the_model_spans_output_only() -> None:
    usage = {"inputTokens": 1234, "outputTokens": 567, "thoughtsTokens": 89, "cachedContentTokens": 200,
             "totalTokens": 1890}
    out = orjson.dumps({"usage": usage, "message": {"role": "model"}}).decode()
    data = _spans(("googleai/gemini-2.5-flash", {"genkit:type": "action", "genkit:metadata:subtype": "model",
                                                 "genkit:name": "googleai/gemini-2.5-flash", "genkit:output": out}),
                  ("generate", {"genkit:type": "util", "genkit:name": "generate", "genkit:output": out}))
    llm, other = [s for s in decode(data) if s.name != "root"]
    assert llm.kind == LLM and llm.model == "googleai/gemini-2.5-flash"
    # Gemini's outputTokens leaves out the thoughts its total has: output gets them back
    assert (llm.input_tokens, llm.output_tokens, llm.cache_read_tokens, llm.reasoning_tokens) == (1234, 656, 200, 89)
    assert other.kind == OTHER and other.input_tokens is None  # the generate span repeats the last usage
    assert _task(data)["tokens"]["total"] == 1890


def test_hostile_json_inside_attributes_is_reported_not_raised() -> None:
    out = '{"usage": {"inputTokens": -3, "outputTokens": 1e300, "totalTokens": "12"}}'
    data = _spans(("m", {"genkit:metadata:subtype": "model", "genkit:name": "m", "genkit:output": out}),
                  ("m2", {"genkit:metadata:subtype": "model", "genkit:output": "not json"}),
                  ("c", {"openinference.span.kind": "LLM", "llm.invocation_parameters": '{"model": 7}'}))
    spans, errors = _decode_with_errors(data)
    m, m2, c = [s for s in spans if s.name != "root"]
    assert (m.kind, m.input_tokens, m.output_tokens, m.total_tokens) == (LLM, None, None, None)
    assert sorted(e.split(": ", 1)[1] for e in errors) == ["-3 is not a token count", "1e+300 is not a token count"]
    assert m2.kind == LLM and m2.input_tokens is None and c.model is None


def test_a_failed_openinference_call_is_named_by_its_invocation_parameters() -> None:
    data = _spans(("ChatCompletion", {"openinference.span.kind": "LLM",
                                      "llm.invocation_parameters": '{"model": "gpt-4o-mini", "tools": []}'}),
                  ("ok", {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
                          "llm.invocation_parameters": '{"model": "gpt-4o-2024"}'}))
    assert [s.model for s in decode(data) if s.name != "root"] == ["gpt-4o-mini", "gpt-4o"]


def test_a_reported_cost_in_another_currency_is_not_taken_for_usd() -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "my-private-model",
            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 1}
    data = _spans(("usd", {**base, "gen_ai.usage.cost.amount": 0.25, "gen_ai.usage.cost.currency": "USD"}),
                  ("eur", {**base, "gen_ai.usage.cost.amount": 0.25, "gen_ai.usage.cost.currency": "EUR"}),
                  ("pydantic", {**base, "operation.cost": 0.5}))
    assert [s.cost_usd for s in decode(data) if s.name != "root"] == [0.25, None, 0.5]


def test_langgraph_root_names_the_agent_unless_it_has_langgraphs_default_name() -> None:
    for name, agent in [("weather-bot", "weather-bot"), ("LangGraph", "svc")]:
        provider = make_provider("svc")
        tracer = provider.get_tracer("rules")
        root = {"openinference.span.kind": "CHAIN", "metadata": '{"ls_integration": "langgraph"}'}
        with (tracer.start_as_current_span(name, attributes=root),
              tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT"})):
            pass
        assert _task(encode(provider.memory_exporter.get_finished_spans()))["agent"] == agent


def test_error_type_given_as_a_class_repr_names_the_class() -> None:
    data = _spans(("chat", {"gen_ai.operation.name": "chat", "error.type": "<class 'sk.errors.ServiceError'>"}))
    (llm,) = [s for s in decode(data) if s.kind == LLM]
    assert llm.error_type == "sk.errors.ServiceError"


def test_cache_writes_are_part_of_input_and_priced_at_the_cache_write_rate() -> None:
    from agentwatch.pricing import Pricer

    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
             "gen_ai.request.model": "claude-3-5-sonnet-latest", "gen_ai.usage.input_tokens": 5000,
             "gen_ai.usage.output_tokens": 100, "gen_ai.usage.cache_creation.input_tokens": 3000}
    data = _spans(("chat", attrs))
    (llm,) = [s for s in decode(data) if s.kind == LLM]
    assert llm.cache_write_tokens == 3000
    task = _task(data)
    assert task["tokens"]["input"] == 5000 and task["tokens"]["total"] == 5100  # not counted twice
    pricer = Pricer()
    written = pricer.cost("claude-3-5-sonnet-latest", "anthropic", llm.end_ns, 5000, 100, 0, 3000)
    assert task["cost_usd"] == round(written, 6)
    assert written > pricer.cost("claude-3-5-sonnet-latest", "anthropic", llm.end_ns, 5000, 100, 0)
