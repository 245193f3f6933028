"""Build real OTLP records with the OpenTelemetry SDK (via agentwatch.demo.synth) for core tests."""

from __future__ import annotations

import base64

from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from agentwatch.demo.synth import Task, emit_task, encode, make_provider, records, tracer_for
from agentwatch.model import Span
from agentwatch.otlp.decode import decode_record

T0 = 1_790_000_000_000_000_000  # 2026-09-21, a fixed event time
MAX = 1 << 24


def emit(tasks: list[tuple[Task, int]], service: str = "svc", resource: dict | None = None):
    """Emit tasks through the SDK; return (finished ReadableSpans in export order, trace ids)."""
    provider = make_provider(service, resource)
    ids = [emit_task(tracer_for(provider, t.vocab), t, start) for t, start in tasks]
    return list(provider.memory_exporter.get_finished_spans()), [i for i, _ in ids]


def record_of(tasks: list[tuple[Task, int]], **kw) -> bytes:
    return encode(emit(tasks, **kw)[0])


def records_of(tasks: list[tuple[Task, int]], per_record: int | None = None, **kw) -> list[bytes]:
    return records(emit(tasks, **kw)[0], per_record)


def decode(data: bytes) -> list[Span]:
    d = decode_record(data, max_bytes=MAX)
    assert not d.errors
    return d.spans


def pdata_json(data: bytes | TracesData) -> dict:
    """A TracesData record as the Collector's otlp_json: the protobuf JSON mapping, but IDs in hex."""
    doc = json_format.MessageToDict(TracesData.FromString(data) if isinstance(data, bytes) else data)
    for rs in doc.get("resourceSpans", []):  # MessageToDict leaves out empty lists
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in span:
                        span[k] = base64.b64decode(span[k]).hex()
    return doc
