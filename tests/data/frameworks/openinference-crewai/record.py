"""Drive two weather-bot tasks through a CrewAI crew (one Agent(role='weather-bot') with one tool get_weather, one
Task, Crew.kickoff()) over crewai.LLM('openai/gpt-4o-mini'), instrumented by openinference-instrumentation-crewai
plus openinference-instrumentation-openai (CrewAI >= 1.0 calls OpenAI models through the `openai` SDK, not LiteLLM),
against ../fake_openai_server.py; write spans.json + expected.json.

usage: record.py PORT OUTDIR SERVER_LOG
CrewAI runs the model / tool loop itself, so the tally of what the fake returned is read from the fake server's
request log (the lines each task added), the tool calls from the tool function itself.
"""
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
from weather_bot import AGENT, MODEL, new_tally, read_log, tally_replies, weather, write_fixture

port, outdir, server_log = sys.argv[1], sys.argv[2], sys.argv[3]

# Nothing may leave loopback: refuse (and record) any other lookup or connection (CrewAI's own telemetry and
# tracing are switched off in record.sh; this proves it).
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
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-crewai"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from openinference.instrumentation.crewai import CrewAIInstrumentor  # noqa: E402
from openinference.instrumentation.openai import OpenAIInstrumentor  # noqa: E402

CrewAIInstrumentor().instrument(tracer_provider=provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402
from crewai import LLM, Agent, Crew, Task  # noqa: E402
from crewai.tools import tool  # noqa: E402

current = {}


@tool("get_weather")
def get_weather(city: str) -> dict:
    """Current weather for a city."""
    t = current["tally"]
    t["tool_calls"] += 1
    t["tools"]["get_weather"] = t["tools"].get("get_weather", 0) + 1
    return weather(city)


# max_retries=0: the openai SDK would otherwise resend the 500 twice inside ONE instrumented call (one span, three
# requests). max_retry_limit=0: CrewAI would otherwise re-run the whole failed task twice (see NOTES.md).
llm = LLM(model=f"openai/{MODEL}", base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-dummy", max_retries=0)
agent = Agent(role=AGENT, goal="Answer weather questions", backstory="You are weather-bot.", tools=[get_weather],
              llm=llm, max_retry_limit=0)


def run_task(question, tally):
    current["tally"] = tally
    before = len(read_log(server_log))
    task = Task(description=question, expected_output="One sentence about the weather.", agent=agent)
    try:
        return Crew(agents=[agent], tasks=[task], tracing=False).kickoff()
    except openai.APIStatusError as e:
        key = f"{type(e).__module__}.{type(e).__qualname__}"  # as the spans' exception.type names it
        tally["errors"][key] = tally["errors"].get(key, 0) + 1
        raise
    finally:
        tally_replies(tally, read_log(server_log)[before:])
        if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
            tally["models"] = [MODEL]


t1 = new_tally()
r1 = run_task("What's the weather in Paris?", t1)
assert r1.raw == "It is 18 C and cloudy in Paris.", r1.raw
t2 = new_tally()
try:
    run_task("What's the weather in Tokyo?", t2)
    raise SystemExit("expected the second task to fail")
except openai.InternalServerError:
    pass
tasks = [t1, t2]

provider.force_flush()
assert not blocked, f"non-loopback network use: {blocked}"
spans = exporter.get_finished_spans()
roots = [s for s in spans if s.parent is None]
assert len(roots) == 2, [s.name for s in roots]
for t, root in zip(tasks, sorted(roots, key=lambda s: s.start_time), strict=True):
    t["trace_id"] = format(root.context.trace_id, "032x")

vers = {p: version(p) for p in ("openinference-instrumentation-crewai", "openinference-instrumentation-openai",
                                "openinference-instrumentation", "crewai", "openai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; CrewAIInstrumentor().instrument(tracer_provider=...) (default wrapper mode) + OpenAIInstrumentor()"
          ".instrument(tracer_provider=...); Crew(agents=[Agent(role='weather-bot', tools=[@tool get_weather(city)], "
          "max_retry_limit=0, llm=crewai.LLM(model='openai/gpt-4o-mini', base_url=http://127.0.0.1:PORT/v1, "
          "api_key='sk-dummy', max_retries=0))], tasks=[Task(...)], tracing=False).kickoff() against the scripted "
          "stdlib fake Chat Completions server (../fake_openai_server.py); 2 tasks (one crew kickoff each): "
          "(1) get_weather tool call + final answer, (2) get_weather tool call then an HTTP 500 on the 2nd model "
          "call; CREWAI_DISABLE_TELEMETRY=true, CREWAI_TRACING_ENABLED=false. Tallies from the fake's request log.")
write_fixture(outdir, spans, tasks, source)
