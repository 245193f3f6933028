"""Drive two weather-bot tasks through a LangGraph prebuilt ReAct agent (create_react_agent(name='weather-bot'))
over langchain-openai ChatOpenAI, instrumented by openinference-instrumentation-langchain, against
../fake_openai_server.py; write spans.json + expected.json.

usage: record.py PORT OUTDIR SERVER_LOG
The graph runs the model / tool loop itself, so the tally of what the fake returned is read from the fake server's
request log (the lines each task added), the tool calls from the tool function itself.
"""
import os
import sys
import warnings
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
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-langchain"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from openinference.instrumentation.langchain import LangChainInstrumentor  # noqa: E402

LangChainInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

with warnings.catch_warnings():  # create_react_agent is deprecated in LangGraph 1.x in favour of langchain.agents
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent

current = {}


@tool
def get_weather(city: str) -> dict:
    """Current weather for a city."""
    t = current["tally"]
    t["tool_calls"] += 1
    t["tools"]["get_weather"] = t["tools"].get("get_weather", 0) + 1
    return weather(city)


llm = ChatOpenAI(model=MODEL, base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    agent = create_react_agent(llm, [get_weather], prompt="You are weather-bot.", name=AGENT)


def run_task(question, tally):
    current["tally"] = tally
    before = len(read_log(server_log))
    try:
        return agent.invoke({"messages": [("user", question)]})
    except openai.APIStatusError as e:
        # langchain-openai re-raises openai.InternalServerError as its subclass OpenAIAPIError; the spans' exception
        # events name it module-qualified (exception.type, see NOTES.md)
        key = f"{type(e).__module__}.{type(e).__qualname__}"
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
        raise
    finally:
        tally_replies(tally, read_log(server_log)[before:])
        if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
            tally["models"] = [MODEL]


t1 = new_tally()
r1 = run_task("What's the weather in Paris?", t1)
assert r1["messages"][-1].content == "It is 18 C and cloudy in Paris.", r1["messages"][-1]
t2 = new_tally()
try:
    run_task("What's the weather in Tokyo?", t2)
    raise SystemExit("expected the second task to fail")
except openai.InternalServerError:
    pass
tasks = [t1, t2]

provider.force_flush()
spans = exporter.get_finished_spans()
roots = [s for s in spans if s.parent is None]
assert len(roots) == 2, [s.name for s in roots]
for t, root in zip(tasks, sorted(roots, key=lambda s: s.start_time), strict=True):
    t["trace_id"] = format(root.context.trace_id, "032x")

vers = {p: version(p) for p in ("openinference-instrumentation-langchain", "openinference-instrumentation",
                                "langchain-core", "langchain-openai", "langgraph", "langgraph-prebuilt", "openai",
                                "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; LangChainInstrumentor().instrument(tracer_provider=...); langgraph.prebuilt.create_react_agent("
          "ChatOpenAI(model='gpt-4o-mini', base_url=http://127.0.0.1:PORT/v1, api_key='sk-dummy', max_retries=0), "
          "[@tool get_weather(city)], name='weather-bot') .invoke() against the scripted stdlib fake Chat "
          "Completions server (../fake_openai_server.py); 2 tasks: (1) get_weather tool call + final answer, "
          "(2) get_weather tool call then an HTTP 500 on the 2nd model call. Tallies from the fake's request log.")
write_fixture(outdir, spans, tasks, source)
