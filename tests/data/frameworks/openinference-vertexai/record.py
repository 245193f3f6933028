"""Drive two weather-bot tasks by hand through the Vertex AI SDK (google-cloud-aiplatform:
vertexai.generative_models.GenerativeModel('gemini-2.5-flash') with a function tool get_weather, a manual
two-turn function-calling loop) instrumented by openinference-instrumentation-vertexai, against the scripted
fake Vertex REST endpoint (fake_vertex_server.py, plain http on 127.0.0.1); write spans.json + expected.json.

usage: record.py PORT SERVER_LOG OUTDIR
vertexai.init(api_endpoint='http://127.0.0.1:PORT', api_transport='rest', AnonymousCredentials): the GAPIC REST
transport keeps an explicit http:// scheme (transports/rest_base.py: `maybe_url_match`), so no TLS is needed.
The AGENT and TOOL spans are made with OpenInference's own tracer helpers (OITracer, openinference_span_kind=...),
as in ../openinference-google-genai. The tallies in expected.json come from what the fake server logged it
returned (usageMetadata, modelVersion, HTTP status) and from the tool runs, never from the spans.
"""
import os
import sys
import warnings
from importlib.metadata import version

from openinference.instrumentation import TracerProvider
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import WEATHER_SCHEMA, new_tally, read_log, weather, write_fixture

port, server_log, outdir = sys.argv[1], sys.argv[2], sys.argv[3]

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-vertexai"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from openinference.instrumentation.vertexai import VertexAIInstrumentor  # noqa: E402

# before the first GenerativeModel call: the instrumentor wraps google.api_core.gapic_v1.method.wrap_method,
# which the transport calls when the prediction client is created (lazily, on the first generate_content)
VertexAIInstrumentor().instrument(tracer_provider=provider)

import google.auth.credentials  # noqa: E402
import vertexai  # noqa: E402
from google.api_core import exceptions as gexc  # noqa: E402

warnings.filterwarnings("ignore", message=".*deprecated.*")
from vertexai.generative_models import (  # noqa: E402
    Content,
    FunctionDeclaration,
    GenerativeModel,
    Part,
    Tool,
)

AGENT, MODEL = "weather_bot", "gemini-2.5-flash"
vertexai.init(project="p", location="us-central1", api_endpoint=f"http://127.0.0.1:{port}", api_transport="rest",
              credentials=google.auth.credentials.AnonymousCredentials())
tracer = provider.get_tracer("aw-fw-weather-bot")
TOOL = Tool(function_declarations=[FunctionDeclaration(
    name="get_weather", description="Current weather for a city", parameters=WEATHER_SCHEMA)])
# the prediction service's generate_content has no default retry (transports/base.py: wrap_method without
# default_retry), and GenerativeModel passes none: the HTTP 500 is raised after one attempt
model = GenerativeModel(MODEL, system_instruction="You are weather-bot.", tools=[TOOL])


def exc_type(e):
    """exception.type as the OTel SDK's record_exception writes it (module.qualname)."""
    return f"{type(e).__module__}.{type(e).__qualname__}"


def call_tool(fc):
    args = dict(fc.args)
    with tracer.start_as_current_span(fc.name, openinference_span_kind="tool") as tool:
        tool.set_tool(name=fc.name, description="Current weather for a city", parameters=WEATHER_SCHEMA)
        tool.set_input(args)  # dict -> input.value JSON + input.mime_type application/json
        result = weather(**args)
        tool.set_output(result)
    return result


def chat_loop(question, tally):
    contents = [Content(role="user", parts=[Part.from_text(question)])]
    for _ in range(3):
        try:
            resp = model.generate_content(contents)
        except gexc.GoogleAPICallError as e:
            tally["errors"][exc_type(e)] = tally["errors"].get(exc_type(e), 0) + 1
            raise
        calls = resp.candidates[0].function_calls
        if not calls:
            return resp.text
        contents.append(resp.candidates[0].content)
        parts = []
        for fc in calls:
            result = call_tool(fc)
            tally["tool_calls"] += 1
            tally["tools"][fc.name] = tally["tools"].get(fc.name, 0) + 1
            parts.append(Part.from_function_response(name=fc.name, response=result))
        contents.append(Content(role="user", parts=parts))
    raise RuntimeError("agent did not finish")


