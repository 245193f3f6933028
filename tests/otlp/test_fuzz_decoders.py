"""Property-based fuzzing of the decoders: hostile OTLP (protobuf, JSON, logs, random bytes).

The property: `decode_record` returns or raises `RecordError` (`malformed`, `oversized`) and nothing
else; what it returns respects the decoder's bounds and goes through the engine (and the per-agent
stage) into JSON without raising; `decode_evaluations` likewise. The strategies follow the OTLP
structure with the real attribute keys of `otlp/vocab.py`, so the values reach the code that reads them.
Seeds are fixed (`derandomize`): CI runs the same ~10k cases every time.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, LogsData
from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData

from agentwatch.agents import AgentStage
from agentwatch.engine import Engine, Output
from agentwatch.otlp import vocab
from agentwatch.otlp.decode import RecordError, decode_record
from agentwatch.otlp.logs import decode_evaluations
from agentwatch.otlp.normalize import MAX_COST_USD, MAX_LABEL, MAX_NS, MAX_SCORE, MAX_TOKENS
from agentwatch.policy import Policy
from agentwatch.pricing import Pricer
from otel_helpers import T0, pdata_json

MAX = 1 << 20  # AGENTWATCH_MAX_RECORD_BYTES' default
REASONS = {"malformed", "oversized"}
FUZZ = {"deadline": None, "derandomize": True, "database": None}
POLICY = Policy()
PRICER = Pricer(POLICY.prices)  # shared: resolving a model's price is the slow part of a fresh engine

# -- values ---------------------------------------------------------------------------------------------

EDGE_INTS = [0, 1, -1, -5, 2**31, 2**53 - 1, 2**53, 2**62, 2**63 - 1, -(2**63)]
EDGE_FLOATS = [0.0, -0.0, 0.5, 12.0, 12.5, -5.0, 1e9, 1e9 + 1, 2.0**53, 2.0**60, 1e30, 1e308, -1e308, 5e-324,
               math.nan, math.inf, -math.inf]
NUMERIC_TEXT = ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", "12", "12.0", "12.5", "-5", " 7 ",
                "1_000", "0x10", "", "9" * 400, "1e308", "-0", "4e15", "9007199254740993"]
KIND_TEXT = ["chat", "execute_tool", "invoke_agent", "embeddings", "agent", "tool", "LLM", "TOOL", "AGENT",
             "generation", "completion", "rerank", "workflow", "invoke_agent x", "execute_tool y"]
JSON_TEXT = ['{"input": 10, "output": 2, "total": 12}', '{"input": -1, "output": 1e300, "total": 18446744073709551616}',
             '{"input": NaN}', '{"input": 1e400}', '{"input": "7", "output": true, "total": null}',
             '{"args": 5, "kwargs": []}', '{"args": [1], "kwargs": {"a": 1}}', '{"q": "\\ud800"}', "[1, 2, 3]",
             "not json", '{"b": 1, "a": [18446744073709551616]}',
             # Genkit's genkit:output usage and OpenInference's invocation parameters
             '{"usage": {"inputTokens": 10, "outputTokens": -2, "thoughtsTokens": 1e300, "totalTokens": NaN}}',
             '{"usage": {"inputTokens": true, "cachedContentTokens": "7", "totalTokens": 18446744073709551616}}',
             '{"usage": [1]}', '{"usage": null}', '{"model": 5}', '{"model": ""}', '{"model": "\\ud800"}']
SURROGATES = ["\ud800", "a\udfff", "\ud83d", "\udc00\ud800"]


def _nested_json(depth: int) -> str:
    # orjson reads 1024 levels and writes 255: tool arguments past that once ended in RecursionError.
    return "[" * depth + "]" * depth if depth % 2 else '{"kwargs": ' * depth + "1" + "}" * depth


ints = st.one_of(st.sampled_from(EDGE_INTS), st.integers(-(2**63), 2**63 - 1))
floats = st.one_of(st.sampled_from(EDGE_FLOATS), st.floats())
long_text = st.integers(MAX_LABEL - 1, 20_000).map(lambda n: "x" * n)
nested_json = st.sampled_from([255, 256, 999, 1000, 1023, 1024, 2001]).map(_nested_json)
texts = st.one_of(st.text(max_size=12), st.sampled_from(NUMERIC_TEXT + KIND_TEXT + JSON_TEXT), long_text, nested_json)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), texts,
              st.sampled_from(SURROGATES)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
# JSON text as instrumentations put it in attributes (tool arguments, Langfuse usage): `json` writes what
# orjson would refuse to (NaN, integers past 64 bits) and escapes lone surrogates.
json_texts = st.one_of(st.sampled_from(JSON_TEXT), nested_json, json_values.map(json.dumps))


def _array(values: list[AnyValue]) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=values))


def _kvlist(pairs: list[tuple[str, AnyValue]]) -> AnyValue:
    return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in pairs]))


def _deep(depth: int) -> AnyValue:
    # Built in place: upb copies a message given to a constructor or `append` by parsing it, which
    # refuses this depth. (CopyFrom does not.)
    root = cur = AnyValue()
    for i in range(depth):
        cur = cur.array_value.values.add() if i % 2 else cur.kvlist_value.values.add(key="k").value
    cur.string_value = "leaf"
    return root


def _text(s: str) -> AnyValue:
    return AnyValue(string_value=s)


numbers = st.one_of(ints.map(lambda i: AnyValue(int_value=i)), floats.map(lambda f: AnyValue(double_value=f)),
                    st.sampled_from(NUMERIC_TEXT).map(_text))
scalars = st.one_of(
    numbers,
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    texts.map(_text),
    st.binary(max_size=24).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)
# Containers two levels deep at most (st.recursive costs several times more per example).
_containers = st.one_of(
    st.lists(scalars, max_size=3).map(_array),
    st.lists(st.tuples(st.sampled_from(["input", "output", "total", "args", "kwargs", "q"]), scalars),
             max_size=3).map(_kvlist),
)
any_values = st.one_of(scalars, _containers, st.lists(_containers, max_size=2).map(_array))
# Drawn once per span at most (a record with one is malformed when it is too deep for upb: ~35 levels).
deep_values = st.integers(1, 60).map(_deep)

# -- spans ----------------------------------------------------------------------------------------------

TRACES = [bytes([i + 1]) * 16 for i in range(3)]
SPANS = [bytes([i + 1]) * 8 for i in range(6)]
OI_KEYS = ["evaluations.0.evaluation.name", "evaluations.0.evaluation.score", "evaluations.1.evaluation.score",
           "evaluations.\n.evaluation.score", "evaluations.x", "evaluations..evaluation.name"]
SPAN_KEYS = sorted(vocab.KEYS) + OI_KEYS + ["gen_ai.client.token.usage", "http.status_code", ""]
# What makes a span an LLM call, a tool call or an agent, per vocabulary (one is drawn per span).
ROLES = [(key, value) for key, table in [("gen_ai.operation.name", vocab.OPERATION_KIND),
                                         ("traceloop.span.kind", vocab.TRACELOOP_KIND),
                                         ("openinference.span.kind", vocab.OPENINFERENCE_KIND),
                                         ("langfuse.observation.type", vocab.LANGFUSE_KIND),
                                         ("llm.request.type", vocab.LLM_REQUEST_KIND),
                                         ("ai.operationId", vocab.VERCEL_KIND),
                                         ("genkit:metadata:subtype", vocab.GENKIT_KIND)]
         for value in [*table, "workflow"]]
NUMBER_KEYS = sorted(k for k, slot in vocab.KEYS.items() if slot in vocab.NUMERIC) + [
    k for k in OI_KEYS if k.endswith("score")]
JSON_KEYS = sorted(k for k, slot in vocab.KEYS.items() if slot in (vocab.TOOL_ARGS, vocab.TOOL_INPUT, vocab.LF_USAGE,
                                                                        vocab.GENKIT_OUTPUT, vocab.OI_PARAMS))
RESOURCE_KEYS = [vocab.RESOURCE_SERVICE, vocab.RESOURCE_NAMESPACE, vocab.RESOURCE_POD, vocab.RESOURCE_DEPLOYMENT,
                 "host.name"]
EVENT_KEYS = [vocab.EVALUATION_NAME, vocab.EVALUATION_SCORE, vocab.EXCEPTION_TYPE, "exception.message",
              vocab.TOOL_MESSAGE_CONTENT]


def _mostly(good: Callable[[], st.SearchStrategy[Any]], *bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A good value 3 times in 4: a span with a bad ID or time is skipped before its attributes are read.

    one_of picks a branch uniformly and drops repeated strategy objects, hence 3 fresh `good()` per bad.
    """
    return st.one_of(*(good() for _ in range(3 * len(bad))), *bad)


