"""Hostile values in well-formed records: out-of-range numbers are ignored and reported (the span is
kept), identifiers are cut to MAX_LABEL, impossible times skip the span, and nothing but RecordError
leaves the decoders.

Records come from the real SDK (it happily exports a NaN token count); values the SDK cannot produce
(a time past 2**64, a cost other than its own arithmetic) are patched into its protobuf.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from agentwatch.demo.synth import Step, Task, emit_evaluation, make_logger_provider
from agentwatch.model import AGENT, LLM, TOOL
from agentwatch.otlp import decode as decode_mod
from agentwatch.otlp.decode import UndecodableRecord, decode_record
from agentwatch.otlp.logs import decode_evaluations
from agentwatch.otlp.normalize import MAX_LABEL, InvalidSpan, InvalidValue, canonical_args_hash, normalize
from otel_helpers import MAX, T0, pdata_json, record_of

NAN, INF = math.nan, math.inf
LLM_NAME = "chat gpt-4o-mini"


def _llm_task(input_tokens: object, **kw: object) -> Task:
    return Task("bot", [Step("llm", input_tokens=input_tokens, output_tokens=2)], **kw)  # type: ignore[arg-type]


def _patch(data: bytes, key: str, change: Callable[[AnyValue], None]) -> bytes:
    """The record with every value of attribute `key` changed in place."""
    td = TracesData.FromString(data)
    hits = 0
    for rs in td.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                for kv in s.attributes:
                    if kv.key == key:
                        change(kv.value)
                        hits += 1
    assert hits, key
    return td.SerializeToString()


@pytest.mark.parametrize(("value", "shown"), [
    (NAN, "nan"), (INF, "inf"), (-INF, "-inf"), (-5, "-5"), (float(2**60), "1.152921504606847e+18"),
    (1e30, "1e+30"), (12.5, "12.5"), ("nan", "'nan'"), ("1e999", "'1e999'"), (2**53, "9007199254740992"),
])
def test_bad_token_count_is_reported_and_its_span_kept(value, shown):
    decoded = decode_record(record_of([(_llm_task(value), T0)]), max_bytes=MAX)
    assert [(s.kind, s.name) for s in decoded.spans] == [(LLM, LLM_NAME), (AGENT, "invoke_agent bot")]
    llm = decoded.spans[0]
    assert llm.input_tokens is None and llm.output_tokens == 2 and llm.model == "gpt-4o-mini"
    (err,) = decoded.errors
    assert isinstance(err, InvalidValue) and err.reason == "invalid_value"
    assert str(err) == f"span '{LLM_NAME}' attribute gen_ai.usage.input_tokens: {shown} is not a token count"


@pytest.mark.parametrize(("value", "want"), [(12.0, 12), ("12", 12), (" 7 ", 7), (2**53 - 1, 2**53 - 1), (0, 0),
                                             (True, None), ([1, 2], None), ("twelve", None)])
def test_usable_token_counts_and_wrong_types(value, want):
    decoded = decode_record(record_of([(_llm_task(value), T0)]), max_bytes=MAX)
    assert decoded.spans[0].input_tokens == want and not decoded.errors  # wrong types: ignored, as before


@pytest.mark.parametrize("cost", [NAN, -0.01, 1e10, INF])
def test_bad_reported_cost(cost):
    data = record_of([(_llm_task(1000, vocab="openlit"), T0)])
    decoded = decode_record(_patch(data, "gen_ai.usage.cost", lambda v: setattr(v, "double_value", cost)),
                            max_bytes=MAX)
    (llm,) = [s for s in decoded.spans if s.kind == LLM]
    assert llm.cost_usd is None and llm.input_tokens == 1000
    (err,) = decoded.errors
    assert err.reason == "invalid_value" and str(err).endswith(f"gen_ai.usage.cost: {cost!r} is not a cost in USD")


def test_langfuse_usage_json_values():
    decoded = decode_record(record_of([(_llm_task(-1, vocab="langfuse"), T0)]), max_bytes=MAX)
    (llm,) = [s for s in decoded.spans if s.kind == LLM]
    assert llm.input_tokens is None and llm.output_tokens == 2 and llm.total_tokens == 1
    (err,) = decoded.errors
    assert str(err) == "span 'generation' attribute langfuse.observation.usage_details.input: -1 is not a token count"


@pytest.mark.parametrize(("vocab", "key"), [("otel", "gen_ai.evaluation.score.value"),
                                            ("openinference", "evaluations.0.evaluation.score")])
@pytest.mark.parametrize("score", [NAN, -INF, 1e12])
def test_bad_evaluation_score(vocab, key, score):
    task = Task("bot", [Step("llm", input_tokens=1)], vocab=vocab, evaluations={"bad": score, "good": 0.5})
    decoded = decode_record(record_of([(task, T0)]), max_bytes=MAX)
    assert [e for s in decoded.spans for e in s.evals or ()] == [("good", 0.5)]
    (err,) = decoded.errors
    assert err.reason == "invalid_value" and f"attribute {key}: {score!r} is not an evaluation score" in str(err)


def test_megabyte_identifiers_are_cut():
    big = "x" * 1_000_000
    task = Task(big, [Step("llm", model=big, provider=big, input_tokens=1), Step("tool", tool=big, args={"q": 1})],
                conversation_id=big)
    decoded = decode_record(record_of([(task, T0)], service=big, resource={"k8s.pod.name": big}), max_bytes=MAX)
    assert not decoded.errors
    by_kind = {s.kind: s for s in decoded.spans}
    cut = "x" * MAX_LABEL
    assert by_kind[TOOL].tool_name == cut and by_kind[TOOL].args_hash == canonical_args_hash({"q": 1})
    assert by_kind[LLM].model == cut and by_kind[LLM].provider == cut
    assert by_kind[AGENT].agent_name == cut and by_kind[AGENT].conversation_id == cut
    assert all(len(s.name) <= MAX_LABEL for s in decoded.spans)
    assert by_kind[LLM].resource.service == cut and by_kind[LLM].resource.pod == cut


@pytest.mark.parametrize(("field", "ns", "kept"), [("end_time_unix_nano", 2**64 - 1, False),
                                                   ("start_time_unix_nano", 2**63, False),
                                                   ("end_time_unix_nano", 2**63 - 1, True)])
def test_time_past_2262_skips_the_span(field, ns, kept):
    td = TracesData.FromString(record_of([(_llm_task(10), T0)]))
    llm = td.resource_spans[0].scope_spans[0].spans[0]
    setattr(llm, field, ns)
    decoded = decode_record(td.SerializeToString(), max_bytes=MAX)
    assert [s.name for s in decoded.spans] == ([LLM_NAME] if kept else []) + ["invoke_agent bot"]
    if kept:
        assert not decoded.errors
    else:
        (err,) = decoded.errors
        assert type(err) is InvalidSpan and err.reason == "invalid_span" and str(ns) in str(err)


def test_deeply_nested_value_built_in_memory():
    # upb refuses to parse this (malformed), but normalize() also takes a TracesData built in memory.
    td = TracesData.FromString(record_of([(Task("bot", [Step("tool", tool="t", args={"a": 1})]), T0)]))
    tool = td.resource_spans[0].scope_spans[0].spans[0]
    (args,) = [kv for kv in tool.attributes if kv.key == "gen_ai.tool.call.arguments"]
    cur = args.value
    cur.ClearField("string_value")
    for _ in range(10_000):
        cur = cur.array_value.values.add()
    cur.string_value = "leaf"
    spans: list = []
    errors: list = []
    normalize(td, spans, errors)
    assert spans[0].kind == TOOL and spans[0].args_hash and not errors
    with pytest.raises(UndecodableRecord):
        decode_record(td.SerializeToString(), max_bytes=MAX)


@pytest.mark.parametrize("depth", [300, 1000, 1023])
def test_deeply_nested_json_arguments(depth):
    # orjson parses up to 1024 levels but writes only 255: the hash falls back to the text, not its repr.
    data = record_of([(Task("bot", [Step("tool", tool="t", args={"a": 1})]), T0)])
    deep = "[" * depth + "]" * depth
    decoded = decode_record(_patch(data, "gen_ai.tool.call.arguments", lambda v: setattr(v, "string_value", deep)),
                            max_bytes=MAX)
    (tool,) = [s for s in decoded.spans if s.kind == TOOL]
    assert tool.args_hash == canonical_args_hash(deep) and not decoded.errors


def test_invalid_utf8_and_lone_surrogates_are_malformed():
    data = record_of([(Task("bot", [Step("tool", tool="MARKMARK", args={"a": 1})]), T0)])
    for bad in (b"\xff" * 8, b"\xed\xa0\x80abcde"):  # invalid byte, an encoded surrogate
        with pytest.raises(UndecodableRecord) as exc:
            decode_record(data.replace(b"MARKMARK", bad), max_bytes=MAX)
        assert "bad UTF-8" in str(exc.value)
    doc = orjson.dumps(pdata_json(data))
    for bad in (b"\\ud800", b"\xff", b"\xed\xa0\x80"):  # escaped lone surrogate, raw invalid bytes
        with pytest.raises(UndecodableRecord) as exc:
            decode_record(doc.replace(b"MARKMARK", bad), max_bytes=MAX)
        assert exc.value.reason == "malformed"


@pytest.mark.parametrize("error", [ValueError("bad value"), KeyError("k"), OverflowError("big"),
                                   RecursionError("deep\nsecond line"), AttributeError()])
def test_any_parse_dict_failure_is_malformed(monkeypatch, error):
    def parse_dict(*_a: object, **_k: object) -> None:
        raise error

    monkeypatch.setattr(decode_mod.json_format, "ParseDict", parse_dict)
    with pytest.raises(UndecodableRecord) as exc:
        decode_record(b'{"resourceSpans": []}', max_bytes=MAX)
    assert exc.value.reason == "malformed" and "\n" not in str(exc.value)
    assert str(exc.value).startswith("not OTLP JSON traces: ")


def test_bad_evaluation_log_records_are_dropped():
    provider = make_logger_provider("judge")
    trace_id, span_id = "ab" * 16, "cd" * 8
    for name, score, ts in [("nan", NAN, T0), ("inf", INF, T0), ("huge", 1e12, T0), ("late", 0.5, 2**63),
                            ("ok", 0.25, T0)]:
        emit_evaluation(provider, trace_id, span_id, name, score, ts)
    data = encode_logs(provider.memory_exporter.get_finished_logs()).SerializeToString()
    assert [(e.name, e.score) for e in decode_evaluations(data, max_bytes=MAX)] == [("ok", 0.25)]


def test_token_totals_saturate_so_outputs_stay_serializable() -> None:
    """Each count is below 2**53, but enough of them would overflow the 64-bit integers JSON consumers accept."""
    import orjson

    from agentwatch.demo.synth import Step, Task
    from agentwatch.engine import Engine
    from agentwatch.policy import Policy
    from agentwatch.tasks import MAX_TASK_TOKENS
    from otel_helpers import T0, decode, record_of

    spans = decode(record_of([(Task("bot", [Step("llm", input_tokens=5, output_tokens=1)] * 3, end_root=False), T0)]))
    for s in spans:
        if s.input_tokens is not None:
            s.input_tokens = s.output_tokens = 2**53 - 1
    engine = Engine(Policy())
    for i in range(300):
        for s in spans:  # other spans each time (the same span twice counts once)
            s.span_id = f"{i:04x}{s.span_id[4:]}"
        engine.process(spans)
    (task,) = engine.tasks.values()
    orjson.dumps(task.to_dict())
    (summary,) = engine.flush().summaries
    assert summary["tokens"]["input"] == MAX_TASK_TOKENS and orjson.dumps(summary)
