"""Synthetic agent traces, emitted through the real OpenTelemetry SDK.

Each vocabulary reproduces the span tree and attributes that the real instrumentation emits (see
shared/reference/otel-kafka-genai.md §5, and §3 where §5 is silent), including its traps: usage
repeated on agent spans, totals next to input/output, `gen_ai.client.token.usage` as a span attribute,
`gen_ai.agent.name` on every Traceloop descendant, Traceloop's args/kwargs wrapper, OpenInference's
schema-not-args `tool.parameters`. Timestamps are explicit so tests are deterministic (trace and span IDs
are still random, from the SDK's id generator).

Spans are ended children first, as the SDK does for real: a child is exported before its parent, and a
stalled task (`end_root=False`) exports its finished steps but never its root.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Tracer, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

VOCABS = ("otel", "otel_legacy", "traceloop", "openinference", "openlit", "langfuse")

# Instrumentation scope each real stack reports; use `tracer_for` to get a matching tracer.
SCOPES: dict[str, tuple[str, str]] = {
    "otel": ("opentelemetry.instrumentation.openai_v2", "2.4b0"),
    "otel_legacy": ("opentelemetry.instrumentation.openai_v2", "2.1b0"),
    "traceloop": ("opentelemetry.instrumentation.openai.v1", "0.62.4"),
    "openinference": ("openinference.instrumentation.openai_agents", "2.6.0"),
    "openlit": ("openlit.otel.tracing", "1.44.0"),
    "langfuse": ("langfuse-sdk", "3.8.0"),
}

_MS = 1_000_000
# Wrapper spans (agent, workflow) end a little after their last child: the framework's own overhead.
_WRAPPER_PAD_NS = 1 * _MS

# USD per million tokens (input, output), for OpenLIT's own `gen_ai.usage.cost`; values match
# genai-prices for these models. Unknown models report 0.0, as OpenLIT does.
_OPENLIT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "claude-3-5-sonnet-latest": (3.00, 15.00),
}
_PROVIDER_URLS = {
    "openai": "https://api.openai.com/v1/chat/completions",
    "anthropic": "https://api.anthropic.com/v1/messages",
}


@dataclass
class Step:
    """One step of an agent task."""

    kind: str  # "llm" | "tool"
    model: str = "gpt-4o-mini"
    provider: str = "openai"
    input_tokens: int = 0  # includes cache_read_tokens, as the GenAI conventions count them
    output_tokens: int = 0  # includes reasoning_tokens
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    tool: str | None = None
    args: dict | None = None  # tool arguments; None = not recorded (they are opt-in)
    error_type: str | None = None  # status ERROR + error.type (+ an exception event)
    duration_ms: int = 100
    gap_ms: int = 10  # idle time before this step starts


@dataclass
class Task:
    agent: str
    steps: list[Step]
    vocab: str = "otel"
    conversation_id: str | None = None
    end_root: bool = True  # False = the task stalls: the root span is never ended (never exported)
    agent_usage: bool = False  # otel/otel_legacy: invoke_agent repeats the SUM of its children's usage
    evaluations: dict[str, float] | None = None  # otel/otel_legacy: span events; openinference: attributes


def _hex_id(*parts: object, n: int = 24) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _schema(args: dict | None) -> str:
    """A JSON schema for the tool's parameters, derived from example args (OpenInference `tool.parameters`)."""
    types = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    props = {k: {"type": types.get(type(v), "string")} for k, v in (args or {}).items()}
    return _json({"type": "object", "properties": props, "required": list(props), "additionalProperties": False})


def _tool_result(step: Step) -> str:
    return _json({"status": "ok", "tool": step.tool, "results": 3})


def _service_name(tracer: trace.Tracer) -> str:
    # OpenLIT copies service.name from the resource onto every span it makes.
    resource = getattr(tracer, "resource", None)
    name = resource.attributes.get("service.name") if resource is not None else None
    return str(name) if name else "unknown_service"