def tally_server(tally, lines):
    """What the fake returned to this task (one log line per model call)."""
    t = tally["tokens"]
    for line in lines:
        tally["llm_calls"] += 1
        if line["status"] != 200:
            continue
        r = line["reply"]
        u = r["usageMetadata"]
        t["input"] += u["promptTokenCount"]  # includes the cached tokens
        t["output"] += u["candidatesTokenCount"] + u["thoughtsTokenCount"]  # Gemini: thoughts are outside candidates
        t["total"] += u["totalTokenCount"]  # as reported (= prompt + candidates + thoughts)
        t["cache_read"] += u["cachedContentTokenCount"]
        t["reasoning"] += u["thoughtsTokenCount"]
        if r["modelVersion"] not in tally["models"]:
            tally["models"].append(r["modelVersion"])


def run_task(question):
    """One agent task = one trace. Returns (answer or None, error or None, tally)."""
    # cachedContentTokenCount is on no span (_parse_usage_metadata reads prompt/candidates/total only); the
    # thoughts are not on any span either, but total - prompt - completion gives them back (see NOTES.md)
    tally, answer, error = new_tally(agent=AGENT, not_emitted=["tokens.cache_read"]), None, None
    seen = len(read_log(server_log))
    try:
        with tracer.start_as_current_span(AGENT, openinference_span_kind="agent") as agent:
            agent.set_attribute("agent.name", AGENT)
            agent.set_input(question)
            tally["trace_id"] = format(agent.get_span_context().trace_id, "032x")
            answer = chat_loop(question, tally)
            agent.set_output(answer)
    except gexc.GoogleAPICallError as e:
        error = e
    tally_server(tally, read_log(server_log)[seen:])
    if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
        tally["models"] = [MODEL]
    return answer, error, tally


a1, e1, t1 = run_task("What's the weather in Paris?")
assert e1 is None and a1 == "It is 18 C and cloudy in Paris.", (a1, e1)
a2, e2, t2 = run_task("What's the weather in Tokyo?")
assert isinstance(e2, gexc.InternalServerError), repr(e2)
assert sum(1 for line in read_log(server_log) if line["status"] == 500) == 1, "the 500 must not be retried"
provider.force_flush()

vers = {p: version(p) for p in ("openinference-instrumentation-vertexai", "openinference-instrumentation",
                                "openinference-semantic-conventions", "google-cloud-aiplatform", "google-api-core",
                                "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; vertexai.init(project='p', location='us-central1', api_endpoint='http://127.0.0.1:PORT', "
          "api_transport='rest', credentials=AnonymousCredentials()); vertexai.generative_models.GenerativeModel("
          "'gemini-2.5-flash', system_instruction, tools=[Tool(FunctionDeclaration get_weather)]).generate_content "
          "in a manual function-calling loop against a scripted stdlib fake Vertex REST server on 127.0.0.1 "
          "(fake_vertex_server.py, POST /v1/projects/p/locations/us-central1/publishers/google/models/"
          "gemini-2.5-flash:generateContent; usageMetadata with thoughtsTokenCount outside candidatesTokenCount, "
          "totalTokenCount = prompt + candidates + thoughts, cachedContentTokenCount); 2 weather-bot tasks: "
          "(1) get_weather tool call + final answer, (2) get_weather tool call then an HTTP 500 on the 2nd model "
          "call (not retried: no default retry on generate_content); AGENT/TOOL spans via OpenInference's OITracer "
          "(default content capture).")
write_fixture(outdir, exporter.get_finished_spans(), [t1, t2], source)
