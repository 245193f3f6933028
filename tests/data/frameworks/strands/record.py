"""Drive two weather-bot tasks through a Strands Agent (its built-in OTel tracing) whose OpenAIModel
streams from the fake server (../fake_openai_stream_server.py); write spans.json + expected.json.

usage: record.py PORT SERVER_LOG OUTDIR
The tallies in expected.json come from what the fake server logged it returned (one JSON line per
request: usage, model, HTTP status) and from the tool function itself, never from the spans.
"""
import os
import sys
from importlib.metadata import version

port, server_log, outdir = sys.argv[1], sys.argv[2], sys.argv[3]
os.environ["OTEL_SERVICE_NAME"] = "aw-fw-strands"  # StrandsTelemetry's resource reads it

from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from strands.telemetry import StrandsTelemetry  # noqa: E402

telemetry = StrandsTelemetry()  # creates the SDK TracerProvider and sets it as the global one
exporter = InMemorySpanExporter()
telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))

import openai  # noqa: E402
from strands import Agent, tool  # noqa: E402
from strands.models.openai import OpenAIModel  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, MODEL, new_tally, read_log, weather, write_fixture  # noqa: E402

TOOL_RUNS = []


@tool
def get_weather(city: str) -> dict:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    TOOL_RUNS.append({"name": "get_weather", "args": {"city": city}})
    return weather(city)


def exc_type(e):
    """exception.type as the OTel SDK's record_exception writes it (module.qualname)."""
    t = type(e)
    return f"{t.__module__}.{t.__qualname__}" if t.__module__ not in (None, "builtins") else t.__qualname__


def run_task(question):
    """One Agent invocation = one trace. Returns (answer or None, tally)."""
    seen, spans_before, TOOL_RUNS[:] = len(read_log(server_log)), len(exporter.get_finished_spans()), []
    model = OpenAIModel(client_args={"base_url": f"http://127.0.0.1:{port}/v1", "api_key": "sk-dummy",
                                     "max_retries": 0}, model_id=MODEL)
    agent = Agent(name=AGENT, model=model, tools=[get_weather], system_prompt="You are weather-bot.",
                  callback_handler=None)
    tally, answer, error = new_tally(), None, None
    try:
        answer = str(agent(question)).strip()
    except Exception as e:
        error = e
    roots = [s for s in exporter.get_finished_spans()[spans_before:] if s.parent is None]
    assert len(roots) == 1, [s.name for s in roots]  # the invoke_agent span
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
        # the agent raises strands' EventLoopException wrapping the model's error; the failure is the
        # model call's, recorded on the chat span as exception.type=openai.InternalServerError (the
        # cycle and agent spans repeat it, partly as EventLoopException: NOTES.md) -> counted once, by it
        cause = error.__cause__ if type(error).__name__ == "EventLoopException" and error.__cause__ else error
        key = exc_type(cause)
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
    if not tally["models"]:  # the failed call returned no model; the request model is what spans carry
        tally["models"] = [MODEL]
    # OpenAIModel reads prompt_tokens, completion_tokens, total_tokens and cached_tokens only:
    # completion_tokens_details.reasoning_tokens is dropped, so no span carries it
    tally["not_emitted"] = ["tokens.reasoning"]
    return answer, error, tally


a1, e1, t1 = run_task("What's the weather in Paris?")
assert e1 is None and a1 == "It is 18 C and cloudy in Paris.", (a1, e1)
a2, e2, t2 = run_task("What's the weather in Tokyo?")
assert isinstance(e2.__cause__, openai.InternalServerError), repr(e2)
telemetry.tracer_provider.force_flush()

vers = {p: version(p) for p in ("strands-agents", "openai", "opentelemetry-sdk",
                                "opentelemetry-instrumentation-threading")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; strands Agent(name='weather-bot', tools=[@tool get_weather]) with "
          "strands.models.openai.OpenAIModel(model_id='gpt-4o-mini', client_args={base_url, max_retries=0}, "
          "streaming by default) against a scripted stdlib fake Chat Completions server on 127.0.0.1 that "
          "streams SSE chunks with a final usage chunk (../fake_openai_stream_server.py, replies from "
          "../fake_openai_server.py); tracing = Strands' built-in OTel tracer via StrandsTelemetry + "
          "InMemorySpanExporter; OTEL_SEMCONV_STABILITY_OPT_IN="
          + repr(os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")) + " (default); 2 tasks: (1) get_weather "
          "tool call + final answer, (2) get_weather tool call then an HTTP 500 on the 2nd model call.")
write_fixture(outdir, exporter.get_finished_spans(), [t1, t2], source)
