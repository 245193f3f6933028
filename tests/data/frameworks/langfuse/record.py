"""Drive two agent tasks through Langfuse's OpenAI integration (`from langfuse.openai import OpenAI`)
against the fake server; write spans.json + expected.json.

usage: record.py PORT OUTDIR
Langfuse (v3+ is OpenTelemetry-based) takes `tracer_provider=`: we pass our SDK TracerProvider
(SimpleSpanProcessor + InMemorySpanExporter, NOT set as the global one). Langfuse adds its own
LangfuseSpanProcessor to it; we give that processor `span_exporter=` a second InMemorySpanExporter, so
no OTLP exporter to the Langfuse host is ever built (host also points at a dead loopback port).
Agent: `langfuse.start_as_current_observation(as_type="agent", name="weather-bot")`.
Tool: `langfuse.start_as_current_observation(as_type="tool", name="get_weather", input=args)`.
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

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-langfuse"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))

from langfuse import Langfuse  # noqa: E402

langfuse_sink = InMemorySpanExporter()  # what Langfuse's own processor would have sent to its host
langfuse = Langfuse(public_key="pk-lf-x", secret_key="sk-lf-x", host="http://127.0.0.1:1",
                    tracer_provider=provider, span_exporter=langfuse_sink)

import openai  # noqa: E402
from langfuse.openai import OpenAI  # noqa: E402

client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)


def call_tool(tc, args):
    with langfuse.start_as_current_observation(as_type="tool", name=tc.function.name, input=args) as tool:
        result = weather(**args)
        tool.update(output=result)
    return result


def run_task(question, tally):
    """One agent task = one trace. Returns the final answer (raises on model error)."""
    with langfuse.start_as_current_observation(as_type="agent", name=AGENT, input=question) as agent:
        tally["trace_id"] = langfuse.get_current_trace_id()
        answer = chat_loop(client, openai, question, tally, call_tool,
                           lambda e: type(e).__name__)  # Langfuse has no error-type key (see NOTES.md)
        agent.update(output=answer)
        return answer


# usage_details carries the whole OpenAI usage object, cached and reasoning counts included: nothing dropped
tasks = run_two_tasks(run_task, openai)
t0 = time.monotonic()
langfuse.flush()  # runs Langfuse's BatchSpanProcessor into langfuse_sink: no network, returns at once
assert time.monotonic() - t0 < 5, "flush hung"
spans = exporter.get_finished_spans()
sent = {s.context.span_id: dict(s.attributes) for s in langfuse_sink.get_finished_spans()}
assert sent == {s.context.span_id: dict(s.attributes) for s in spans}, "Langfuse would export other spans"

vers = {p: version(p) for p in ("langfuse", "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; Langfuse(tracer_provider=SDK TracerProvider with an InMemorySpanExporter, span_exporter=a 2nd "
          "in-memory exporter, host=http://127.0.0.1:1) and `from langfuse.openai import OpenAI` (max_retries=0) "
          "against a scripted stdlib fake Chat Completions server on 127.0.0.1 (../fake_openai_server.py); "
          "record.py runs 2 tasks, each under start_as_current_observation(as_type='agent', name='weather-bot'), "
          "tool as_type='tool' name='get_weather' input=args: (1) tool call + final answer, (2) tool call then "
          "an HTTP 500 on the 2nd model call.")
write_fixture(outdir, spans, tasks, source)
langfuse.shutdown()