trace_ids = _mostly(lambda: st.sampled_from(TRACES), st.binary(max_size=20), st.just(bytes(16)))
span_ids = _mostly(lambda: st.sampled_from(SPANS), st.binary(max_size=10), st.just(bytes(8)))
parent_ids = _mostly(lambda: st.sampled_from([b"", *SPANS]), st.binary(max_size=10))
times = _mostly(lambda: st.integers(T0 - 10**12, T0 + 10**12), st.integers(0, 2**64 - 1),
                st.sampled_from([0, 2**62, MAX_NS - 1, MAX_NS, 2**64 - 1]))
names = st.one_of(texts, st.sampled_from(["MARKMARK", "chat gpt-4o-mini"]),
                  texts.map(lambda s: vocab.TOOL_SPAN_PREFIX + s), texts.map(lambda s: vocab.AGENT_SPAN_PREFIX + s))


def _attr_lists(keys: list[str], max_size: int) -> st.SearchStrategy[list[tuple[str, AnyValue]]]:
    return st.lists(st.tuples(st.one_of(st.sampled_from(keys), st.text(max_size=8)), any_values), max_size=max_size)


# Built once: a strategy made inside a composite is validated again at every draw (half the time).
# Besides any value on any key, each span gets values aimed at what its keys mean: a span type, numbers
# on the count/cost/score keys, JSON text on the argument and usage keys.
span_attrs = _attr_lists(SPAN_KEYS, 4)
roles = st.sampled_from([None, *ROLES])
aimed_attrs = st.lists(st.one_of(st.tuples(st.sampled_from(NUMBER_KEYS), numbers),
                                 st.tuples(st.sampled_from(JSON_KEYS), json_texts.map(_text)),
                                 st.tuples(st.sampled_from([k for k in OI_KEYS if k.endswith("name")]),
                                           texts.map(_text))), max_size=3)