def _check(task: Task) -> None:
    if task.vocab not in VOCABS:
        raise ValueError(f"unknown vocab {task.vocab!r}; expected one of {VOCABS}")
    legacy_or_current = ("otel", "otel_legacy")
    if task.agent_usage and task.vocab not in legacy_or_current:
        raise ValueError("agent_usage is only emitted by the otel vocabularies")
    if task.evaluations and task.vocab not in (*legacy_or_current, "openinference"):
        raise ValueError("evaluations are only emitted for otel, otel_legacy and openinference")
    for step in task.steps:
        if step.kind not in ("llm", "tool"):
            raise ValueError(f"unknown step kind {step.kind!r}")
        if step.kind == "tool" and not step.tool:
            raise ValueError("a tool step needs a tool name")


class _Emitter:
    def __init__(self, tracer: trace.Tracer, task: Task, live: bool = False,
                 before_step: Callable[[str, int], None] | None = None) -> None:
        self.tracer = tracer
        self.task = task
        self.live = live
        self.before_step = before_step
        self.vocab = task.vocab
        self.last_end = 0
        self.trace_id = ""
        # Attributes every span of the task carries (context-propagated session ids, stamped agent names).
        self.common: dict[str, str] = {}

    # -- plumbing -------------------------------------------------------------------------------------
    def start(self, name: str, parent: Span | None, start_ns: int, kind: SpanKind = SpanKind.INTERNAL,
              attrs: dict | None = None) -> Span:
        # An empty Context for the root: never inherit whatever span happens to be current in the caller.
        ctx = trace.set_span_in_context(parent) if parent is not None else Context()
        span = self.tracer.start_span(name, context=ctx, kind=kind, start_time=start_ns,
                                      attributes={**self.common, **(attrs or {})})
        if not self.trace_id:
            self.trace_id = format(span.get_span_context().trace_id, "032x")
        return span

    def end(self, span: Span, end_ns: int) -> None:
        if self.live:  # a running agent ends (and so exports) a span when it finishes, not before
            time.sleep(max(0.0, (end_ns - time.time_ns()) / 1e9))
        span.end(end_time=end_ns)
        self.last_end = max(self.last_end, end_ns)

    def fail(self, span: Span, step: Step, end_ns: int) -> None:
        assert step.error_type
        self.error(span, step.error_type, f"{step.error_type} during {step.tool or step.model}", end_ns)

    def error(self, span: Span, kind: str, message: str, at_ns: int) -> None:
        """Mark `span` failed as the instrumentation does: error.type, an exception event, status ERROR."""
        span.set_attribute("error.type", kind)
        if self.vocab == "langfuse":
            span.set_attribute("langfuse.observation.level", "ERROR")
            span.set_attribute("langfuse.observation.status_message", message)
        # What span.record_exception writes, but with an explicit timestamp.
        span.add_event("exception", {"exception.type": kind, "exception.message": message}, timestamp=at_ns)
        span.set_status(Status(StatusCode.ERROR, message))

    # -- attributes per vocabulary ---------------------------------------------------------------------
    def llm(self, step: Step, parent: Span, s: int, e: int, next_is_tool: bool) -> None:
        v, inp, out = self.vocab, step.input_tokens, step.output_tokens
        finish = ("tool_calls",) if next_is_tool else ("stop",)
        kind = SpanKind.CLIENT
        if v in ("otel", "otel_legacy", "openlit"):
            name = f"chat {step.model}"
            a: dict = {"gen_ai.operation.name": "chat", "gen_ai.request.model": step.model,
                       "gen_ai.response.model": step.model}
            if v == "otel_legacy":
                a |= {"gen_ai.system": step.provider, "gen_ai.usage.prompt_tokens": inp,
                      "gen_ai.usage.completion_tokens": out}
            else:
                a |= {"gen_ai.provider.name": step.provider, "gen_ai.usage.input_tokens": inp,
                      "gen_ai.usage.output_tokens": out}
                if step.cache_read_tokens:
                    a["gen_ai.usage.cache_read.input_tokens"] = step.cache_read_tokens
                if step.reasoning_tokens:
                    a["gen_ai.usage.reasoning.output_tokens" if v == "otel"
                      else "gen_ai.usage.reasoning_tokens"] = step.reasoning_tokens
            if v == "openlit":
                p_in, p_out = _OPENLIT_PRICES.get(step.model, (0.0, 0.0))
                a |= {"gen_ai.usage.total_tokens": inp + out,
                      "gen_ai.client.token.usage": inp + out,  # a metric name reused as an attribute
                      "gen_ai.usage.cost": (inp * p_in + out * p_out) / 1e6,
                      "service.name": _service_name(self.tracer), "telemetry.sdk.name": "openlit"}
        elif v == "traceloop":
            name = f"{step.provider}.chat"
            a = {"llm.request.type": "chat", "gen_ai.system": step.provider,
                 "gen_ai.request.model": step.model, "gen_ai.response.model": step.model,
                 "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
                 "llm.usage.total_tokens": inp + out}
            if step.cache_read_tokens:
                a["gen_ai.usage.cache_read.input_tokens"] = step.cache_read_tokens
            if step.reasoning_tokens:
                a["gen_ai.usage.reasoning_tokens"] = step.reasoning_tokens
        elif v == "openinference":
            name, kind = "generation", SpanKind.INTERNAL  # the Agents SDK makes everything INTERNAL
            a = {"openinference.span.kind": "LLM", "llm.model_name": step.model,
                 "llm.provider": step.provider, "llm.system": step.provider,
                 "llm.token_count.prompt": inp, "llm.token_count.completion": out,
                 "llm.token_count.total": inp + out}
            if step.cache_read_tokens:
                a["llm.token_count.prompt_details.cache_read"] = step.cache_read_tokens
            if step.reasoning_tokens:
                a["llm.token_count.completion_details.reasoning"] = step.reasoning_tokens
        else:  # langfuse
            name, kind = "generation", SpanKind.INTERNAL
            a = {"langfuse.observation.type": "generation", "langfuse.observation.model.name": step.model,
                 "langfuse.observation.usage_details": _json({"input": inp, "output": out, "total": inp + out})}
        if v in ("otel", "otel_legacy", "openlit") and not step.error_type:
            a["gen_ai.response.finish_reasons"] = finish
        span = self.start(name, parent, s, kind, a)
        if v == "openlit":
            self.http_child(step, span, s, e)
        if step.error_type:
            self.fail(span, step, e)
        self.end(span, e)

    def http_child(self, step: Step, parent: Span, s: int, e: int) -> None:
        # The httpx instrumentation's request span under OpenLIT's chat span (plain HTTP semconv).
        url = _PROVIDER_URLS.get(step.provider, f"https://api.{step.provider}.com/v1/chat/completions")
        inset = (e - s) // 20
        code = 500 if step.error_type else 200
        attrs: dict = {"http.request.method": "POST", "url.full": url, "server.address": url.split("/")[2],
                       "http.response.status_code": code}
        span = self.tracer.start_span("POST", context=trace.set_span_in_context(parent), kind=SpanKind.CLIENT,
                                      start_time=s + inset, attributes=attrs)
        if step.error_type:
            span.set_attribute("error.type", str(code))
            span.set_status(Status(StatusCode.ERROR))
        self.end(span, e - inset)

    def tool(self, step: Step, index: int, parent: Span, s: int, e: int) -> None:
        v, args, tool = self.vocab, step.args, step.tool
        assert tool is not None
        if v in ("otel", "otel_legacy", "openlit"):
            name = f"execute_tool {tool}"
            a: dict = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                       "gen_ai.tool.call.id": f"call_{_hex_id(self.trace_id, index)}",
                       "gen_ai.tool.type": "function"}
            if args is not None:
                if v == "openlit":
                    a["gen_ai.tool.args"] = _json(args)
                else:  # arguments and result are opt-in together
                    a["gen_ai.tool.call.arguments"] = _json(args)
                    if not step.error_type:
                        a["gen_ai.tool.call.result"] = _tool_result(step)
            if v == "openlit":
                a |= {"service.name": _service_name(self.tracer), "telemetry.sdk.name": "openlit"}
        elif v == "traceloop":
            name = f"{tool}.tool"
            a = {"traceloop.span.kind": "tool", "traceloop.entity.name": tool, "gen_ai.tool.name": tool}
            if args is not None:
                # The @tool decorator serializes the Python call: keyword args end up under "kwargs".
                a["traceloop.entity.input"] = json.dumps({"args": [], "kwargs": args})
                if not step.error_type:
                    a["traceloop.entity.output"] = json.dumps(json.loads(_tool_result(step)))
        elif v == "openinference":
            name = tool
            a = {"openinference.span.kind": "TOOL", "tool.name": tool, "tool.parameters": _schema(args)}
            if args is not None:
                a |= {"input.value": _json(args), "input.mime_type": "application/json"}
                if not step.error_type:
                    a["output.value"] = _tool_result(step)
        else:  # langfuse
            name = tool
            a = {"langfuse.observation.type": "tool"}
            if args is not None:
                a["langfuse.observation.input"] = _json(args)
                if not step.error_type:
                    a["langfuse.observation.output"] = _tool_result(step)
        span = self.start(name, parent, s, SpanKind.INTERNAL, a)
        if step.error_type:
            self.fail(span, step, e)
        self.end(span, e)

    # -- the tree --------------------------------------------------------------------------------------
    def wrappers(self, start_ns: int) -> tuple[list[Span], Span]:
        """Open the ancestor chain for this vocabulary; return it (outermost first) and the agent span."""
        t, v, agent = self.task, self.vocab, self.task.agent
        conv = t.conversation_id
        provider = next((s.provider for s in t.steps if s.kind == "llm"), "openai")
        if v in ("otel", "otel_legacy", "openlit"):
            a: dict = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent}
            if v == "openlit":
                a |= {"gen_ai.provider.name": provider, "openlit.agent.version_hash": _hex_id(agent, n=16),
                      "service.name": _service_name(self.tracer), "telemetry.sdk.name": "openlit"}
            else:
                a |= {"gen_ai.agent.id": f"asst_{_hex_id(agent)}",
                      ("gen_ai.system" if v == "otel_legacy" else "gen_ai.provider.name"): provider}
            if conv:
                a["gen_ai.conversation.id"] = conv
            root = self.start(f"invoke_agent {agent}", None, start_ns, SpanKind.INTERNAL, a)
            return [root], root
        if v == "traceloop":
            # Association properties and the workflow name propagate to every span in the workflow.
            self.common = {"traceloop.workflow.name": agent}
            if conv:
                self.common["traceloop.association.properties.session_id"] = conv
            wf = self.start(f"{agent}.workflow", None, start_ns, attrs={
                "traceloop.span.kind": "workflow", "traceloop.entity.name": agent})
            ag = self.start(f"{agent}.agent", wf, start_ns, attrs={
                "traceloop.span.kind": "agent", "traceloop.entity.name": agent, "gen_ai.agent.name": agent})
            self.common["gen_ai.agent.name"] = agent  # stamped on every descendant of the agent span
            return [wf, ag], ag
        if v == "openinference":
            if conv:
                self.common["session.id"] = conv  # using_session() propagates to every span
            root = self.start("Agent workflow", None, start_ns, attrs={"openinference.span.kind": "AGENT"})
            chain = self.start("Agent workflow", root, start_ns, attrs={"openinference.span.kind": "CHAIN"})
            ag = self.start(agent, chain, start_ns, attrs={
                "openinference.span.kind": "AGENT", "agent.name": agent, "graph.node.id": agent})
            return [root, chain, ag], ag
        # langfuse: the agent observation is the root; propagate_attributes() puts the session on all spans
        if conv:
            self.common["langfuse.session.id"] = conv
        root = self.start(agent, None, start_ns, attrs={
            "langfuse.observation.type": "agent", "langfuse.trace.name": agent})
        return [root], root

    def abort(self, open_spans: list[Span], at_ns: int, exc: Exception) -> None:
        """End the open ancestors as the agent's framework does when an exception leaves the task: status
        ERROR and an exception event on each (innermost first)."""
        for span in reversed(open_spans):
            at_ns += _WRAPPER_PAD_NS
            self.error(span, type(exc).__name__, str(exc), at_ns)
            self.end(span, at_ns)

    def run(self, start_ns: int) -> tuple[str, int]:
        t = self.task
        chain, agent_span = self.wrappers(start_ns)
        inner = chain[-1]
        turn: Span | None = None  # openinference: one `turn` per model call and the tools it requested
        turn_end = 0
        cursor = start_ns
        for i, step in enumerate(t.steps):
            if self.before_step is not None:
                try:
                    self.before_step(self.trace_id, i)
                except Exception as exc:
                    self.abort([*chain, *([turn] if turn is not None else [])], cursor, exc)
                    raise
            s = cursor + step.gap_ms * _MS
            e = s + step.duration_ms * _MS
            cursor = e
            parent = inner
            if self.vocab == "openinference":
                if turn is None or step.kind == "llm":
                    if turn is not None:
                        self.end(turn, turn_end)
                    turn = self.start("turn", inner, s, attrs={"openinference.span.kind": "CHAIN"})
                parent = turn
            if step.kind == "llm":
                nxt = t.steps[i + 1].kind if i + 1 < len(t.steps) else None
                self.llm(step, parent, s, e, next_is_tool=nxt == "tool")
            else:
                self.tool(step, i, parent, s, e)
            turn_end = e
        if not t.end_root:
            # Stalled: the whole ancestor chain (and the open turn) stays open, so is never exported.
            return self.trace_id, self.last_end
        if turn is not None:
            self.end(turn, turn_end)
        llm_steps = [s for s in t.steps if s.kind == "llm"]
        if t.agent_usage:
            legacy = self.vocab == "otel_legacy"
            agent_span.set_attribute("gen_ai.usage.prompt_tokens" if legacy else "gen_ai.usage.input_tokens",
                                     sum(s.input_tokens for s in llm_steps))
            agent_span.set_attribute(
                "gen_ai.usage.completion_tokens" if legacy else "gen_ai.usage.output_tokens",
                sum(s.output_tokens for s in llm_steps))
        for n, (ev_name, score) in enumerate((t.evaluations or {}).items()):
            if self.vocab == "openinference":
                agent_span.set_attribute(f"evaluations.{n}.evaluation.name", ev_name)
                agent_span.set_attribute(f"evaluations.{n}.evaluation.score", float(score))
            else:
                agent_span.add_event("gen_ai.evaluation.result", {
                    "gen_ai.evaluation.name": ev_name, "gen_ai.evaluation.score.value": float(score)},
                    timestamp=cursor)
        end_ns = cursor
        for span in reversed(chain):
            end_ns += _WRAPPER_PAD_NS
            self.end(span, end_ns)
        return self.trace_id, self.last_end


