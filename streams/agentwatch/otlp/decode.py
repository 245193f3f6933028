"""Decode: one Kafka record's bytes -> normalized spans, or a typed error the shell routes to the DLQ.

Encodings, detected per record from the first non-blank byte (a `TracesData` protobuf always starts
with 0x0A, field 1; JSON with `{` or `[`):
- `otlp_proto`: `TracesData` (same wire format as `ExportTraceServiceRequest`).
- `otlp_json`: the Collector's pdata JSON `{"resourceSpans": [...]}`, or rotel's top-level array of
  ResourceSpans. Trace and span IDs are hex strings there, not the base64 of the protobuf JSON mapping.

Failure granularity: a record that is too large or cannot be parsed raises `RecordError` (the whole
record goes to the DLQ). A span with invalid IDs or times is skipped and reported as `InvalidSpan`; the
good spans of the same record are kept. An attribute value out of range is ignored and reported as
`InvalidValue`, its span kept. Nothing else escapes `decode_record`, whatever the bytes (invalid UTF-8
and lone surrogates included: upb and orjson refuse them, so the record is malformed); the property is
fuzzed in tests/otlp/test_fuzz_decoders.py.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from ..model import Resource, Span
from .normalize import InvalidSpan, normalize

ENCODINGS = ("auto", "otlp_proto", "otlp_json")
_JSON_START = frozenset(b"{[")
_BLANK = b" \t\r\n"


class RecordError(ValueError):
    """A whole record cannot be used. `reason` is the DLQ/metric reason label."""

    reason = "malformed"


class RecordTooLarge(RecordError):
    reason = "oversized"


class UndecodableRecord(RecordError):
    reason = "malformed"


def require_upb() -> None:
    """Refuse to run on the pure-Python protobuf backend: it decodes ~500x slower than upb."""
    from google.protobuf.internal import api_implementation

    impl = api_implementation.Type()
    if impl != "upb":
        raise RuntimeError(
            f"protobuf is using the {impl!r} backend; agentwatch needs 'upb' (protobuf>=4.21 wheels). "
            "Unset PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION and reinstall protobuf from a wheel."
        )


@dataclass(slots=True)
class Decoded:
    spans: list[Span] = field(default_factory=list)
    errors: list[InvalidSpan] = field(default_factory=list)


def detect(data: bytes) -> str:
    """'otlp_json' or 'otlp_proto', from the first non-blank byte."""
    head = data[:64].lstrip(_BLANK)
    return "otlp_json" if head and head[0] in _JSON_START else "otlp_proto"


def parse_traces(data: bytes, encoding: str = "auto") -> TracesData:
    """Bytes -> TracesData. Raises UndecodableRecord with a one-line reason."""
    enc = detect(data) if encoding == "auto" else encoding
    if enc == "otlp_json":
        try:
            return _parse_json(data)
        except UndecodableRecord as not_json:
            # A TracesData protobuf starts with 0x0A (field 1), a newline to the sniffer: one whose first
            # ResourceSpans is 123 or 91 bytes long starts "\n{" or "\n[". Found by tests/otlp/test_encode.py.
            if encoding != "auto" or data[:1] != b"\n":
                raise
            try:
                return TracesData.FromString(data)
            except DecodeError:
                raise not_json from None
    try:
        return TracesData.FromString(data)
    except DecodeError as exc:
        raise UndecodableRecord(f"not an OTLP TracesData protobuf: {exc}") from None


def decode_record(data: bytes, *, max_bytes: int, encoding: str = "auto",
                  resources: dict[tuple[str, str, str, str], Resource] | None = None) -> Decoded:
    """One record -> normalized spans (+ per-span errors). Raises RecordError for a record unusable as a whole."""
    if len(data) > max_bytes:
        raise RecordTooLarge(f"record of {len(data)} bytes exceeds AGENTWATCH_MAX_RECORD_BYTES={max_bytes}")
    out = Decoded()
    normalize(parse_traces(data, encoding), out.spans, out.errors, resources)
    return out


# --- OTLP JSON -------------------------------------------------------------------------------------

_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(obj: dict[str, Any]) -> None:
    for name in _ID_FIELDS:
        val = obj.get(name)
        if isinstance(val, str) and val:
            try:
                obj[name] = base64.b64encode(bytes.fromhex(val)).decode()
            except ValueError:
                raise UndecodableRecord(f"{name} {val[:40]!r} is not hex") from None


def _parse_json(data: bytes) -> TracesData:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UndecodableRecord(f"invalid JSON: {exc}") from None
    if isinstance(doc, list):  # rotel: a top-level array of ResourceSpans
        doc = {"resourceSpans": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", doc.get("resource_spans")), list):
        raise UndecodableRecord("JSON record has no resourceSpans array")
    try:
        for rs in doc.get("resourceSpans") or doc.get("resource_spans") or []:
            for ss in rs.get("scopeSpans") or rs.get("scope_spans") or []:
                for span in ss.get("spans") or []:
                    _hex_ids_to_base64(span)
                    for link in span.get("links") or []:
                        _hex_ids_to_base64(link)
        return json_format.ParseDict(doc, TracesData(), ignore_unknown_fields=True)
    except UndecodableRecord:
        raise
    # ParseDict wraps most faults in ParseError, not all (its own nesting bound aside, it can surface
    # ValueError, KeyError, OverflowError or RecursionError from hostile values): all are bad records.
    except (json_format.ParseError, AttributeError, TypeError, ValueError, KeyError, OverflowError,
            RecursionError) as exc:
        raise UndecodableRecord(f"not OTLP JSON traces: {first_line(exc) or type(exc).__name__}") from None


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, at most `limit` characters ('' when it has none)."""
    lines = str(exc).splitlines()
    return lines[0][:limit] if lines else ""
