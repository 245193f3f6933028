"""Normalize: OTLP `TracesData` -> `Span` records, one pass over each span's attributes.

Every attribute key is looked up once in `vocab.KEYS`; only matched keys have their value decoded
(decoding every value, or building a dict of them, halves throughput). A span with no GenAI key is an
`other` span and costs its IDs, times and status. A span with invalid IDs or times is reported as an
`InvalidSpan` and skipped; the other spans of the record are kept.

Every value is untrusted. A number out of range (NaN, Inf, negative or absurd token counts and costs,
non-finite scores) is ignored and reported as `InvalidValue`; its span is kept, so the task's structure
stays intact. Identifiers that become metric labels or JSON fields are cut to `MAX_LABEL` characters.
Validation sits on the matched-value paths only: a span's unmatched attributes cost nothing more.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from ..model import AGENT, LLM, OTHER, TOOL, Resource, Span
from . import vocab as v
from .vocab import (  # module globals: one lookup each in the hot loop, not two (`v.X`)
    AGENT_ID,
    AGENT_NAME,
    ARGS_HASH,
    CACHE_READ_TOKENS,
    CONVERSATION,
    COST_CURRENCY,
    ERROR_TYPE,
    GENKIT_NAME,
    GENKIT_OUTPUT,
    GENKIT_SUBTYPE,
    INPUT_TOKENS,
    LF_TYPE,
    LF_USAGE,
    LLM_REQUEST_TYPE,
    MODEL_NONE,
    OI_KIND,
    OI_METADATA,
    OI_PARAMS,
    OPERATION,
    OUTPUT_TOKENS,
    PROVIDER,
    REASONING_TOKENS,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    TL_ENTITY,
    TL_KIND,
    TOOL_ARGS,
    TOOL_INPUT,
    TOOL_NAME,
    TOTAL_TOKENS,
    VERCEL_FUNCTION,
    VERCEL_OP,
)

_STATUS_ERROR = 2
_OP_KIND = v.OPERATION_KIND
# `key.startswith(OI_EVALUATIONS_PREFIX)` as two comparisons, without a call (every unmatched key is tested):
# the prefix <= key < the prefix with its last character's successor.
_OI_LO = v.OI_EVALUATIONS_PREFIX
_OI_HI = _OI_LO[:-1] + chr(ord(_OI_LO[-1]) + 1)
_KEYS = v.KEYS
_NUMERIC = v.NUMERIC
_COST = v.REPORTED_COST

MAX_LABEL = 256              # characters of an identifier kept (metric label, JSON field)
MAX_NS = 1 << 63             # span times from here (year 2262) overflow int64 nanoseconds downstream
MAX_TOKENS = 1 << 53         # exclusive; every count below it is exact as a double
MAX_COST_USD = 1e9
MAX_SCORE = 1e9              # |score|: keeps the baselines' sums of squares finite
_MAX_DEPTH = 64              # AnyValue arrays/kvlists nested deeper are treated as absent


class InvalidSpan(ValueError):
    """A span the decoder had to skip (bad trace or span ID, or time); the rest of its record is kept."""

    reason = "invalid_span"


class InvalidValue(InvalidSpan):
    """An attribute value out of range (e.g. a NaN token count): the attribute is ignored, the span kept."""

    reason = "invalid_value"


def any_value(val: AnyValue, depth: int = 0) -> Any:
    """Decode an OTLP AnyValue into plain Python (str, int, float, bool, bytes, list, dict, None).

    Values nested deeper than `_MAX_DEPTH` become None: upb bounds what it parses, but a TracesData
    built in memory has no such bound and would end in RecursionError.
    """
    which = val.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        if depth >= _MAX_DEPTH:
            return None
        return [any_value(x, depth + 1) for x in val.array_value.values]
    if which == "kvlist_value":
        if depth >= _MAX_DEPTH:
            return None
        return {kv.key: any_value(kv.value, depth + 1) for kv in val.kvlist_value.values}
    return getattr(val, which)


def as_number(val: AnyValue) -> float | int | None:
    """An int, a double, or a numeric string as float; None for any other type. Range is not checked."""
    # Fast path first: token counts are int_value in every instrumentation seen; a few send strings.
    i = val.int_value
    if i:
        return i
    x = any_value(val)
    if isinstance(x, bool):
        return None
    if isinstance(x, int | float):
        return x
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return None
    return None


def as_text(val: AnyValue) -> str | None:
    """A value as an identifier: its text, at most `MAX_LABEL` characters; None for arrays, kvlists, absent."""
    s = val.string_value
    if s:
        return s if len(s) <= MAX_LABEL else s[:MAX_LABEL]
    x = any_value(val)
    return None if x is None or isinstance(x, dict | list) else str(x)[:MAX_LABEL]


def is_token_count(n: float) -> bool:
    """0 <= n < 2**53 and integral; False for NaN and Inf (every comparison with NaN is false)."""
    return 0 <= n < MAX_TOKENS and (type(n) is int or n.is_integer())


def is_score(n: float) -> bool:
    """Finite and within +-MAX_SCORE."""
    return -MAX_SCORE <= n <= MAX_SCORE


def _invalid(span_name: str, key: str, shown: Any, what: str) -> InvalidValue:
    # One line (it goes to stderr and a DLQ header): the key is quoted when it is not plain text.
    key = key[:MAX_LABEL]
    if not key.isprintable():
        key = repr(key)
    text = repr(shown)
    if len(text) > 64:
        text = text[:61] + "..."
    return InvalidValue(f"span {span_name!r} attribute {key}: {text} is not {what}")


def canonical_args_hash(raw: Any) -> str:
    """sha256 of tool arguments in canonical form: JSON with sorted keys and no whitespace.

    Accepts every shape seen: a JSON string, a structured value, Traceloop's {"args": [], "kwargs": {}}
    wrapper (unwrapped so the same call hashes alike across instrumentations), or non-JSON text
    (whitespace-collapsed).
    """
    obj = raw
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return hashlib.sha256(" ".join(raw.split()).encode()).hexdigest()
    if isinstance(obj, dict) and obj and obj.keys() <= {"args", "kwargs"}:
        args, kwargs = obj.get("args") or [], obj.get("kwargs") or {}
        obj = kwargs if not args else args if not kwargs else obj
    try:
        canon = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON-representable (bytes inside, or nested past orjson's 255 levels)
        # JSON text falls back to itself: the repr of ~1000 nested lists raises RecursionError.
        text = raw if isinstance(raw, str) else str(obj)
        canon = " ".join(text.split()).encode()
    return hashlib.sha256(canon).hexdigest()


def _resource(attrs: Any, cache: dict[tuple[str, str, str, str], Resource]) -> Resource:
    service = namespace = pod = deployment = ""
    for kv in attrs:
        k = kv.key
        if k == v.RESOURCE_SERVICE:
            service = kv.value.string_value
        elif k == v.RESOURCE_NAMESPACE:
            namespace = kv.value.string_value
        elif k == v.RESOURCE_POD:
            pod = kv.value.string_value
        elif k == v.RESOURCE_DEPLOYMENT:
            deployment = kv.value.string_value
    key = (service, namespace, pod, deployment)
    res = cache.get(key)
    if res is None:  # cut on a miss only (the cache is keyed by the values as sent)
        res = cache[key] = Resource(service[:MAX_LABEL], namespace[:MAX_LABEL], pod[:MAX_LABEL],
                                    deployment[:MAX_LABEL])
    return res


def _score(span: Span, key: str, val: AnyValue, errors: list[InvalidSpan]) -> float | None:
    n = as_number(val)
    if n is None:
        return None
    if is_score(n):
        return float(n)
    errors.append(_invalid(span.name, key, any_value(val), "an evaluation score"))
    return None


def _oi_evaluation(key: str, val: AnyValue, pending: dict[str, list[Any]], span: Span,
                   errors: list[InvalidSpan]) -> None:
    # evaluations.N.evaluation.name / evaluations.N.evaluation.score
    parts = key.split(".")
    if len(parts) != 4 or parts[2] != "evaluation" or parts[3] not in ("name", "score"):
        return
    slot = pending.setdefault(parts[1], [None, None])
    if parts[3] == "name":
        slot[0] = as_text(val)
    else:
        slot[1] = _score(span, key, val, errors)


def _events(span: Span, events: Any, errors: list[InvalidSpan]) -> None:
    for ev in events:
        name = ev.name
        if name == v.EVALUATION_EVENT:
            ename = score = None
            for kv in ev.attributes:
                if kv.key == v.EVALUATION_NAME:
                    ename = as_text(kv.value)
                elif kv.key == v.EVALUATION_SCORE:
                    score = _score(span, kv.key, kv.value, errors)
            if ename and score is not None:
                if span.evals is None:
                    span.evals = []
                span.evals.append((ename, score))
        elif name == v.TOOL_MESSAGE_EVENT and span.kind == TOOL and span.args_hash is None:
            # rule `tool_message_args` (Strands): a tool span's arguments only in its gen_ai.tool.message event
            for kv in ev.attributes:
                if kv.key == v.TOOL_MESSAGE_CONTENT:
                    span.args_hash = canonical_args_hash(any_value(kv.value))
        elif name == v.EXCEPTION_EVENT and span.error and span.error_type is None:
            for kv in ev.attributes:
                if kv.key == v.EXCEPTION_TYPE:
                    span.error_type = as_text(kv.value)


def _classify(tl: str | None, llm_req: str | None, oi: str | None, lf: str | None, vercel: str | None,
              genkit: str | None, span: Span) -> int:
    """A span's kind by the older vocabularies, for a span whose `gen_ai.operation.name` is absent or unknown (that
    rule comes first, in `normalize`'s loop)."""
    if oi is not None:
        if oi == "LLM" and span.name.endswith(v.LLAMAINDEX_PREPARE_SUFFIX):
            return OTHER
        return v.OPENINFERENCE_KIND.get(oi, OTHER)
    if tl is not None:
        return v.TRACELOOP_KIND.get(tl, OTHER)
    if lf is not None:
        return v.LANGFUSE_KIND.get(lf, OTHER)
    if llm_req is not None:
        return v.LLM_REQUEST_KIND.get(llm_req, LLM)
    if vercel is not None:
        kind = v.VERCEL_KIND.get(vercel)
        if kind is not None:
            return kind
    if genkit is not None:
        return v.GENKIT_KIND.get(genkit, OTHER)
    if span.tool_name is not None:
        return TOOL
    if (span.input_tokens is not None or span.output_tokens is not None) and (
            span.model is not None or span.name == v.CODEX_CALL_SPAN) and (span.name, span.provider) != v.ADK_WRAPPER:
        return LLM
    return OTHER


