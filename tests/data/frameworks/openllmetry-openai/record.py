"""Drive two agent tasks through the official `openai` client instrumented by OpenLLMetry
(traceloop-sdk: Traceloop.init + @agent/@tool decorators, which enable
opentelemetry-instrumentation-openai) against the fake server; write spans.json + expected.json.

usage: record.py PORT OUTDIR      (TRACELOOP_TRACE_CONTENT=true is set by record.sh)
"""
import os
import sys
from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import agent, tool

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, chat_loop, run_two_tasks, weather, write_fixture

port, outdir = sys.argv[1], sys.argv[2]

exporter = InMemorySpanExporter()
# A custom processor => Traceloop sends nothing to api.traceloop.com and disables its metrics.
Traceloop.init(app_name="aw-fw-openllmetry-openai", processor=SimpleSpanProcessor(exporter),
               disable_batch=True, telemetry_enabled=False)

import openai  # noqa: E402

client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)

@tool(name="get_weather")
def get_weather(city):
    return weather(city)


CURRENT = {}  # the task being run: the agent function takes the question only, as its span records it


@agent(name=AGENT)
def weather_bot(question):
    """One agent task = one trace. Returns the final answer (raises on model error)."""
    tally = CURRENT["tally"]
    tally["trace_id"] = format(trace.get_current_span().get_span_context().trace_id, "032x")
    return chat_loop(client, openai, question, tally, lambda tc, args: get_weather(**args),
                     lambda e: type(e).__name__)


def run_task(question, tally):
    CURRENT["tally"] = tally
    return weather_bot(question)


tasks = run_two_tasks(run_task, openai)
trace.get_tracer_provider().force_flush()

vers = {p: version(p) for p in ("traceloop-sdk", "opentelemetry-instrumentation-openai",
                                "opentelemetry-semantic-conventions-ai", "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; Traceloop.init(processor=SimpleSpanProcessor(InMemorySpanExporter()), disable_batch=True) with its "
          "default instruments (only openai emits spans here), "
          "TRACELOOP_TRACE_CONTENT=" + os.environ.get("TRACELOOP_TRACE_CONTENT", "") + "; "
          "openai.OpenAI(max_retries=0) against a scripted stdlib fake Chat Completions server on 127.0.0.1 "
          "(../fake_openai_server.py); record.py runs 2 tasks of an @agent(name='weather-bot') function with an "
          "@tool(name='get_weather') function: (1) get_weather tool call + final answer, "
          "(2) get_weather tool call then an HTTP 500 on the 2nd model call.")
write_fixture(outdir, exporter.get_finished_spans(), tasks, source)
