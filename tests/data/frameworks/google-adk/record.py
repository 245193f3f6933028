"""Drive two weather-bot tasks through a Google ADK LlmAgent (ADK's built-in OTel tracing) run by
InMemoryRunner, its google-genai client pointed at the fake Gemini server (GOOGLE_GEMINI_BASE_URL);
write spans.json + expected.json.

usage: record.py SERVER_LOG OUTDIR   (record.sh sets GOOGLE_GEMINI_BASE_URL, GOOGLE_API_KEY=dummy)
ADK's tracer is `trace.get_tracer("gcp.vertex.agent")` at import of google.adk.telemetry.tracing, a proxy
of the GLOBAL provider: the SDK TracerProvider set here before any ADK import is the one it records to.
The tallies in expected.json come from what the fake server logged it returned (usageMetadata, model,
HTTP status) and from the tool function itself, never from the spans.
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

SERVICE = os.environ.get("AW_SERVICE", "aw-fw-google-adk")
exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

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
        # a failed model call is reported by the OTel SDK's record_exception on the generate_content span (and
        # repeated on every ancestor): exception.type = module.qualname; ADK sets error.type only on tool spans
        t = type(error)
        key = f"{t.__module__}.{t.__qualname__}"
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
    if not tally["models"]:  # the failed call returned no model; the request model is what spans carry
        tally["models"] = [MODEL]
    return answer, error, tally


a1, e1, t1 = run_task("s1", "What's the weather in Paris?")
assert e1 is None and a1 == "It is 18 C and cloudy in Paris.", (a1, e1)
a2, e2, t2 = run_task("s2", "What's the weather in Tokyo?")
assert isinstance(e2, errors.ServerError) and e2.code == 500, repr(e2)
assert sum(1 for line in read_log(server_log) if line["status"] == 500) == 1, "the 500 must not be retried"
provider.force_flush()

vers = {p: version(p) for p in ("google-adk", "google-genai", "opentelemetry-sdk")}
schema = os.environ.get("ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN", "")
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + f"; google.adk LlmAgent(name='{AGENT}', model='{MODEL}', tools=[get_weather]) run by InMemoryRunner "
          "(run_async, default RunConfig: no streaming), google-genai client pointed by GOOGLE_GEMINI_BASE_URL "
          "at a scripted stdlib fake Gemini API server on 127.0.0.1 (fake_gemini_server.py, "
          "POST /v1beta/models/gemini-2.5-flash:generateContent; usageMetadata with thoughtsTokenCount outside "
          "candidatesTokenCount); tracing = ADK's own OTel tracer (scope gcp.vertex.agent) on a global SDK "
          "TracerProvider + InMemorySpanExporter; ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=" + repr(schema)
          + (" (default = 2)" if not schema else "") + ", OTEL_SEMCONV_STABILITY_OPT_IN="
          + repr(os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")) + ", OTEL_INSTRUMENTATION_GENAI_CAPTURE_"
          "MESSAGE_CONTENT=" + repr(os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", ""))
          + "; 2 tasks: (1) get_weather tool call + final answer, (2) get_weather tool call then an HTTP 500 "
          "(no retry: google-genai's default retry_options=None) on the 2nd model call.")
write_fixture(outdir, exporter.get_finished_spans(), [t1, t2], source)
