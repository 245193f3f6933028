"""Drive two weather-bot tasks through a Semantic Kernel ChatCompletionAgent (its built-in experimental GenAI
OTel diagnostics) whose OpenAIChatCompletion talks to the shared fake Chat Completions server
(../fake_openai_server.py); write spans.json + expected.json.

usage: record.py PORT SERVER_LOG OUTDIR
The tallies in expected.json come from what the fake server logged it returned (one JSON line per
request: usage, model, HTTP status) and from the tool function itself, never from the spans.
"""
import asyncio
import os
import sys
from importlib.metadata import version
from typing import Annotated

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

port, server_log, outdir = sys.argv[1], sys.argv[2], sys.argv[3]

# SK reads its diagnostics switches once, when its telemetry modules are imported (record.sh sets them)
assert os.environ.get("SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS") == "true"
SENSITIVE = os.environ.get("SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS_SENSITIVE") == "true"

# Our own global SDK provider: SK's tracers are trace.get_tracer(__name__) (global provider); SK has no
# exporter setup of its own.
exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-semantic-kernel"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from openai import AsyncOpenAI, InternalServerError  # noqa: E402
from semantic_kernel.agents import ChatCompletionAgent  # noqa: E402
from semantic_kernel.connectors.ai import FunctionChoiceBehavior  # noqa: E402
from semantic_kernel.connectors.ai.open_ai import OpenAIChatCompletion  # noqa: E402
from semantic_kernel.functions import kernel_function  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, MODEL, new_tally, read_log, weather, write_fixture  # noqa: E402

TOOL_RUNS = []
# SK names a plugin function "<plugin>-<function>": that is the name it advertises to the model
# (tools[].function.name in the request, checked below against the server log) and the tool it runs
TOOL = "WeatherPlugin-get_weather"


class WeatherPlugin:
    @kernel_function(name="get_weather", description="Current weather for a city")
    def get_weather(self, city: Annotated[str, "The city name"]) -> dict:
        TOOL_RUNS.append({"name": TOOL, "args": {"city": city}})
        return weather(city)


async def run_task(question):
    """One agent.get_response = one trace. Returns (answer or None, error or None, tally)."""
    seen, spans_before, TOOL_RUNS[:] = len(read_log(server_log)), len(exporter.get_finished_spans()), []
    service = OpenAIChatCompletion(
        ai_model_id=MODEL,
        async_client=AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0))
    agent = ChatCompletionAgent(name=AGENT, instructions="You are weather-bot.", service=service,
                                plugins=[WeatherPlugin()], function_choice_behavior=FunctionChoiceBehavior.Auto())
    tally, answer, error = new_tally(), None, None
    try:
        answer = str((await agent.get_response(messages=question)).message.content)
    except Exception as e:
        error = e
    roots = [s for s in exporter.get_finished_spans()[spans_before:] if s.parent is None]
    assert len(roots) == 1, [s.name for s in roots]
    tally["trace_id"] = format(roots[0].context.trace_id, "032x")
    for line in read_log(server_log)[seen:]:
        assert [t["function"]["name"] for t in line["request"]["tools"]] == [TOOL], line["request"]
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
        # get_response raises semantic_kernel.exceptions.ServiceResponseException wrapping (__cause__)
        # openai.InternalServerError; SK reports it under 3 spellings (NOTES.md); counted once, under the
        # failed chat span's error.type, str(type(exc)) = "<class 'module.Class'>", read as module.Class
        key = f"{type(error).__module__}.{type(error).__qualname__}"
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
    if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
        tally["models"] = [MODEL]
    # SK's chat span carries only prompt_tokens / completion_tokens: the fake's cached_tokens and
    # reasoning_tokens (parsed into CompletionUsage) are put on no span
    tally["not_emitted"] = ["tokens.cache_read", "tokens.reasoning"]
    tally["tool_args_recorded"] = SENSITIVE  # gen_ai.tool.call.arguments is set only in sensitive mode
    return answer, error, tally


async def main():
    a1, e1, t1 = await run_task("What's the weather in Paris?")
    assert e1 is None and a1 == "It is 18 C and cloudy in Paris.", (a1, e1)
    _, e2, t2 = await run_task("What's the weather in Tokyo?")
    assert type(e2).__name__ == "ServiceResponseException" and isinstance(e2.__cause__, InternalServerError), repr(e2)
    return [t1, t2]


tasks = asyncio.run(main())
provider.force_flush()

vers = {p: version(p) for p in ("semantic-kernel", "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; semantic_kernel.agents.ChatCompletionAgent(name='weather-bot', plugins=[WeatherPlugin "
          "(@kernel_function get_weather)], function_choice_behavior=FunctionChoiceBehavior.Auto()) with "
          "OpenAIChatCompletion(ai_model_id='gpt-4o-mini', async_client=AsyncOpenAI(base_url, api_key='sk-dummy', "
          "max_retries=0)), agent.get_response(messages=...), against a scripted stdlib fake Chat Completions server "
          "on 127.0.0.1 (../fake_openai_server.py); tracing = SK's experimental GenAI diagnostics "
          "(SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS=true, ..._SENSITIVE=" + str(SENSITIVE).lower()
          + ") into our own global "
          "SDK TracerProvider + InMemorySpanExporter; 2 tasks: (1) get_weather tool call + final answer, "
          "(2) get_weather tool call then an HTTP 500 on the 2nd model call.")
write_fixture(outdir, exporter.get_finished_spans(), tasks, source)
