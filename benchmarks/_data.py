"""Realistic benchmark input: GenAI traces from the real SDK + OTLP encoder, in several vocabularies.

Each span gets the extra attributes real instrumentations add beside the GenAI ones (server address,
request parameters, response ID, code location...), so spans carry ~16 attributes as in production.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from opentelemetry.proto.trace.v1.trace_pb2 import Span, TracesData

from agentwatch.demo.synth import Step, Task, emit_task, encode, make_provider, tracer_for
from agentwatch.otlp.encode import set_attribute

T0 = 1_790_000_000_000_000_000
VOCABS = ("otel", "otel", "traceloop", "openinference", "openlit")
TOOLS = ("search", "get_order", "read_file", "send_email", "lookup_customer")
MODELS = (("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-3-5-sonnet-latest", "anthropic"))
_EXTRA = [("server.address", "api.example.com"), ("server.port", 443), ("gen_ai.request.temperature", 0.2),
          ("gen_ai.request.max_tokens", 1024), ("gen_ai.response.id", "chatcmpl-9x8y7z"),
          ("code.function", "run_step"), ("code.filepath", "/app/agent/loop.py"), ("thread.id", 140213),
          ("deployment.environment", "prod"), ("user.tier", "gold"), ("http.response.status_code", 200),
          ("gen_ai.request.top_p", 1.0), ("gen_ai.output.type", "text"), ("retry.count", 0)]


def spans_of(traces: TracesData) -> Iterator[Span]:
    """Every span of an OTLP TracesData, in record order."""
    for rs in traces.resource_spans:
        for ss in rs.scope_spans:
            yield from ss.spans


def retime(traces: TracesData, shift_ns: int, prefix: bytes = b"") -> None:
    """Move every span (and its events) by `shift_ns`; with `prefix`, overwrite the start of each trace ID."""
    for s in spans_of(traces):
        s.trace_id = prefix + s.trace_id[len(prefix):]
        s.start_time_unix_nano += shift_ns
        s.end_time_unix_nano += shift_ns
        for ev in s.events:
            ev.time_unix_nano += shift_ns


def newest_end(record: bytes) -> int:
    """The latest span end (ns) in an OTLP record; 0 if it holds no span."""
    return max((s.end_time_unix_nano for s in spans_of(TracesData.FromString(record))), default=0)


def _pad(traces: TracesData, target: int) -> None:
    for span in spans_of(traces):
        for key, val in _EXTRA[: max(0, target - len(span.attributes))]:
            set_attribute(span.attributes.add(), key, val)


def make_spans(n_tasks: int, seed: int = 1, spacing_ns: int = 50_000_000, loop_every: int = 0) -> list:
    """Finished SDK spans of `n_tasks` agent tasks (interleaved in time), in end-time order.

    Task i starts `spacing_ns` after task i-1. With `loop_every` = k > 0, every k-th task calls one tool
    with the same arguments at each of its tool steps (a loop: 2 to 5 identical calls, an LLM call between).
    """
    rng = random.Random(seed)
    spans = []
    for i in range(n_tasks):
        vocab = VOCABS[i % len(VOCABS)]
        steps = []
        looping = loop_every > 0 and i % loop_every == 0
        for _ in range(rng.randint(2, 5)):
            model, provider = rng.choice(MODELS)
            steps.append(Step("llm", model=model, provider=provider, input_tokens=rng.randint(500, 5000),
                              output_tokens=rng.randint(20, 400), cache_read_tokens=rng.choice((0, 256))))
            tool, args = rng.choice(TOOLS), {"q": rng.randint(0, 10**6)}
            steps.append(Step("tool", tool=TOOLS[0] if looping else tool, args={"q": i} if looping else args))
        provider = make_provider(f"agent-{i % 20}", {"k8s.namespace.name": "agents"})
        emit_task(tracer_for(provider, vocab), Task(f"agent-{i % 20}", steps, vocab=vocab), T0 + i * spacing_ns)
        spans += provider.memory_exporter.get_finished_spans()
    spans.sort(key=lambda s: s.end_time)
    return spans


def make_records(spans: list, per_record: int, attrs: int = 16) -> list[bytes]:
    out = []
    for i in range(0, len(spans), per_record):
        traces = TracesData.FromString(encode(spans[i:i + per_record]))
        _pad(traces, attrs)
        out.append(traces.SerializeToString())
    return out


def mean_attributes(records: list[bytes]) -> float:
    n = total = 0
    for rec in records:
        for span in spans_of(TracesData.FromString(rec)):
            n += 1
            total += len(span.attributes)
    return total / max(n, 1)


def tile_records(records: list[bytes], n: int, start_ns: int | None = None) -> tuple[list[bytes], int]:
    """`n` records made of copies of `records`, each copy with its own trace IDs and shifted in time.

    Generating spans through the SDK costs ~100 µs a span; a copy costs ~5 µs. Copy k gets trace IDs
    prefixed with k (two bytes) and times moved by k x the span of the originals, so copies are distinct
    tasks that follow each other. `start_ns` moves everything so the earliest span starts then.
    Returns (records, number of distinct trace IDs in them).
    """
    src = [TracesData.FromString(r) for r in records]
    times = [(s.start_time_unix_nano, s.end_time_unix_nano) for t in src for s in spans_of(t)]
    first = min(s for s, _ in times)
    period = max(e for _, e in times) - first + 1_000_000_000
    base = 0 if start_ns is None else start_ns - first
    out: list[bytes] = []
    traces: set[bytes] = set()
    k = 0
    while len(out) < n:
        prefix = k.to_bytes(2, "big")
        shift = base + k * period
        for t in src:
            if len(out) >= n:
                break
            copy = TracesData()
            copy.CopyFrom(t)
            retime(copy, shift, prefix)
            traces.update(s.trace_id for s in spans_of(copy))
            out.append(copy.SerializeToString())
        k += 1
    return out, len(traces)


def split_by_trace(records: list[bytes]) -> list[tuple[str, bytes]]:
    """What the Collector's Kafka exporter writes with `partition_traces_by_id`: one record per trace and
    (resource, scope) group of each batch, keyed by the hex trace ID. Returns (key, record) in order."""
    out: list[tuple[str, bytes]] = []
    for rec in records:
        by_trace: dict[bytes, tuple[TracesData, dict]] = {}
        for r, rs in enumerate(TracesData.FromString(rec).resource_spans):
            for s, ss in enumerate(rs.scope_spans):
                for span in ss.spans:
                    traces, groups = by_trace.setdefault(span.trace_id, (TracesData(), {}))
                    group = groups.get((r, s))
                    if group is None:
                        new_rs = traces.resource_spans.add(resource=rs.resource, schema_url=rs.schema_url)
                        group = groups[(r, s)] = new_rs.scope_spans.add(scope=ss.scope, schema_url=ss.schema_url)
                    group.spans.append(span)
        out += [(trace_id.hex(), traces.SerializeToString()) for trace_id, (traces, _) in by_trace.items()]
    return out
