"""Drive two agent tasks through Langfuse's OpenAI integration (`from langfuse.openai import OpenAI`)
against the fake server; write spans.json + expected.json.

usage: record.py PORT OUTDIR [context|observe]
Langfuse (v3+ is OpenTelemetry-based) takes `tracer_provider=`: we pass our SDK TracerProvider
(SimpleSpanProcessor + InMemorySpanExporter, NOT set as the global one). Langfuse adds its own
LangfuseSpanProcessor to it; we give that processor `span_exporter=` a second InMemorySpanExporter, so
no OTLP exporter to the Langfuse host is ever built (host also points at a dead loopback port).
Mode `context` (the default recording): agent = `langfuse.start_as_current_observation(as_type="agent",
name="weather-bot", input=question)`, tool = `start_as_current_observation(as_type="tool", name="get_weather",
input=args)`. Mode `observe` (observe/): the same two as `@observe(as_type="agent", name="weather-bot")` and
`@observe(as_type="tool")` decorators, which capture the function's arguments themselves.
"""
import os
import sys
import time
from importlib.metadata import version

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, chat_loop, run_two_tasks, weather, write_fixture

port, outdir = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "context"
assert mode in ("context", "observe"), mode

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-langfuse"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))

from langfuse import Langfuse, observe  # noqa: E402

langfuse_sink = InMemorySpanExporter()  # what Langfuse's own processor would have sent to its host
langfuse = Langfuse(public_key="pk-lf-x", secret_key="sk-lf-x", host="http://127.0.0.1:1",
                    tracer_provider=provider, span_exporter=langfuse_sink)

import openai  # noqa: E402
from langfuse.openai import OpenAI  # noqa: E402

client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)


def error_key(e):  # as the OTel SDK writes exception.type: the only error type on any Langfuse span (see NOTES.md)
    return f"{type(e).__module__}.{type(e).__qualname__}"


def untyped(e):  # @observe ends the span before the exception reaches OTel: no span names a type at all
    return "_OTHER"  # agentwatch's key for a failure without a type


def call_tool_context(tc, args):
    with langfuse.start_as_current_observation(as_type="tool", name=tc.function.name, input=args) as tool:
        result = weather(**args)
        tool.update(output=result)
    return result


def run_task_context(question, tally):
    """One agent task = one trace. Returns the final answer (raises on model error)."""
    with langfuse.start_as_current_observation(as_type="agent", name=AGENT, input=question) as agent:
        tally["trace_id"] = langfuse.get_current_trace_id()
        answer = chat_loop(client, openai, question, tally, call_tool_context, error_key)
        agent.update(output=answer)
        return answer


@observe(as_type="tool")
def get_weather(city):
    return weather(city)


def run_task_observe(question, tally):
    @observe(as_type="agent", name=AGENT)
    def weather_bot(question):
        tally["trace_id"] = langfuse.get_current_trace_id()
        return chat_loop(client, openai, question, tally, lambda tc, args: get_weather(**args), untyped)

    return weather_bot(question)


# usage_details carries the whole OpenAI usage object, cached and reasoning counts included: nothing is dropped
tasks = run_two_tasks(run_task_context if mode == "context" else run_task_observe, openai)
t0 = time.monotonic()
langfuse.flush()  # runs Langfuse's BatchSpanProcessor into langfuse_sink: no network, returns at once
assert time.monotonic() - t0 < 5, "flush hung"
spans = exporter.get_finished_spans()
sent = {s.context.span_id: dict(s.attributes) for s in langfuse_sink.get_finished_spans()}
assert sent == {s.context.span_id: dict(s.attributes) for s in spans}, "Langfuse would export other spans"

vers = {p: version(p) for p in ("langfuse", "openai", "opentelemetry-sdk")}
how = ("each task under start_as_current_observation(as_type='agent', name='weather-bot', input=question), tool "
       "as start_as_current_observation(as_type='tool', name='get_weather', input=args)" if mode == "context" else
       "each task under @observe(as_type='agent', name='weather-bot'), tool as @observe(as_type='tool') def "
       "get_weather(city)")
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; Langfuse(tracer_provider=SDK TracerProvider with an InMemorySpanExporter, span_exporter=a 2nd "
          "in-memory exporter, host=http://127.0.0.1:1) and `from langfuse.openai import OpenAI` (max_retries=0) "
          "against a scripted stdlib fake Chat Completions server on 127.0.0.1 (../fake_openai_server.py); "
          f"record.py {mode} runs 2 tasks, {how}: (1) tool call + final answer, (2) tool call then an HTTP 500 "
          "on the 2nd model call.")
write_fixture(outdir, spans, tasks, source)
langfuse.shutdown()