def task_duration_ns(task: Task) -> int:
    """How long `emit_task` makes the task last, root start to root end (as if end_root were True)."""
    levels = {"traceloop": 2, "openinference": 3}.get(task.vocab, 1)
    return sum((s.gap_ms + s.duration_ms) * _MS for s in task.steps) + levels * _WRAPPER_PAD_NS


def emit_task(tracer: trace.Tracer, task: Task, start_ns: int, *, live: bool = False,
              before_step: Callable[[str, int], None] | None = None) -> tuple[str, int]:
    """Emit one task's spans; return (trace_id as 32 lowercase hex, end time ns of the last span ended).

    With `end_root=False` the returned end time is that of the last finished step (the open ancestors
    have none). `live=True` runs the task in real time from `start_ns` (now): each span ends when its end
    time comes. `before_step(trace_id, i)` is called before step i; if it raises, the open ancestors end
    with that error (as a framework's do) and the exception propagates: an agent's guard.
    """
    _check(task)
    return _Emitter(tracer, task, live, before_step).run(start_ns)


class DemoTracerProvider(TracerProvider):
    """A TracerProvider that also exposes the in-memory exporter `make_provider` attached (or None)."""

    __slots__ = ("memory_exporter",)

    memory_exporter: InMemorySpanExporter | None


