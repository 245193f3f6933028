"""Drive two agent tasks through the official `openai` 1.x client instrumented by
opentelemetry-instrumentation-openai-v2 2.3b0 (the pre-1.37 GenAI conventions: `gen_ai.system`, message
content as log events), against the fake server; write spans.json + expected.json (+ logs.json).

usage: record.py PORT OUTDIR
2.3b0 has no opentelemetry-util-genai (no TelemetryHandler), so the agent (invoke_agent) and tool
(execute_tool) spans are made here BY HAND with the plain OTel tracer, with the attribute names of
GenAI semconv v1.36.0 (the last release before gen_ai.provider.name); only the chat spans come from
the instrumentation.
"""
import json
import os
import sys
from importlib.metadata import version

from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from weather_bot import AGENT, MODEL, TOOLS, _hexify, chat_loop, run_two_tasks, weather, write_fixture

port, outdir = sys.argv[1], sys.argv[2]

resource = Resource.create({"service.name": "aw-fw-otel-openai-v2-legacy"})
exporter = InMemorySpanExporter()
provider = TracerProvider(resource=resource)
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
log_exporter = InMemoryLogRecordExporter()
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))

from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider, logger_provider=logger_provider)

import openai  # noqa: E402

# hand-made agent/tool spans: plain tracer, semconv v1.36.0 names
tracer = provider.get_tracer("aw-fw.weather-bot", schema_url="https://opentelemetry.io/schemas/1.36.0")
TOOL_DESCRIPTION = {t["function"]["name"]: t["function"]["description"] for t in TOOLS}
client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)


def call_tool(tc, args):
    name = tc.function.name
    with tracer.start_as_current_span(f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.id": tc.id,
            "gen_ai.tool.description": TOOL_DESCRIPTION[name], "gen_ai.tool.type": "function"}):
        return weather(**args)  # v1.36 has no attribute for tool arguments / result


def run_task(question, tally):
    """One agent task = one trace. Returns the final answer (raises on model error)."""
    with tracer.start_as_current_span(f"invoke_agent {AGENT}", kind=SpanKind.INTERNAL, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.system": "openai", "gen_ai.agent.name": AGENT,
            "gen_ai.request.model": MODEL}) as span:
        tally["trace_id"] = format(span.get_span_context().trace_id, "032x")
        try:
            return chat_loop(client, openai, question, tally, call_tool,
                             lambda e: type(e).__qualname__)  # as the instrumentation's error.type
        except openai.APIError as e:
            span.set_attribute("error.type", type(e).__qualname__)
            raise  # start_as_current_span then sets status ERROR and adds an `exception` event


# the fake returned cache and reasoning counts (tallied) but 2.3b0 reads only prompt/completion tokens;
# the tool arguments are on no span (only in the gen_ai.choice / gen_ai.assistant.message log events)
tasks = run_two_tasks(run_task, openai, not_emitted=["tokens.cache_read", "tokens.reasoning"],
                      tool_args_recorded=False)
provider.force_flush()
logger_provider.force_flush()

vers = {p: version(p) for p in ("opentelemetry-instrumentation-openai-v2", "openai", "opentelemetry-sdk",
                                "opentelemetry-semantic-conventions")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + " (pre-1.37 GenAI conventions: gen_ai.system, content as log events); openai.OpenAI(max_retries=0) "
          "against a scripted stdlib fake Chat Completions server on 127.0.0.1 (../../fake_openai_server.py); "
          "record.py runs 2 weather-bot tasks: (1) get_weather tool call + final answer, (2) get_weather tool "
          "call then an HTTP 500 on the 2nd model call; chat spans from the instrumentation, invoke_agent and "
          "execute_tool spans HAND-MADE with the OTel tracer (semconv v1.36.0 names); "
          "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="
          + os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "") + ".")
write_fixture(outdir, exporter.get_finished_spans(), tasks, source)
logs = log_exporter.get_finished_logs()
with open(os.path.join(outdir, "logs.json"), "w") as f:
    json.dump(_hexify(MessageToDict(encode_logs(logs))), f, indent=1)
    f.write("\n")
print(f"wrote {len(logs)} log records (gen_ai.* events) to logs.json")
