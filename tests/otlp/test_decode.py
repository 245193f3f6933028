"""Bad input of each kind gets one typed error; good spans of a partly bad record survive."""


import orjson
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from agentwatch.demo.synth import Step, Task
from agentwatch.otlp.decode import RecordTooLarge, UndecodableRecord, decode_record, detect, require_upb
from otel_helpers import MAX, T0, pdata_json, record_of

TASK = Task("bot", [Step("llm", input_tokens=10, output_tokens=2), Step("tool", tool="t", args={"a": 1})])


def test_upb_backend_is_active():
    require_upb()


def test_json_forms_decode_like_proto():
    data = record_of([(TASK, T0)])
    proto = decode_record(data, max_bytes=MAX).spans
    doc = pdata_json(data)
    for raw in (orjson.dumps(doc), orjson.dumps(doc["resourceSpans"])):  # Collector form, rotel's array form
        assert detect(raw) == "otlp_json"
        spans = decode_record(raw, max_bytes=MAX).spans
        assert [(s.trace_id, s.span_id, s.parent_id, s.kind, s.input_tokens, s.args_hash) for s in spans] == \
               [(s.trace_id, s.span_id, s.parent_id, s.kind, s.input_tokens, s.args_hash) for s in proto]


def test_oversized_record():
    data = record_of([(TASK, T0)])
    with pytest.raises(RecordTooLarge) as exc:
        decode_record(data, max_bytes=len(data) - 1)
    assert exc.value.reason == "oversized" and "AGENTWATCH_MAX_RECORD_BYTES" in str(exc.value)


@pytest.mark.parametrize("raw", [b"\x0a\xff\xff\xff\xff\x0f garbage", b"{not json", b'{"foo": 1}',
                                 b'[{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]'])
def test_undecodable(raw):
    with pytest.raises(UndecodableRecord) as exc:
        decode_record(raw, max_bytes=MAX)
    assert exc.value.reason == "malformed" and "\n" not in str(exc.value)


def test_invalid_span_ids_skip_only_those_spans():
    traces = TracesData.FromString(record_of([(TASK, T0)]))
    spans = traces.resource_spans[0].scope_spans[0].spans
    n = len(spans)
    spans[0].span_id = b"\x00" * 8
    spans[1].trace_id = b"\x01\x02"
    decoded = decode_record(traces.SerializeToString(), max_bytes=MAX)
    assert len(decoded.spans) == n - 2
    assert len(decoded.errors) == 2
    assert {e.reason for e in decoded.errors} == {"invalid_span"}
    assert "span_id" in str(decoded.errors[0]) and "trace_id" in str(decoded.errors[1])


@pytest.mark.parametrize("size", [123, 91])
def test_a_protobuf_whose_first_bytes_look_like_json_is_still_read(size: int) -> None:
    """TracesData starts with 0x0A (a newline); with a first ResourceSpans of 123 or 91 bytes the next byte is
    `{` or `[`, and auto-detection took it for JSON (a real record sent to the DLQ)."""
    data = TracesData()
    rs = data.resource_spans.add()
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.start_time_unix_nano, span.end_time_unix_nano = b"\x01" * 16, b"\x02" * 8, 1, 2
    span.name = "x" * (size - rs.ByteSize() - 1)
    while rs.ByteSize() != size:
        span.name = span.name[:-1] if rs.ByteSize() > size else span.name + "x"
    raw = data.SerializeToString()
    assert raw[:2] == b"\n" + bytes([size])
    (got,) = decode_record(raw, max_bytes=1 << 20).spans
    assert got.span_id == "02" * 8
    with pytest.raises(UndecodableRecord):  # pinned JSON stays JSON
        decode_record(raw, max_bytes=1 << 20, encoding="otlp_json")
