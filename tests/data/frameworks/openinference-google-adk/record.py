"""Drive two weather-bot tasks through a Google ADK LlmAgent run by InMemoryRunner, instrumented by
openinference-instrumentation-google-adk, its google-genai client pointed at the fake Gemini server
(../google-adk/fake_gemini_server.py, via GOOGLE_GEMINI_BASE_URL); write spans.json + expected.json.

usage: record.py SERVER_LOG OUTDIR   (record.sh sets GOOGLE_GEMINI_BASE_URL, GOOGLE_API_KEY=dummy)
The SDK TracerProvider is set as the GLOBAL provider before any ADK import (as a user would do), so ADK's own
tracer (scope gcp.vertex.agent, a proxy of the global provider) records to it too, unless the instrumentor
suppresses it (GoogleADKInstrumentor._disable_existing_tracers). AW_ADK_NATIVE=off additionally switches ADK's
native tracer to a no-op provider (see NOTES.md). The tallies in expected.json come from what the fake server
logged it returned (usageMetadata, modelVersion, HTTP status) and from the tool function, never from the spans.
"""
import asyncio
import os
import sys
from importlib.metadata import version

server_log, outdir = sys.argv[1], sys.argv[2]

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-google-adk"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
if os.environ.get("AW_ADK_NATIVE") != "off":
    trace.set_tracer_provider(provider)

from openinference.instrumentation.google_adk import GoogleADKInstrumentor  # noqa: E402

GoogleADKInstrumentor().instrument(tracer_provider=provider)

from google.adk.agents import LlmAgent  # noqa: E402
from google.adk.runners import InMemoryRunner  # noqa: E402
from google.genai import errors, types  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import new_tally, read_log, weather, write_fixture  # noqa: E402

AGENT, MODEL = "weather_bot", "gemini-2.5-flash"
TOOL_RUNS = []


def get_weather(city: str) -> dict:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    TOOL_RUNS.append({"name": "get_weather", "args": {"city": city}})
    return weather(city)


agent = LlmAgent(name=AGENT, model=MODEL, tools=[get_weather], instruction="You are weather-bot.")
runner = InMemoryRunner(agent=agent, app_name="aw-weather")


async def ask(session_id, question):
    await runner.session_service.create_session(app_name="aw-weather", user_id="u1", session_id=session_id)
    answer = None
    msg = types.Content(role="user", parts=[types.Part(text=question)])
    async for event in runner.run_async(user_id="u1", session_id=session_id, new_message=msg):
        if event.is_final_response() and event.content and event.content.parts:
            answer = "".join(p.text or "" for p in event.content.parts).strip()
    return answer


def run_task(session_id, question):
    """One runner.run_async = one trace. Returns (answer or None, error or None, tally)."""
    seen, spans_before, TOOL_RUNS[:] = len(read_log(server_log)), len(exporter.get_finished_spans()), []
    tally = new_tally(agent=AGENT)
    answer, error = None, None
    try:
        answer = asyncio.run(ask(session_id, question))
    except Exception as e:  # the model's HTTP 500 propagates out of run_async
        error = e
    roots = [s for s in exporter.get_finished_spans()[spans_before:] if s.parent is None]
    if os.environ.get("AW_ADK_NATIVE") != "off":
        assert len(roots) == 1, [s.name for s in roots]
    tally["trace_id"] = format(roots[0].context.trace_id, "032x")
    for line in read_log(server_log)[seen:]:
        tally["llm_calls"] += 1
        if line["status"] != 200:
            continue
        r, t = line["reply"], tally["tokens"]
        u = r["usageMetadata"]
        t["input"] += u["promptTokenCount"]  # Gemini's prompt count already includes the cached tokens
        # Gemini counts thoughts OUTSIDE candidatesTokenCount: output (incl. reasoning) = candidates + thoughts
        t["output"] += u["candidatesTokenCount"] + u["thoughtsTokenCount"]
        t["total"] += u["totalTokenCount"]  # what the provider reported (= prompt + candidates + thoughts)
        t["cache_read"] += u["cachedContentTokenCount"]
        t["reasoning"] += u["thoughtsTokenCount"]
        if r["modelVersion"] not in tally["models"]:
            tally["models"].append(r["modelVersion"])
    for run in TOOL_RUNS:
        tally["tool_calls"] += 1
        tally["tools"][run["name"]] = tally["tools"].get(run["name"], 0) + 1
    if error is not None:
        # the OTel SDK's record_exception writes exception.type = module.qualname
        t = type(error)
        key = f"{t.__module__}.{t.__qualname__}"
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
    if not tally["models"]:  # the failed call returned no model; the request model is what spans carry
        tally["models"] = [MODEL]
    if not os.environ.get("ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN"):
        # schema v2: one LLM span per run, each call overwriting the last one's usage (NOTES.md)
        tally["not_read"] = ["llm_calls", "tokens"]
    return answer, error, tally


a1, e1, t1 = run_task("s1", "What's the weather in Paris?")
assert e1 is None and a1 == "It is 18 C and cloudy in Paris.", (a1, e1)
a2, e2, t2 = run_task("s2", "What's the weather in Tokyo?")
assert isinstance(e2, errors.ServerError) and e2.code == 500, repr(e2)
assert sum(1 for line in read_log(server_log) if line["status"] == 500) == 1, "the 500 must not be retried"
provider.force_flush()

vers = {p: version(p) for p in ("openinference-instrumentation-google-adk", "openinference-instrumentation",
                                "openinference-semantic-conventions", "google-adk", "google-genai",
                                "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + f"; google.adk LlmAgent(name='{AGENT}', model='{MODEL}', tools=[get_weather]) run by InMemoryRunner "
          "(run_async, default RunConfig: no streaming), GoogleADKInstrumentor().instrument() on a global SDK "
          "TracerProvider + InMemorySpanExporter, google-genai client pointed by GOOGLE_GEMINI_BASE_URL at the "
          "scripted stdlib fake Gemini API server on 127.0.0.1 (../google-adk/fake_gemini_server.py, usageMetadata "
          "with thoughtsTokenCount outside candidatesTokenCount); ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN="
          + repr(os.environ.get("ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN", ""))
          + "; ADK's own tracer (scope gcp.vertex.agent) left on, as the instrumentor expects: it suppresses only "
          "ADK's start_as_current_span spans (generate_content, invoke_agent in that form) and writes its LLM "
          "attributes onto whatever native span is current, so both scopes are in the trace (see NOTES.md)"
          + "; 2 tasks: (1) get_weather tool call + final answer, (2) get_weather tool call then an HTTP 500 "
          "(no retry: ADK's default retry_options=None) on the 2nd model call.")
write_fixture(outdir, exporter.get_finished_spans(), [t1, t2], source)
