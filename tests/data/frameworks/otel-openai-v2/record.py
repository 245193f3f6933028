"""Drive two agent tasks through the official `openai` client instrumented by
opentelemetry-instrumentation-openai-v2, against the fake server; write spans.json + expected.json.

usage: record.py PORT OUTDIR
The agent (invoke_agent) and tool (execute_tool) spans are made with the GenAI util
(opentelemetry-util-genai TelemetryHandler) that the instrumentation itself uses.
"""
import os
import sys
from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, MODEL, chat_loop, run_two_tasks, weather, write_fixture

port, outdir = sys.argv[1], sys.argv[2]

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-otel-openai-v2"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402
from opentelemetry.util.genai.handler import TelemetryHandler  # noqa: E402

handler = TelemetryHandler(tracer_provider=provider)
client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)

def call_tool(tc, args):
    with handler.tool(tc.function.name, tool_call_id=tc.id, tool_type="function") as tool:
        tool.arguments = args
        result = weather(**args)
        tool.tool_result = result
    return result


def run_task(question, tally):
    """One agent task = one trace. Returns the final answer (raises on model error)."""
    with handler.invoke_local_agent(agent_name=AGENT, request_model=MODEL):
        tally["trace_id"] = format(trace.get_current_span().get_span_context().trace_id, "032x")
        return chat_loop(client, openai, question, tally, call_tool,
                         lambda e: type(e).__qualname__)  # as error.type (class __qualname__)


# the fake returned cache and reasoning counts (tallied) but openai-v2 puts them on no span
tasks = run_two_tasks(run_task, openai, not_emitted=["tokens.cache_read", "tokens.reasoning"])
provider.force_flush()

vers = {p: version(p) for p in ("opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai",
                                "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; openai.OpenAI(max_retries=0) against a scripted stdlib fake Chat Completions server on 127.0.0.1 "
          "(../fake_openai_server.py); record.py runs 2 weather-bot tasks: (1) get_weather tool call + final answer, "
          "(2) get_weather tool call then an HTTP 500 on the 2nd model call; agent/tool spans via "
          "opentelemetry-util-genai TelemetryHandler; OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="
          + os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "") + ".")
write_fixture(outdir, exporter.get_finished_spans(), tasks, source)