event_attrs = st.lists(st.one_of(st.tuples(st.sampled_from(EVENT_KEYS), any_values),
                                 st.tuples(st.just(vocab.EVALUATION_NAME), texts.map(_text)),
                                 st.tuples(st.just(vocab.EVALUATION_SCORE), numbers)), max_size=3)
resource_attrs = _attr_lists(RESOURCE_KEYS, 3)
span_keys = st.sampled_from(SPAN_KEYS)
status_codes = st.sampled_from([0, 1, 2, 7])
event_names = st.sampled_from([vocab.EVALUATION_EVENT, vocab.EXCEPTION_EVENT, vocab.TOOL_MESSAGE_EVENT, "log"])
scope_names = st.text(max_size=4)


def _fill(attrs: Any, pairs: list[tuple[str, AnyValue]]) -> None:
    for key, val in pairs:
        attrs.add(key=key).value.CopyFrom(val)


def _span(draw: st.DrawFn, s: Span) -> None:
    s.trace_id, s.span_id, s.parent_span_id = draw(trace_ids), draw(span_ids), draw(parent_ids)
    s.name, s.start_time_unix_nano, s.end_time_unix_nano = draw(names), draw(times), draw(times)
    s.status.code = draw(status_codes)
    role = draw(roles)
    if role is not None:
        s.attributes.add(key=role[0]).value.string_value = role[1]
    _fill(s.attributes, draw(aimed_attrs))
    _fill(s.attributes, draw(span_attrs))
    if draw(st.integers(0, 15)) == 0:
        _fill(s.attributes, [(draw(span_keys), draw(deep_values))])
    for _ in range(draw(st.integers(0, 2))):
        ev = s.events.add(name=draw(event_names), time_unix_nano=draw(times))
        _fill(ev.attributes, draw(event_attrs))


