"""Drive two weather-bot tasks through a Microsoft Agent Framework `Agent` (its built-in observability:
agent_framework.observability) whose OpenAIChatCompletionClient talks to the shared fake Chat Completions
server (../fake_openai_server.py); write spans.json + expected.json.

usage: record.py PORT SERVER_LOG OUTDIR
The tallies in expected.json come from what the fake server logged it returned (one JSON line per
request: usage, model, HTTP status) and from the tool function itself, never from the spans.
"""
import asyncio
import os
import sys
from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

port, server_log, outdir = sys.argv[1], sys.argv[2], sys.argv[3]

# Our own global SDK provider. agent_framework.observability gets its tracer from the global provider
# (trace.get_tracer) on each span, so nothing else is needed; configure_otel_providers() is NOT called
# (it would build its own provider + exporters from OTEL_EXPORTER_OTLP_* / console settings).
exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-ms-agent-framework"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from agent_framework import Agent, tool  # noqa: E402
from agent_framework.observability import OBSERVABILITY_SETTINGS, enable_instrumentation  # noqa: E402
from agent_framework.openai import OpenAIChatCompletionClient  # noqa: E402
from openai import AsyncOpenAI, InternalServerError  # noqa: E402

# instrumentation is on by default; this also reads ENABLE_SENSITIVE_DATA (record.sh sets it to true)
enable_instrumentation()
assert OBSERVABILITY_SETTINGS.enable_instrumentation and OBSERVABILITY_SETTINGS.enable_sensitive_data
# OTEL_SEMCONV_STABILITY_OPT_IN unset -> MAF's default, the conventions above v1.36.0 ("latest");
# set without the gen_ai_latest_experimental token (record.sh: "") -> the v1.36.0 baseline
LATEST = OBSERVABILITY_SETTINGS.use_latest_experimental_gen_ai_semconv
assert ("OTEL_SEMCONV_STABILITY_OPT_IN" not in os.environ) == LATEST, os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, MODEL, new_tally, read_log, weather, write_fixture  # noqa: E402

TOOL_RUNS = []


@tool
def get_weather(city: str) -> dict:
    """Current weather for a city."""
    TOOL_RUNS.append({"name": "get_weather", "args": {"city": city}})
    return weather(city)


async def run_task(question):
    """One Agent.run = one trace. Returns (answer or None, error or None, tally)."""
    seen, spans_before, TOOL_RUNS[:] = len(read_log(server_log)), len(exporter.get_finished_spans()), []
    client = OpenAIChatCompletionClient(
        model=MODEL,
        async_client=AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0))
    agent = Agent(client=client, name=AGENT, instructions="You are weather-bot.", tools=[get_weather])
    tally, answer, error = new_tally(), None, None
    try:
        answer = (await agent.run(question)).text
    except Exception as e:
        error = e
    roots = [s for s in exporter.get_finished_spans()[spans_before:] if s.parent is None]
    assert len(roots) == 1, [s.name for s in roots]
    tally["trace_id"] = format(roots[0].context.trace_id, "032x")
    for line in read_log(server_log)[seen:]:
        tally["llm_calls"] += 1
        if line["status"] != 200:
            continue
        r, t = line["reply"], tally["tokens"]
        u = r["usage"]
        t["input"] += u["prompt_tokens"]          # OpenAI prompt_tokens already include cached tokens
        t["output"] += u["completion_tokens"]     # ... and completion_tokens include reasoning tokens
        t["total"] += u["total_tokens"]
        t["cache_read"] += u["prompt_tokens_details"]["cached_tokens"]
        t["reasoning"] += u["completion_tokens_details"]["reasoning_tokens"]
        if r["model"] not in tally["models"]:
            tally["models"].append(r["model"])
    for run in TOOL_RUNS:
        tally["tool_calls"] += 1
        tally["tools"][run["name"]] = tally["tools"].get(run["name"], 0) + 1
    if error is not None:
        # Agent.run raises agent_framework.exceptions.ChatClientException (its __cause__/inner_exception is
        # openai.InternalServerError); MAF's capture_exception writes error.type = type(exc).__name__ on the
        # chat span and again on the invoke_agent span -> one failure, counted once under that name
        key = type(error).__name__
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
    if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
        tally["models"] = [MODEL]
    if not LATEST:
        # v1.36.0 baseline: cache-read / reasoning usage and gen_ai.tool.call.arguments/result are
        # "latest"-only attributes (LATEST_EXPERIMENTAL_GEN_AI_ATTRIBUTES, emit_tool_call_attributes)
        tally["not_emitted"] = ["tokens.cache_read", "tokens.reasoning"]
        tally["tool_args_recorded"] = False
    return answer, error, tally


async def main():
    a1, e1, t1 = await run_task("What's the weather in Paris?")
    assert e1 is None and a1 == "It is 18 C and cloudy in Paris.", (a1, e1)
    _, e2, t2 = await run_task("What's the weather in Tokyo?")
    assert type(e2).__name__ == "ChatClientException" and isinstance(e2.__cause__, InternalServerError), repr(e2)
    return [t1, t2]


tasks = asyncio.run(main())
provider.force_flush()

vers = {p: version(p) for p in ("agent-framework-core", "agent-framework-openai", "openai", "opentelemetry-sdk")}
semconv = os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN")
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; agent_framework.Agent(name='weather-bot', tools=[@tool get_weather]) with "
          "agent_framework.openai.OpenAIChatCompletionClient(model='gpt-4o-mini', async_client=AsyncOpenAI(base_url, "
          "api_key='sk-dummy', max_retries=0)) (Chat Completions; in this version OpenAIChatClient is the Responses "
          "API client) against a scripted stdlib fake Chat Completions server on 127.0.0.1 (../fake_openai_server.py); "
          "tracing = agent_framework.observability (ENABLE_INSTRUMENTATION=true, ENABLE_SENSITIVE_DATA=true) into "
          "our own global SDK TracerProvider + InMemorySpanExporter (configure_otel_providers not called); "
          "OTEL_SEMCONV_STABILITY_OPT_IN=" + ("unset (MAF default: latest conventions)" if semconv is None
                                              else repr(semconv) + " (v1.36.0 baseline)")
          + "; 2 tasks: (1) get_weather tool call + final answer, (2) get_weather tool call then an HTTP 500 "
          "on the 2nd model call.")
write_fixture(outdir, exporter.get_finished_spans(), tasks, source)