def normalize(traces: TracesData, out: list[Span], errors: list[InvalidSpan],
              resources: dict[tuple[str, str, str, str], Resource] | None = None) -> None:
    """Append the normalized spans of `traces` to `out`, and one `InvalidSpan` per skipped span to `errors`."""
    if resources is None:
        resources = {}
    keys_get = _KEYS.get
    last_tid_b = b""
    last_tid = ""
    for rs in traces.resource_spans:
        res = _resource(rs.resource.attributes, resources)
        for ss in rs.scope_spans:
            for s in ss.spans:
                name = s.name
                if len(name) > MAX_LABEL:
                    name = name[:MAX_LABEL]
                tid_b = s.trace_id
                sid_b = s.span_id
                if tid_b != last_tid_b:
                    if len(tid_b) != 16 or not any(tid_b):
                        errors.append(InvalidSpan(f"span {name!r}: trace_id must be 16 non-zero bytes, "
                                                  f"got {len(tid_b)} bytes"))
                        continue
                    last_tid_b, last_tid = tid_b, tid_b.hex()
                if len(sid_b) != 8 or not any(sid_b):
                    errors.append(InvalidSpan(f"span {name!r}: span_id must be 8 non-zero bytes, "
                                              f"got {len(sid_b)} bytes"))
                    continue
                pid_b = s.parent_span_id
                if pid_b and len(pid_b) != 8:
                    errors.append(InvalidSpan(f"span {name!r}: parent_span_id must be empty or 8 bytes, "
                                              f"got {len(pid_b)} bytes"))
                    continue
                start = s.start_time_unix_nano
                end = s.end_time_unix_nano
                if start >= MAX_NS or end >= MAX_NS:
                    errors.append(InvalidSpan(f"span {name!r}: start and end times must be below 2**63 ns, "
                                              f"got {start} and {end}"))
                    continue
                span = Span(last_tid, sid_b.hex(), pid_b.hex() if pid_b and any(pid_b) else "", name,
                            start, end, res)
                if s.status.code == _STATUS_ERROR:
                    span.error = True
                op = tl = llm_req = oi = lf = tl_entity = vercel = function_id = genkit = None
                genkit_name = genkit_output = oi_params = currency = metadata = None
                args: Any = None
                tool_input: Any = None
                oi_evals: dict[str, list[Any]] | None = None
                for kv in s.attributes:
                    key = kv.key
                    slot = keys_get(key)
                    if slot is None:
                        if _OI_LO <= key < _OI_HI:
                            if oi_evals is None:
                                oi_evals = {}
                            _oi_evaluation(key, kv.value, oi_evals, span, errors)
                        continue
                    val = kv.value
                    if slot in _NUMERIC:
                        n = val.int_value or as_number(val)  # as_number's fast path, without the call
                        if n is None:
                            continue
                        if slot == _COST:
                            if 0 <= n <= MAX_COST_USD:
                                span.cost_usd = float(n)
                            else:
                                errors.append(_invalid(name, key, any_value(val), "a cost in USD"))
                            continue
                        # is_token_count(n), inlined: ~1 count per span on the hot path
                        if not 0 <= n < MAX_TOKENS or (type(n) is not int and not n.is_integer()):
                            errors.append(_invalid(name, key, any_value(val), "a token count"))
                            continue
                        if slot == INPUT_TOKENS:
                            span.input_tokens = int(n)
                        elif slot == OUTPUT_TOKENS:
                            span.output_tokens = int(n)
                        elif slot == CACHE_READ_TOKENS:
                            span.cache_read_tokens = int(n)
                        elif slot == REASONING_TOKENS:
                            span.reasoning_tokens = int(n)
                        elif slot == TOTAL_TOKENS:
                            span.total_tokens = int(n)
                        else:  # CACHE_WRITE_TOKENS (the cost is handled above)
                            span.cache_write_tokens = int(n)
                    elif slot == OPERATION:
                        op = val.string_value
                    elif slot == REQUEST_MODEL:
                        if span.model is None:
                            span.model = _model_name(as_text(val))
                    elif slot == RESPONSE_MODEL:
                        model = as_text(val)
                        if model and model != MODEL_NONE:
                            span.model = model
                    elif slot == PROVIDER:
                        text = val.string_value  # as_text's common case, without the call
                        span.provider = text if text and len(text) <= MAX_LABEL else as_text(val)
                    elif slot == AGENT_NAME:
                        text = val.string_value  # as_text's common case, without the call
                        span.agent_name = text if text and len(text) <= MAX_LABEL else as_text(val)
                    elif slot == TOOL_NAME:
                        text = val.string_value  # as_text's common case, without the call
                        span.tool_name = text if text and len(text) <= MAX_LABEL else as_text(val)
                    elif slot == TOOL_ARGS:
                        args = any_value(val)
                    elif slot == TOOL_INPUT:
                        tool_input = val
                    elif slot == CONVERSATION:
                        span.conversation_id = as_text(val)
                    elif slot == ERROR_TYPE:
                        span.error_type = _error_type(as_text(val))
                    elif slot == AGENT_ID:
                        span.agent_id = as_text(val)
                    elif slot == TL_KIND:
                        tl = val.string_value
                    elif slot == TL_ENTITY:
                        tl_entity = val.string_value
                        if len(tl_entity) > MAX_LABEL:
                            tl_entity = tl_entity[:MAX_LABEL]
                    elif slot == OI_KIND:
                        oi = val.string_value
                    elif slot == LF_TYPE:
                        lf = val.string_value
                    elif slot == LLM_REQUEST_TYPE:
                        llm_req = val.string_value
                    elif slot == LF_USAGE:
                        _langfuse_usage(span, key, val, errors)
                    elif slot == VERCEL_OP:
                        vercel = val.string_value
                    elif slot == VERCEL_FUNCTION:
                        function_id = as_text(val)
                    elif slot == GENKIT_SUBTYPE:
                        genkit = val.string_value
                    elif slot == GENKIT_NAME:
                        genkit_name = as_text(val)
                    elif slot == GENKIT_OUTPUT:
                        genkit_output = val
                    elif slot == OI_PARAMS:
                        oi_params = val
                    elif slot == COST_CURRENCY:
                        currency = val.string_value
                    elif slot == OI_METADATA:
                        metadata = val.string_value
                    elif slot == ARGS_HASH:
                        span.args_hash = as_text(val)
                if currency is not None and currency.upper() != "USD":
                    span.cost_usd = None
                if genkit is not None:
                    _genkit(span, genkit, genkit_name, genkit_output, errors)
                if span.total_tokens is not None:
                    _reported_total(span)
                kind = _OP_KIND.get(op) if op is not None else None  # the GenAI operation name first
                if kind is None:
                    kind = _classify(tl, llm_req, oi, lf, vercel, genkit, span)
                span.kind = kind
                if kind == LLM and span.model is None and oi_params is not None:
                    span.model = _request_model(oi_params)
                elif metadata and oi == "CHAIN" and not span.parent_id and _langgraph_root(name, metadata):
                    kind = span.kind = AGENT
                    span.agent_name = name
                if kind == TOOL:
                    if span.tool_name is None:
                        span.tool_name = _tool_name(span, tl_entity)
                    if args is None and tool_input is not None:
                        args = any_value(tool_input)
                    if args is not None:
                        span.args_hash = canonical_args_hash(args)
                elif kind == AGENT:
                    if tl == "agent" and tl_entity:
                        span.agent_name = tl_entity
                    elif span.agent_name is None:
                        span.agent_name = function_id or _agent_name(span, lf)
                if s.events:
                    _events(span, s.events, errors)
                if oi_evals:
                    evals = [(n, sc) for n, sc in oi_evals.values() if n and sc is not None]
                    if evals:
                        span.evals = (span.evals or []) + evals
                out.append(span)