@st.composite
def traces(draw: st.DrawFn) -> TracesData:
    td = TracesData()
    for _ in range(draw(st.integers(1, 2))):
        rs = td.resource_spans.add()
        _fill(rs.resource.attributes, draw(resource_attrs))
        for _ in range(draw(st.integers(0, 2))):
            ss = rs.scope_spans.add()
            ss.scope.name = draw(scope_names)
            for _ in range(draw(st.integers(0, 4))):
                _span(draw, ss.spans.add())  # in place, see _deep
    return td


# -- the property ---------------------------------------------------------------------------------------

_LABELS = ("name", "model", "provider", "tool_name", "agent_name", "agent_id", "error_type", "conversation_id")
_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens", "total_tokens")


@contextmanager
def _production_stack() -> Iterator[None]:
    """Python's default recursion headroom (1000 frames) for the code under test.

    Hypothesis raises the limit by thousands of frames while a test runs, which hid a RecursionError
    (the repr of ~1000 nested lists) that a worker, at the default limit, would hit.
    """
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _dump(out: Output) -> None:
    for doc in (*out.alerts, *out.summaries, *out.late_scores):
        orjson.dumps(doc)


def check_record(data: bytes, max_bytes: int = MAX) -> None:
    """decode_record's contract on any input, then the spans through the engine and the per-agent stage."""
    try:
        with _production_stack():
            decoded = decode_record(data, max_bytes=max_bytes)
    except RecordError as exc:
        assert exc.reason in REASONS and "\n" not in str(exc), exc
        return
    for err in decoded.errors:
        assert err.reason in {"invalid_span", "invalid_value"} and "\n" not in str(err), err
    for s in decoded.spans:
        assert 0 <= s.start_ns < MAX_NS and 0 <= s.end_ns < MAX_NS
        for attr in _TOKENS:
            n = getattr(s, attr)
            assert n is None or (type(n) is int and 0 <= n < MAX_TOKENS), (attr, n)
        assert s.cost_usd is None or 0 <= s.cost_usd <= MAX_COST_USD
        for name, score in s.evals or ():
            assert len(name) <= MAX_LABEL and type(score) is float and abs(score) <= MAX_SCORE
        for attr in _LABELS:
            assert len(getattr(s, attr) or "") <= MAX_LABEL, attr
        assert all(len(x) <= MAX_LABEL for x in s.resource.as_tuple())
    with _production_stack():
        engine = Engine(POLICY, pricer=PRICER)
        out = engine.process(decoded.spans)
        out.extend(engine.flush())
        agents = AgentStage(POLICY)
        for summary in out.summaries:
            out.alerts.extend(agents.observe_summary(summary))
        _dump(out)


def _splice(data: bytes, new: bytes, marker: bytes = b"MARKMARK") -> bytes:
    return data.replace(marker, new, 1)


# Same length as the marker, so the protobuf framing around it stays valid.
BAD_UTF8 = [b"\xff" * 8, b"\xed\xa0\x80abcde", b"\xc0\xafabcdef", b"\xf4\x90\x80\x80abcd", b"abcdefg\xe2",
            b"\xe2\x82abcdef", b"\x00" * 8]


@settings(max_examples=2500, **FUZZ)
@given(traces(), st.sampled_from([MAX, 512]))
def test_hostile_traces_protobuf(td: TracesData, max_bytes: int) -> None:
    check_record(td.SerializeToString(), max_bytes)


@settings(max_examples=1000, **FUZZ)
@given(traces(), st.one_of(st.sampled_from(BAD_UTF8), st.binary(min_size=8, max_size=8)),
       st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=3))
def test_invalid_utf8_and_mutated_protobuf(td: TracesData, bad: bytes, flips: list[tuple[int, int]]) -> None:
    td.resource_spans[0].scope_spans.add().spans.add(trace_id=TRACES[0], span_id=SPANS[0], name="MARKMARK")
    data = bytearray(_splice(td.SerializeToString(), bad))
    for pos, byte in flips:
        data[pos % len(data)] = byte
    check_record(bytes(data))