def make_provider(service: str = "demo-agents", resource: dict | None = None,
                  exporter: SpanExporter | None = None, *, batch: bool = False) -> DemoTracerProvider:
    """A provider whose resource has service.name plus the given attributes (k8s.pod.name, ...).

    With exporter=None an InMemorySpanExporter is attached and exposed as `provider.memory_exporter`.
    Spans are exported one by one as they end (SimpleSpanProcessor), which keeps the export order exact;
    `batch=True` uses a BatchSpanProcessor instead (closer to a real agent shipping to a collector;
    call provider.force_flush() before reading what was sent).
    """
    attrs = {**(resource or {}), "service.name": service}
    provider = DemoTracerProvider(resource=Resource.create(attrs), sampler=ALWAYS_ON)
    memory = InMemorySpanExporter() if exporter is None else None
    target: SpanExporter = memory if memory is not None else exporter  # type: ignore[assignment]
    provider.add_span_processor(BatchSpanProcessor(target) if batch else SimpleSpanProcessor(target))
    provider.memory_exporter = memory
    return provider


def tracer_for(provider: TracerProvider, vocab: str) -> Tracer:
    """A tracer whose instrumentation scope is the one the real stack for `vocab` reports."""
    name, version = SCOPES[vocab]
    return provider.get_tracer(name, version)  # type: ignore[return-value]