def _json_count(span: Span, key: str, n: Any, errors: list[InvalidSpan]) -> int | None:
    """A token count found inside a JSON attribute: None (skipped) for a non-number, None and an
    `InvalidValue` for a number out of range."""
    if not isinstance(n, int | float) or isinstance(n, bool):
        return None
    if not is_token_count(n):
        errors.append(_invalid(span.name, key, n, "a token count"))
        return None
    return int(n)


def _json_object(val: AnyValue) -> dict[str, Any] | None:
    raw = any_value(val)
    try:
        obj = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _genkit(span: Span, subtype: str, name: str | None, output: AnyValue | None,
            errors: list[InvalidSpan]) -> None:
    """Rule `genkit_usage`: a Genkit span is named by `genkit:name`; a model span's usage is the `usage`
    object inside its `genkit:output` JSON (the only place Genkit puts it)."""
    if subtype == "model":
        span.model = span.model or name
        obj = _json_object(output) if output is not None else None
        usage = obj.get("usage") if obj else None
        if isinstance(usage, dict):
            for field, attr in v.GENKIT_USAGE.items():
                n = _json_count(span, f"genkit:output usage.{field}", usage.get(field), errors)
                if n is not None:
                    setattr(span, attr, n)
    elif subtype == "tool":
        span.tool_name = span.tool_name or name
    elif subtype == "flow":
        span.agent_name = span.agent_name or name