def _json_forms(td: TracesData) -> tuple[dict[str, Any], bytes]:
    doc = pdata_json(td)
    doc.setdefault("resourceSpans", [])
    return doc, orjson.dumps(doc)


@settings(max_examples=1000, **FUZZ)
@given(traces(), st.sampled_from([None, b"\xff\xfe", b"\\ud800", b"\\udc00x", b"\xed\xa0\x80", b"\\u0000",
                                  b'\\"', b"\\", b'"', b"\\uZZZZ"]))
def test_hostile_traces_json(td: TracesData, bad: bytes | None) -> None:
    td.resource_spans[0].scope_spans.add().spans.add(trace_id=TRACES[0], span_id=SPANS[0], name="MARKMARK")
    doc, data = _json_forms(td)
    if bad is None:
        check_record(data)
        check_record(orjson.dumps(doc["resourceSpans"]))  # rotel's top-level array
    else:
        check_record(_splice(data, bad))


# -- hostile JSON documents: OTLP's shape, any JSON in its fields --------------------------------------

hex_ids = st.one_of(st.sampled_from([t.hex() for t in TRACES] + [s.hex() for s in SPANS]),
                    st.binary(max_size=20).map(bytes.hex), st.text(max_size=6), json_values)
json_numbers = st.one_of(st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70).map(str), floats,
                         st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "abc", ""]), json_values)
value_docs = st.recursive(
    st.one_of(st.fixed_dictionaries({"intValue": json_numbers}), st.fixed_dictionaries({"doubleValue": json_numbers}),
              st.fixed_dictionaries({"stringValue": st.one_of(texts, st.sampled_from(SURROGATES), json_values)}),
              st.fixed_dictionaries({"boolValue": json_values}), st.fixed_dictionaries({"bytesValue": json_values}),
              json_values),
    lambda inner: st.one_of(
        st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({"values": st.lists(inner, max_size=3)})}),
        st.fixed_dictionaries({"kvlistValue": st.fixed_dictionaries({"values": st.lists(
            st.fixed_dictionaries({"key": st.text(max_size=6), "value": inner}), max_size=3)})})),
    max_leaves=5)
attr_docs = st.lists(st.fixed_dictionaries({"key": st.one_of(st.sampled_from(SPAN_KEYS), json_values)},
                                           optional={"value": value_docs}), max_size=5)
span_docs = st.fixed_dictionaries({}, optional={
    "traceId": hex_ids, "spanId": hex_ids, "parentSpanId": hex_ids, "name": st.one_of(texts, json_values),
    "startTimeUnixNano": json_numbers, "endTimeUnixNano": json_numbers, "kind": st.one_of(ints, json_values),
    "status": st.one_of(st.fixed_dictionaries({}, optional={"code": json_numbers, "message": json_values}),
                        json_values),
    "attributes": st.one_of(attr_docs, json_values),
    "events": st.lists(st.fixed_dictionaries({"name": st.sampled_from([vocab.EVALUATION_EVENT, "exception"])},
                                             optional={"attributes": attr_docs, "timeUnixNano": json_numbers}),
                       max_size=2),
    "links": st.one_of(st.lists(st.fixed_dictionaries({}, optional={"traceId": hex_ids, "spanId": hex_ids}),
                                max_size=2), json_values),
})
resource_docs = st.fixed_dictionaries({}, optional={
    "resource": st.one_of(st.fixed_dictionaries({"attributes": attr_docs}), json_values),
    "scopeSpans": st.one_of(st.lists(st.fixed_dictionaries({}, optional={
        "scope": json_values, "spans": st.one_of(st.lists(span_docs, max_size=4), json_values)}), max_size=2),
        json_values),
})
json_docs = st.one_of(st.fixed_dictionaries({"resourceSpans": st.lists(resource_docs, max_size=2)}),
                      st.lists(resource_docs, max_size=2), json_values)
DEEP_JSON = [b"[" * 5000 + b"]" * 5000,
             b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "a", "value": '
             + b'{"arrayValue": {"values": [' * 150 + b"{}" + b"]}}" * 150 + b"}]}]}]}]}"]