def encode(spans: Sequence[ReadableSpan]) -> bytes:
    """Finished spans -> OTLP TracesData bytes (the Kafka exporter's `otlp_proto` value)."""
    return encode_spans(list(spans)).SerializeToString()


def records(spans: Sequence[ReadableSpan], per_record: int | None = None) -> list[bytes]:
    """Split finished spans, in export order, into several OTLP records of `per_record` spans each.

    per_record=None puts every span in its own record (the worst split a collector can produce).
    """
    size = 1 if per_record is None else per_record
    if size < 1:
        raise ValueError("per_record must be >= 1")
    spans = list(spans)
    return [encode(spans[i:i + size]) for i in range(0, len(spans), size)]


# -- the canonical demo scenario ---------------------------------------------------------------------------

def _llm(inp: int, out: int, *, model: str = "gpt-4o-mini", provider: str = "openai", ms: int = 900,
         gap: int = 15, cached: int = 0) -> Step:
    return Step("llm", model=model, provider=provider, input_tokens=inp, output_tokens=out,
                cache_read_tokens=cached, duration_ms=ms, gap_ms=gap)


def _tool(name: str, args: dict, *, ms: int = 250, gap: int = 5) -> Step:
    return Step("tool", tool=name, args=args, duration_ms=ms, gap_ms=gap)