def _request_model(params: AnyValue) -> str | None:
    """Rule `request_model`: OpenInference puts the model of a failed call only in its invocation parameters."""
    obj = _json_object(params)
    model = obj.get("model") if obj else None
    return model[:MAX_LABEL] if isinstance(model, str) and model else None


def _model_name(text: str | None) -> str | None:
    """Rule `vertex_model`: OpenInference's Vertex AI names the model by its resource path
    (`projects/p/locations/l/publishers/google/models/gemini-2.5-flash`); the model is its last part."""
    if text and text.startswith(v.VERTEX_MODEL_PREFIXES):
        _, sep, model = text.rpartition("/models/")
        return model if sep and model else text
    return text


def _error_type(text: str | None) -> str | None:
    """Rule `class_repr_error_type` (Semantic Kernel, some util-genai versions): `error.type` set to
    `str(type(exc))`, `<class 'a.b.Error'>`, names the class `a.b.Error`, as `exception.type` does."""
    if text and text.startswith("<class '") and text.endswith("'>"):
        return text[8:-2] or None
    return text


def _langgraph_root(name: str, metadata: str) -> bool:
    """Rule `langgraph_root`: the root CHAIN span of a LangGraph run, named by the graph's own name."""
    key, value = v.LANGGRAPH_MARK
    return name != v.LANGGRAPH_DEFAULT_NAME and key in metadata and value in metadata


