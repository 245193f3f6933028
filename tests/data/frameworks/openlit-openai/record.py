"""Drive two agent tasks through the official `openai` client instrumented by OpenLIT
against the fake server; write spans.json + expected.json.

usage: record.py PORT OUTDIR
OpenLIT 1.45 has no tracer/provider argument: openlit.init() reuses the global SDK
TracerProvider if one is set, so we set ours (SimpleSpanProcessor + InMemorySpanExporter) first.
Agent root span: openlit.start_trace() + set_metadata() with OpenLIT's own semcov constants
(invoke_agent / gen_ai.agent.name).  Tool span: the @openlit.trace decorator, untouched.
"""
import json
import os
import sys
from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, chat_loop, run_two_tasks, weather, write_fixture

port, outdir = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openlit-openai",
                                                    "deployment.environment": "fixture"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

import openlit  # noqa: E402
from openlit.semcov import SemanticConvention as SC  # noqa: E402

openlit.init(otlp_endpoint=None, application_name="aw-fw-openlit-openai", environment="fixture",
             disable_batch=True, disable_metrics=True, disable_events=True,
             capture_message_content=True,
             pricing_json=os.path.join(HERE, "pricing.json"))  # local file: no download of prices

import openai  # noqa: E402

client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)

@openlit.trace
def get_weather(city):
    return json.dumps(weather(city))


def run_task(question, tally):
    """One agent task = one trace. Returns the final answer (raises on model error)."""
    with openlit.agent_context(AGENT), openlit.start_trace(f"invoke_agent {AGENT}") as root:
        root.set_metadata({SC.GEN_AI_OPERATION: SC.GEN_AI_OPERATION_TYPE_AGENT, SC.GEN_AI_AGENT_NAME: AGENT})
        tally["trace_id"] = format(trace.get_current_span().get_span_context().trace_id, "032x")
        answer = chat_loop(client, openai, question, tally, lambda tc, args: get_weather(**args),
                           lambda e: type(e).__name__)
        root.set_result(answer)
        return answer


# OpenLIT drops reasoning on the Chat Completions path, and @openlit.trace makes a plain function span (no
# tool key): the tool ran, but no span says a tool ran
tasks = run_two_tasks(run_task, openai, not_emitted=["tokens.reasoning", "tool_calls"])
provider.force_flush()

vers = {p: version(p) for p in ("openlit", "openai", "opentelemetry-sdk", "opentelemetry-instrumentation-httpx")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; openlit.init(otlp_endpoint=None, disable_metrics=True, disable_events=True, disable_batch=True, "
          "capture_message_content=True, pricing_json=pricing.json) reusing a global SDK TracerProvider with an "
          "InMemorySpanExporter; openai.OpenAI(max_retries=0) against a scripted stdlib fake Chat Completions "
          "server on 127.0.0.1 (../fake_openai_server.py); record.py runs 2 tasks, each under an openlit.start_trace "
          "root marked invoke_agent/weather-bot, tool get_weather wrapped in @openlit.trace: (1) tool call + "
          "final answer, (2) tool call then an HTTP 500 on the 2nd model call.")
write_fixture(outdir, exporter.get_finished_spans(), tasks, source)