def scenario_tasks(start_ns: int) -> list[tuple[Task, int]]:
    """The four-agent scenario: healthy-bot (2 tasks), looping-bot, hungry-bot, stuck-bot; all "otel".

    - healthy-bot: 4 steps per task, a few thousand tokens, every tool call different.
    - looping-bot: calls search({"q": "weather in Paris"}) 5 times in a row, a model call between each.
    - hungry-bot: 3 gpt-4o calls of 94k input + 6k output = 300,000 tokens (gpt-4o caps output at 16,384
      tokens, so the bulk is context: later calls re-read the growing document, partly from cache).
    - stuck-bot: a model call and a tool call, then nothing: the root span is never ended.
    """
    healthy_1 = Task("healthy-bot", [
        _llm(1_180, 42),
        _tool("get_order_status", {"order_id": "A-10293"}),
        _tool("get_shipping_eta", {"order_id": "A-10293", "carrier": "dhl"}, ms=310),
        _llm(1_460, 118, ms=1_400),
    ], conversation_id="conv-healthy-0001")
    healthy_2 = Task("healthy-bot", [
        _llm(1_020, 37),
        _tool("lookup_customer", {"email": "jane@example.com"}, ms=180),
        _tool("list_invoices", {"customer_id": "cus_8842", "limit": 5}, ms=420),
        _llm(1_690, 164, ms=1_600),
    ], conversation_id="conv-healthy-0002")
    search = {"q": "weather in Paris"}
    looping_steps: list[Step] = []
    for k in range(5):
        looping_steps += [_llm(900 + 160 * k, 24, ms=700), _tool("search", dict(search), ms=420)]
    looping_steps.append(_llm(1_750, 60, ms=900))
    looping = Task("looping-bot", looping_steps, conversation_id="conv-looping-0001")
    hungry = Task("hungry-bot", [
        _llm(94_000, 6_000, model="gpt-4o", ms=42_000),
        _tool("read_file", {"path": "reports/q3-annual.md"}, ms=120),
        _llm(94_000, 6_000, model="gpt-4o", ms=44_000, cached=64_000),
        _tool("read_file", {"path": "reports/q3-appendix.md"}, ms=110),
        _llm(94_000, 6_000, model="gpt-4o", ms=43_000, cached=80_000),
    ], conversation_id="conv-hungry-0001")
    stuck = Task("stuck-bot", [
        _llm(2_140, 88, model="claude-3-5-sonnet-latest", provider="anthropic", ms=1_800),
        _tool("fetch_url", {"url": "https://status.example.com/api/v2/summary.json"}, ms=600),
    ], conversation_id="conv-stuck-0001", end_root=False)
    healthy_2_start = start_ns + task_duration_ns(healthy_1) + 3_000 * _MS
    return [
        (healthy_1, start_ns),
        (looping, start_ns + 250 * _MS),
        (hungry, start_ns + 500 * _MS),
        (stuck, start_ns + 750 * _MS),
        (healthy_2, healthy_2_start),
    ]


