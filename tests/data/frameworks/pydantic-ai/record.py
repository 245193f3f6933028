"""Drive two weather-bot tasks through a Pydantic AI Agent with its built-in OTel instrumentation
(Agent.instrument_all(InstrumentationSettings(tracer_provider=...)), default data-format version),
against ../fake_openai_server.py; write spans.json + expected.json.

usage: record.py PORT OUTDIR SERVER_LOG
Pydantic AI runs the model / tool loop itself, so the tally of what the fake returned is read from the
fake server's request log (the lines each task added), the tool calls from the tool function itself.
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, MODEL, new_tally, read_log, tally_replies, weather, write_fixture

port, outdir, server_log = sys.argv[1], sys.argv[2], sys.argv[3]

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-pydantic-ai"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

import openai  # noqa: E402
from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.exceptions import ModelAPIError  # noqa: E402
from pydantic_ai.models.instrumented import InstrumentationSettings  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402

# record.sh leaves version= and use_aggregated_usage_attribute_names= at their defaults (5, True);
# AW_PA_VERSION / AW_PA_AGGREGATED=0 only serve to compare the other formats (see NOTES.md)
_opts = {}
if os.environ.get("AW_PA_VERSION"):
    _opts["version"] = int(os.environ["AW_PA_VERSION"])
if os.environ.get("AW_PA_AGGREGATED") == "0":
    _opts["use_aggregated_usage_attribute_names"] = False
settings = InstrumentationSettings(tracer_provider=provider, **_opts)
Agent.instrument_all(settings)

# max_retries=0 so task 2's HTTP 500 fails once (an openai_client excludes base_url/api_key on the provider)
client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)
model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))
agent = Agent(model, name=AGENT, instructions="You are weather-bot.")

current = {}


@agent.tool_plain
def get_weather(city: str) -> dict:
    """Current weather for a city."""
    t = current["tally"]
    t["tool_calls"] += 1
    t["tools"]["get_weather"] = t["tools"].get("get_weather", 0) + 1
    return weather(city)


async def run_task(question, tally):
    current["tally"] = tally
    before = len(read_log(server_log))
    try:
        return await agent.run(question)
    except ModelAPIError as e:
        # as the spans report it: exception event exception.type (module-qualified; there is no error.type)
        key = f"{type(e).__module__}.{type(e).__qualname__}"
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
        raise
    finally:
        tally_replies(tally, read_log(server_log)[before:])
        if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
            tally["models"] = [MODEL]


async def main():
    t1 = new_tally()
    r1 = await run_task("What's the weather in Paris?", t1)
    assert r1.output == "It is 18 C and cloudy in Paris.", r1.output
    t2 = new_tally()
    try:
        await run_task("What's the weather in Tokyo?", t2)
        raise SystemExit("expected the second task to fail")
    except ModelAPIError:
        pass
    return [t1, t2]


tasks = asyncio.run(main())
provider.force_flush()
spans = exporter.get_finished_spans()
roots = [s for s in spans if s.parent is None]
assert len(roots) == 2, [s.name for s in roots]
for t, root in zip(tasks, sorted(roots, key=lambda s: s.start_time), strict=True):
    t["trace_id"] = format(root.context.trace_id, "032x")

vers = {p: version(p) for p in ("pydantic-ai-slim", "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; pydantic-ai built-in instrumentation via "
          "Agent.instrument_all(InstrumentationSettings(tracer_provider=...)), "
          f"data format version={settings.version} (the default), use_aggregated_usage_attribute_names="
          f"{settings.use_aggregated_usage_attribute_names} (default), include_content=True; "
          "Agent(name='weather-bot') with one "
          "@agent.tool_plain get_weather(city), OpenAIChatModel('gpt-4o-mini', provider=OpenAIProvider(openai_client="
          "openai.AsyncOpenAI(base_url=http://127.0.0.1:PORT/v1, api_key='sk-dummy', max_retries=0))) against the "
          "scripted stdlib fake Chat Completions server (../fake_openai_server.py); 2 tasks: (1) get_weather tool "
          "call + final answer, (2) get_weather tool call then an HTTP 500 on the 2nd model call. "
          "Tallies from the fake's request log.")
write_fixture(outdir, spans, tasks, source)
