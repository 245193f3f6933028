"""Drive two agent tasks through the official `openai` client instrumented by
openinference-instrumentation-openai, against the fake server; write spans.json + expected.json.

usage: record.py PORT OUTDIR
The AGENT and TOOL spans are made with OpenInference's own tracer helpers
(openinference.instrumentation.TracerProvider -> OITracer, openinference_span_kind=...).
"""
import os
import sys
from importlib.metadata import version

from openinference.instrumentation import TracerProvider
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, WEATHER_SCHEMA, chat_loop, run_two_tasks, weather, write_fixture

port, outdir = sys.argv[1], sys.argv[2]

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-openai"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from openinference.instrumentation.openai import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402

tracer = provider.get_tracer("aw-fw-weather-bot")
client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)

def call_tool(tc, args):
    with tracer.start_as_current_span(tc.function.name, openinference_span_kind="tool") as tool:
        tool.set_tool(name=tc.function.name, description="Current weather for a city", parameters=WEATHER_SCHEMA)
        tool.set_attribute("tool_call.id", tc.id)
        tool.set_input(args)  # dict -> input.value JSON + input.mime_type application/json
        result = weather(**args)
        tool.set_output(result)
    return result


def run_task(question, tally):
    """One agent task = one trace. Returns the final answer (raises on model error)."""
    with tracer.start_as_current_span(AGENT, openinference_span_kind="agent") as agent:
        agent.set_attribute("agent.name", AGENT)
        agent.set_input(question)
        tally["trace_id"] = format(agent.get_span_context().trace_id, "032x")
        answer = chat_loop(client, openai, question, tally, call_tool,
                           lambda e: f"{type(e).__module__}.{type(e).__qualname__}")  # as exception.type
        agent.set_output(answer)
        return answer


tasks = run_two_tasks(run_task, openai)
provider.force_flush()

vers = {p: version(p) for p in ("openinference-instrumentation-openai", "openinference-instrumentation",
                                "openinference-semantic-conventions", "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; openai.OpenAI(max_retries=0) against a scripted stdlib fake Chat Completions server on 127.0.0.1 "
          "(../fake_openai_server.py); record.py runs 2 weather-bot tasks: (1) get_weather tool call + final answer, "
          "(2) get_weather tool call then an HTTP 500 on the 2nd model call; AGENT/TOOL spans via "
          "OpenInference's OITracer (default content capture).")
write_fixture(outdir, exporter.get_finished_spans(), tasks, source)