def _reported_total(span: Span) -> None:
    """A reported total above input + output: count the total, the difference as reasoning (output).

    Some instrumentations leave a part of the output out of the completion count while the provider's total
    has it (Gemini's thinking tokens, reported apart as `thoughtsTokenCount`): never count less than the
    instrumentation reported. Spans with a total only (no input or output) keep it as it is."""
    i, o = span.input_tokens, span.output_tokens
    if i is None and o is None:
        return
    extra = span.total_tokens - (i or 0) - (o or 0)
    if extra > 0:
        span.output_tokens = (o or 0) + extra
        span.reasoning_tokens = max(span.reasoning_tokens or 0, extra)


def _langfuse_usage(span: Span, key: str, val: AnyValue, errors: list[InvalidSpan]) -> None:
    """Langfuse `usage_details`: a JSON object of counts under free-form keys, bucketed the way Langfuse
    buckets them: a key containing "input" (or "prompt") is input, "output" (or "completion") is output,
    `total` is the total. Input so includes cached tokens whichever way the SDK split them (Langfuse's own
    OpenAI integration sends `input` without and `input_cached_tokens` beside it; Anthropic-style
    `cache_read_input_tokens` is already apart), as the GenAI conventions count it. The SDK's OpenAI
    integration sends OpenAI's own usage object instead, its breakdown nested (`_usage_details`)."""
    usage = _json_object(val)
    if usage is None:
        return
    sums: dict[str, int] = {}
    for field, n in usage.items():
        if isinstance(n, dict) and isinstance(field, str):
            _usage_details(span, key, field, n, sums, errors)
            continue
        if not isinstance(field, str):
            continue
        n = _json_count(span, f"{key}.{field}", n, errors)
        if n is None:
            continue
        f = field.lower()
        if f in ("total", "total_tokens"):
            bucket = "total_tokens"
        elif "input" in f or "prompt" in f:
            bucket = "input_tokens"
            if "cache_read" in f or "cached" in f:
                sums["cache_read_tokens"] = sums.get("cache_read_tokens", 0) + n
        elif "output" in f or "completion" in f:
            bucket = "output_tokens"
            if "reasoning" in f:
                sums["reasoning_tokens"] = sums.get("reasoning_tokens", 0) + n
        else:
            continue
        sums[bucket] = sums.get(bucket, 0) + n
    for attr, n in sums.items():
        setattr(span, attr, n)