@settings(max_examples=1500, **FUZZ)
@given(json_docs, st.booleans())
def test_hostile_json_documents(doc: Any, ascii_only: bool) -> None:
    # json (not orjson) writes what orjson refuses to: NaN, integers past 64 bits, lone surrogates.
    text = json.dumps(doc, ensure_ascii=ascii_only)
    check_record(text.encode("utf-8", "surrogatepass"))


def test_deep_json() -> None:
    for data in DEEP_JSON:
        check_record(data)


# -- random bytes, and the logs decoder ------------------------------------------------------------------

@settings(max_examples=2800, **FUZZ)
@given(st.one_of(st.binary(max_size=256), st.binary(max_size=64).map(lambda b: b"\x0a" + b),
                 st.binary(max_size=64).map(lambda b: b"{" + b)))
def test_random_bytes(data: bytes) -> None:
    check_record(data)
    check_evaluations(data)


def check_evaluations(data: bytes) -> None:
    try:
        with _production_stack():
            evs = decode_evaluations(data, max_bytes=MAX)
    except RecordError as exc:
        assert exc.reason in REASONS and "\n" not in str(exc), exc
        return
    for ev in evs:
        assert type(ev.score) is float and abs(ev.score) <= MAX_SCORE and 0 <= ev.ts_ns < MAX_NS
        assert len(ev.trace_id) == 32 and len(ev.name) <= MAX_LABEL and len(ev.service) <= MAX_LABEL
    with _production_stack():
        engine = Engine(POLICY, pricer=PRICER)
        out = engine.add_evaluations(evs)
        agents = AgentStage(POLICY)
        for late in out.late_scores:
            out.alerts.extend(agents.observe_score(late))
        _dump(out)


LOG_KEYS = [vocab.EVALUATION_NAME, vocab.EVALUATION_SCORE, "event.name", "gen_ai.evaluation.score.label"]
log_events = st.sampled_from([vocab.EVALUATION_EVENT, "", "other"])
log_attrs = st.lists(st.tuples(st.sampled_from(LOG_KEYS), st.one_of(
    any_values, st.just(AnyValue(string_value=vocab.EVALUATION_EVENT)))), max_size=4)


def _log_record(draw: st.DrawFn, rec: LogRecord) -> None:
    rec.event_name = draw(log_events)
    rec.trace_id, rec.span_id = draw(trace_ids), draw(span_ids)
    rec.time_unix_nano, rec.observed_time_unix_nano = draw(times), draw(times)
    _fill(rec.attributes, draw(log_attrs))


@st.composite
def logs(draw: st.DrawFn) -> LogsData:
    data = LogsData()
    for _ in range(draw(st.integers(1, 2))):
        rl = data.resource_logs.add()
        _fill(rl.resource.attributes, draw(resource_attrs))
        for _ in range(draw(st.integers(0, 2))):
            sl = rl.scope_logs.add()
            for _ in range(draw(st.integers(0, 4))):
                _log_record(draw, sl.log_records.add())
    return data


@settings(max_examples=1200, **FUZZ)
@given(logs(), st.one_of(st.none(), st.sampled_from(BAD_UTF8)))
def test_hostile_logs(data: LogsData, bad: bytes | None) -> None:
    if bad is not None:
        data.resource_logs[0].scope_logs.add().log_records.add(event_name="MARKMARK")
        check_evaluations(_splice(data.SerializeToString(), bad))
    else:
        check_evaluations(data.SerializeToString())


def test_strategies_reach_the_decoders() -> None:
    """A record built like the strategies build them reaches the value checks, in both encodings."""
    td = TracesData()
    s = td.resource_spans.add().scope_spans.add().spans.add(trace_id=TRACES[0], span_id=SPANS[0], name="chat",
                                                            start_time_unix_nano=T0, end_time_unix_nano=T0 + 1)
    _fill(s.attributes, [("gen_ai.operation.name", AnyValue(string_value="chat")),
                         ("gen_ai.usage.input_tokens", AnyValue(double_value=math.nan))])
    for data in (td.SerializeToString(), orjson.dumps(pdata_json(td.SerializeToString()))):
        decoded = decode_record(data, max_bytes=MAX)
        assert len(decoded.spans) == 1 and [e.reason for e in decoded.errors] == ["invalid_value"]
