"""Drive two weather-bot tasks through a llama-index FunctionAgent(name='weather-bot') over llama-index-llms-openai
OpenAI, instrumented by openinference-instrumentation-llama-index, against ../fake_openai_stream_server.py;
write spans.json + expected.json.

usage: record.py PORT OUTDIR SERVER_LOG STREAMING(1|0)
The agent workflow runs the model / tool loop itself, so the tally of what the fake returned is read from the fake
server's request log (the lines each task added), the tool calls from the tool function itself. With STREAMING=1
(FunctionAgent's default) llama-index sends `stream: true` without `stream_options`, so the fake sends no usage
and the tally has no tokens; with 0 the agent calls the non-streaming API and gets the full usage.
"""
import asyncio
import json
import os
import socket
import sys
from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import AGENT, MODEL, new_tally, weather, write_fixture

port, outdir, server_log, streaming = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"

# Nothing may leave loopback: refuse (and record) any other lookup or connection. llama-index's memory needs a
# tiktoken encoding; it ships one (llama_index/core/_static/tiktoken_cache, used when TIKTOKEN_CACHE_DIR is unset).
LOOPBACK, blocked = {"127.0.0.1", "::1", "localhost"}, []
_getaddrinfo, _connect = socket.getaddrinfo, socket.socket.connect


def _guard_getaddrinfo(host, *a, **k):
    if host is not None and (host.decode() if isinstance(host, bytes) else host) not in LOOPBACK:
        blocked.append(f"lookup {host}")
        raise socket.gaierror(socket.EAI_NONAME, f"record.py: non-loopback lookup of {host} refused")
    return _getaddrinfo(host, *a, **k)


def _guard_connect(self, addr):
    if isinstance(addr, tuple) and addr[0] not in LOOPBACK:
        blocked.append(f"connect {addr}")
        raise OSError(f"record.py: non-loopback connect to {addr} refused")
    return _connect(self, addr)


socket.getaddrinfo, socket.socket.connect = _guard_getaddrinfo, _guard_connect

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-llamaindex"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from openinference.instrumentation.llama_index import LlamaIndexInstrumentor  # noqa: E402

LlamaIndexInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402
from llama_index.core.agent.workflow import FunctionAgent  # noqa: E402
from llama_index.core.tools import FunctionTool  # noqa: E402
from llama_index.llms.openai import OpenAI  # noqa: E402

current = {}


def get_weather(city: str) -> dict:
    """Current weather for a city."""
    t = current["tally"]
    t["tool_calls"] += 1
    t["tools"]["get_weather"] = t["tools"].get("get_weather", 0) + 1
    return weather(city)


llm = OpenAI(model=MODEL, api_base=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)
agent = FunctionAgent(name=AGENT, description="Answers weather questions.", system_prompt="You are weather-bot.",
                      tools=[FunctionTool.from_defaults(fn=get_weather)], llm=llm, streaming=streaming)


def log_lines():
    if not os.path.exists(server_log):  # the fake creates it on its first request
        return []
    with open(server_log) as f:
        return [json.loads(line) for line in f if line.strip()]


def tally_server(tally, lines):
    """What the fake returned for this task's model calls (every request is one model call)."""
    tk = tally["tokens"]
    for rec in lines:
        tally["llm_calls"] += 1
        reply = rec["reply"]
        if rec["status"] != 200:
            continue
        if reply["model"] not in tally["models"]:
            tally["models"].append(reply["model"])
        if not rec["usage_sent"]:  # a plain streaming request: the fake (as OpenAI) sent no usage
            continue
        u = reply["usage"]
        tk["input"] += u["prompt_tokens"]
        tk["output"] += u["completion_tokens"]
        tk["total"] += u["total_tokens"]
        tk["cache_read"] += u["prompt_tokens_details"]["cached_tokens"]
        tk["reasoning"] += u["completion_tokens_details"]["reasoning_tokens"]


async def run_task(question, tally):
    current["tally"] = tally
    before = len(log_lines())
    try:
        return await agent.run(user_msg=question)
    except openai.APIStatusError as e:
        key = f"{type(e).__module__}.{type(e).__qualname__}"  # as the spans' exception.type names it
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
        raise
    finally:
        tally_server(tally, log_lines()[before:])
        if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
            tally["models"] = [MODEL]


def new_task():
    # the agent's name is on no span as an attribute (only inside Python reprs in CHAIN spans' output.value)
    return new_tally(not_emitted=["agent"])


async def main():
    """Both tasks in one event loop: the LLM reuses its async client, whose pooled connections belong to a loop."""
    t1 = new_task()
    r1 = await run_task("What's the weather in Paris?", t1)
    assert str(r1) == "It is 18 C and cloudy in Paris.", r1
    t2 = new_task()
    try:
        await run_task("What's the weather in Tokyo?", t2)
        raise SystemExit("expected the second task to fail")
    except openai.InternalServerError:
        pass
    return [t1, t2]


tasks = asyncio.run(main())

provider.force_flush()
assert not blocked, f"non-loopback network use: {blocked}"
spans = exporter.get_finished_spans()
roots = [s for s in spans if s.parent is None]
print("roots:", [s.name for s in roots])
trace_ids = []
for s in sorted(spans, key=lambda s: s.start_time):
    if s.context.trace_id not in trace_ids:
        trace_ids.append(s.context.trace_id)
assert len(trace_ids) == 2, len(trace_ids)
for t, tid in zip(tasks, trace_ids, strict=True):
    t["trace_id"] = format(tid, "032x")

vers = {p: version(p) for p in ("openinference-instrumentation-llama-index", "openinference-instrumentation",
                                "llama-index-core", "llama-index-llms-openai", "llama-index-workflows", "openai",
                                "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; LlamaIndexInstrumentor().instrument(tracer_provider=...); llama_index.core.agent.workflow."
          f"FunctionAgent(name='weather-bot', tools=[FunctionTool get_weather(city)], streaming={streaming}, "
          "llm=OpenAI(model='gpt-4o-mini', api_base=http://127.0.0.1:PORT/v1, api_key='sk-dummy', max_retries=0))"
          ".run(user_msg=...) against a scripted stdlib fake Chat Completions server (../fake_openai_stream_server.py, "
          "the shared ../fake_openai_server.py script, SSE when stream=true; usage only when include_usage is asked); "
          "2 tasks: (1) get_weather tool call + final answer, (2) get_weather tool call then an HTTP 500 on the 2nd "
          "model call. Tallies from the fake's request log.")
write_fixture(outdir, spans, tasks, source)