def _usage_details(span: Span, key: str, field: str, details: dict[str, Any], sums: dict[str, int],
                   errors: list[InvalidSpan]) -> None:
    """The OpenAI usage object as the Langfuse SDK sends it: `prompt_tokens_details.cached_tokens` and
    `completion_tokens_details.reasoning_tokens` (`input_tokens_details` / `output_tokens_details` in the
    Responses API) are parts of the input and output already counted, so they only fill the breakdown."""
    f = field.lower()
    bucket, part = (("cache_read_tokens", "cache") if "input" in f or "prompt" in f
                    else ("reasoning_tokens", "reasoning") if "output" in f or "completion" in f else (None, ""))
    if bucket is None:
        return
    for name, n in details.items():
        if not isinstance(name, str) or part not in name.lower():
            continue
        n = _json_count(span, f"{key}.{field}.{name}", n, errors)
        if n is not None:
            sums[bucket] = sums.get(bucket, 0) + n


def _tool_name(span: Span, tl_entity: str | None) -> str:
    if tl_entity:
        return tl_entity
    name = span.name
    if name.startswith(v.TOOL_SPAN_PREFIX):
        return name[len(v.TOOL_SPAN_PREFIX):]
    return name


def _agent_name(span: Span, lf: str | None) -> str | None:
    name = span.name
    if name.startswith(v.AGENT_SPAN_PREFIX):
        return name[len(v.AGENT_SPAN_PREFIX):]
    if name.endswith(v.CREWAI_AGENT_SUFFIX):
        return name[:-len(v.CREWAI_AGENT_SUFFIX)] or None
    if lf == "agent":  # Langfuse names the observation after the agent
        return name
    return None
