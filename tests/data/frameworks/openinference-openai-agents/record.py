"""Drive two weather-bot tasks through the OpenAI Agents SDK (Runner.run, Chat Completions model) instrumented by
openinference-instrumentation-openai-agents, against ../fake_openai_server.py; write spans.json + expected.json.

usage: record.py PORT OUTDIR SERVER_LOG
The SDK runs the model / tool loop itself, so the tally of what the fake returned is read from the fake server's
request log (the lines each task added), the tool calls from the tool function itself.
Only OpenInference's processor is registered with the SDK's tracing (the SDK's own OpenAI exporter is removed
before instrumenting, and the instrumentor replaces the processor list again: exclusive_processor=True).
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
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-openai-agents"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

import agents  # noqa: E402
import openai  # noqa: E402
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool  # noqa: E402
from agents.tracing import get_trace_provider  # noqa: E402
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor  # noqa: E402
from openinference.instrumentation.openai_agents._processor import OpenInferenceTracingProcessor  # noqa: E402

# drop the SDK's default BatchTraceProcessor (OpenAI backend exporter) first; instrument() then registers its own
# processor exclusively. Tracing stays enabled (set_tracing_disabled(True) would silence OpenInference too).
agents.set_trace_processors([])
OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
_procs = get_trace_provider()._multi_processor._processors
assert len(_procs) == 1 and isinstance(_procs[0], OpenInferenceTracingProcessor), _procs

client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)
current = {}


@function_tool
def get_weather(city: str) -> dict:
    """Current weather for a city."""
    t = current["tally"]
    t["tool_calls"] += 1
    t["tools"]["get_weather"] = t["tools"].get("get_weather", 0) + 1
    return weather(city)


agent = Agent(name=AGENT, instructions="You are weather-bot.", tools=[get_weather],
              model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client))


async def run_task(question, tally):
    current["tally"] = tally
    before = len(read_log(server_log))
    try:
        return await Runner.run(agent, question)
    except openai.APIStatusError as e:
        # one failure (openai.InternalServerError); no span carries its type (only status ERROR + message), so it
        # is keyed by agentwatch's bucket for untyped failures, see NOTES.md
        tally["errors"]["_OTHER"] = tally["errors"].get("_OTHER", 0) + 1
        assert isinstance(e, openai.InternalServerError), e
        raise
    finally:
        tally_replies(tally, read_log(server_log)[before:])
        if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
            tally["models"] = [MODEL]


async def main():
    # OpenInference puts only llm.token_count.prompt / .completion on the LLM span (no total, cache, reasoning)
    missing = ["tokens.cache_read", "tokens.reasoning"]
    t1 = new_tally(not_emitted=list(missing))
    r1 = await run_task("What's the weather in Paris?", t1)
    assert r1.final_output == "It is 18 C and cloudy in Paris.", r1.final_output
    t2 = new_tally(not_emitted=list(missing))
    try:
        await run_task("What's the weather in Tokyo?", t2)
        raise SystemExit("expected the second task to fail")
    except openai.InternalServerError:
        pass
    return [t1, t2]


tasks = asyncio.run(main())
provider.force_flush()
spans = exporter.get_finished_spans()
roots = [s for s in spans if s.parent is None]
assert len(roots) == 2, [s.name for s in roots]
for t, root in zip(tasks, sorted(roots, key=lambda s: s.start_time), strict=True):
    t["trace_id"] = format(root.context.trace_id, "032x")

vers = {p: version(p) for p in ("openinference-instrumentation-openai-agents", "openinference-instrumentation",
                                "openai-agents", "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; OpenAIAgentsInstrumentor().instrument(tracer_provider=...) (exclusive processor; the SDK's own "
          "OpenAI trace exporter removed with agents.set_trace_processors([]) first); Agent(name='weather-bot', "
          "tools=[@function_tool get_weather(city)], model=OpenAIChatCompletionsModel('gpt-4o-mini', openai_client="
          "openai.AsyncOpenAI(base_url=http://127.0.0.1:PORT/v1, api_key='sk-dummy', max_retries=0))) run with "
          "Runner.run against the scripted stdlib fake Chat Completions server (../fake_openai_server.py); 2 tasks: "
          "(1) get_weather tool call + final answer, (2) get_weather tool call then an HTTP 500 on the 2nd model "
          "call. Tallies from the fake's request log.")
write_fixture(outdir, spans, tasks, source)
