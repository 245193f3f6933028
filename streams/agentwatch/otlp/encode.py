"""Normalized spans back to OTLP, in the GenAI conventions: what `agentwatch.flagged` and `agentwatch export`
carry, and what `agentwatch replay` (or any OTLP endpoint: Langfuse, Phoenix, Opik) reads.

Each field is written under the one key the normalizer reads for it, so decoding the output gives the same
spans field for field (tests/otlp/test_encode.py: a round trip over every recorded instrumentation and
over generated spans). The span kind is stated by `gen_ai.operation.name`, which the normalizer reads
first; an `other` span that carries tokens or a tool name says `invoke_workflow` (final: `other`).
Tool arguments were never kept, only their hash: it travels as `agentwatch.tool.args_sha256`, an
extension key the normalizer reads. Prompts, arguments and results are not in the output because
agentwatch never had them after decoding.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status, TracesData

from ..model import AGENT, LLM, OTHER, TOOL, Span
from . import vocab as v

SCOPE = "agentwatch"
_OPERATION = {LLM: "chat", TOOL: "execute_tool", AGENT: "invoke_agent"}
_OTHER_OPERATION = "invoke_workflow"  # an `other` operation the normalizer takes as final
_TOKENS = (("input_tokens", "gen_ai.usage.input_tokens"), ("output_tokens", "gen_ai.usage.output_tokens"),
           ("cache_read_tokens", "gen_ai.usage.cache_read.input_tokens"),
           ("cache_write_tokens", "gen_ai.usage.cache_creation.input_tokens"),
           ("reasoning_tokens", "gen_ai.usage.reasoning.output_tokens"),
           ("total_tokens", "gen_ai.usage.total_tokens"))
_TEXT = (("provider", "gen_ai.provider.name"), ("agent_name", "gen_ai.agent.name"), ("agent_id", "gen_ai.agent.id"),
         ("conversation_id", "gen_ai.conversation.id"), ("tool_name", "gen_ai.tool.name"),
         ("args_hash", v.ARGS_HASH_KEY), ("error_type", "error.type"))
_RESOURCE = ((v.RESOURCE_SERVICE, 0), (v.RESOURCE_NAMESPACE, 1), (v.RESOURCE_POD, 2), (v.RESOURCE_DEPLOYMENT, 3))
_KIND_CLIENT, _KIND_INTERNAL = PbSpan.SPAN_KIND_CLIENT, PbSpan.SPAN_KIND_INTERNAL

Value = str | int | float


def attributes(s: Span) -> list[tuple[str, Value]]:
    """The span's attributes, in the keys the normalizer reads (strings, ints, and the cost as a float)."""
    out: list[tuple[str, Value]] = []
    op = _OPERATION.get(s.kind)
    if op is None and s.kind == OTHER and (s.tool_name is not None or _has_tokens(s)):
        op = _OTHER_OPERATION
    if op is not None:
        out.append(("gen_ai.operation.name", op))
    if s.model is not None:  # the response model is taken as sent; the request model through a Vertex rule
        out.append(("gen_ai.response.model" if s.model != v.MODEL_NONE else "gen_ai.request.model", s.model))
    for field, key in _TEXT:
        val = getattr(s, field)
        if val is not None:
            out.append((key, val))
    for field, key in _TOKENS:
        val = getattr(s, field)
        if val is not None:
            out.append((key, val))
    if s.cost_usd is not None:
        out.append(("gen_ai.usage.cost", float(s.cost_usd)))
    return out


def _has_tokens(s: Span) -> bool:
    return any(getattr(s, field) is not None for field, _ in _TOKENS)


def _resources(spans: list[Span]) -> dict[tuple[str, str, str, str], list[Span]]:
    groups: dict[tuple[str, str, str, str], list[Span]] = {}
    for s in spans:
        groups.setdefault(s.resource.as_tuple(), []).append(s)
    return groups


def to_traces(spans: list[Span]) -> TracesData:
    """One `TracesData` (the bytes the Collector's Kafka exporter writes), one ResourceSpans per resource."""
    data = TracesData()
    for res, group in _resources(spans).items():
        rs = data.resource_spans.add()
        for key, i in _RESOURCE:
            if res[i]:
                kv = rs.resource.attributes.add()
                kv.key, kv.value.string_value = key, res[i]
        ss = rs.scope_spans.add()
        ss.scope.name = SCOPE
        for s in group:
            p = ss.spans.add()
            p.trace_id = bytes.fromhex(s.trace_id)
            p.span_id = bytes.fromhex(s.span_id)
            if s.parent_id:
                p.parent_span_id = bytes.fromhex(s.parent_id)
            p.name = s.name
            p.kind = _KIND_CLIENT if s.kind == LLM else _KIND_INTERNAL
            p.start_time_unix_nano, p.end_time_unix_nano = s.start_ns, s.end_ns
            if s.error:
                p.status.code = Status.STATUS_CODE_ERROR
            for key, val in attributes(s):
                set_attribute(p.attributes.add(), key, val)
            for name, score in s.evals or ():
                ev = p.events.add()
                ev.name, ev.time_unix_nano = v.EVALUATION_EVENT, s.end_ns
                set_attribute(ev.attributes.add(), v.EVALUATION_NAME, name)
                set_attribute(ev.attributes.add(), v.EVALUATION_SCORE, float(score))
    return data


def set_attribute(kv: Any, key: str, val: Value) -> None:
    """Fill an OTLP KeyValue: a string, a double, or else an int."""
    kv.key = key
    if isinstance(val, str):
        kv.value.string_value = val
    elif isinstance(val, float):
        kv.value.double_value = val
    else:
        kv.value.int_value = val


def to_otlp_json(spans: list[Span]) -> dict[str, Any]:
    """The same as `to_traces`, as OTLP/JSON (`POST /v1/traces` body): hex IDs, integers as strings."""
    out = []
    for res, group in _resources(spans).items():
        rows = []
        for s in group:
            row: dict[str, Any] = {
                "traceId": s.trace_id, "spanId": s.span_id, "name": s.name,
                "kind": _KIND_CLIENT if s.kind == LLM else _KIND_INTERNAL,
                "startTimeUnixNano": str(s.start_ns), "endTimeUnixNano": str(s.end_ns),
                "attributes": [_json_kv(k, val) for k, val in attributes(s)],
            }
            if s.parent_id:
                row["parentSpanId"] = s.parent_id
            if s.error:
                row["status"] = {"code": Status.STATUS_CODE_ERROR}
            if s.evals:
                row["events"] = [{"name": v.EVALUATION_EVENT, "timeUnixNano": str(s.end_ns),
                                  "attributes": [_json_kv(v.EVALUATION_NAME, name),
                                                 _json_kv(v.EVALUATION_SCORE, float(score))]}
                                 for name, score in s.evals]
            rows.append(row)
        attrs = [_json_kv(key, res[i]) for key, i in _RESOURCE if res[i]]
        out.append({"resource": {"attributes": attrs}, "scopeSpans": [{"scope": {"name": SCOPE}, "spans": rows}]})
    return {"resourceSpans": out}


def _json_kv(key: str, val: Value) -> dict[str, Any]:
    if isinstance(val, str):
        return {"key": key, "value": {"stringValue": val}}
    if isinstance(val, float):
        return {"key": key, "value": {"doubleValue": val}}
    return {"key": key, "value": {"intValue": str(val)}}