# -- evaluation results (the logs signal) ------------------------------------------------------------------

def make_logger_provider(service: str = "demo-agents", exporter: Any = None) -> Any:
    """A LoggerProvider for `gen_ai.evaluation.result` events; with exporter=None an in-memory exporter is
    attached and exposed as `provider.memory_exporter`."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        BatchLogRecordProcessor,
        InMemoryLogRecordExporter,
        SimpleLogRecordProcessor,
    )

    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    memory = InMemoryLogRecordExporter() if exporter is None else None
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory) if memory is not None
                                      else BatchLogRecordProcessor(exporter, schedule_delay_millis=200))
    provider.memory_exporter = memory  # type: ignore[attr-defined]
    return provider


def emit_evaluation(provider: Any, trace_id: str, span_id: str, name: str, score: float, ts_ns: int,
                    label: str | None = None) -> None:
    """One `gen_ai.evaluation.result` event parented to the evaluated span, as the GenAI conventions say."""
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=trace.TraceFlags(1))))
    attrs: dict[str, Any] = {"gen_ai.evaluation.name": name, "gen_ai.evaluation.score.value": score}
    if label:
        attrs["gen_ai.evaluation.score.label"] = label
    provider.get_logger("agentwatch.demo.evals").emit(timestamp=ts_ns, context=ctx, attributes=attrs,
                                                       event_name="gen_ai.evaluation.result")
