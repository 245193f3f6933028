"""Drive two weather-bot tasks by hand through the plain `google-genai` client (function declaration
get_weather, a manual function-calling loop) instrumented by openinference-instrumentation-google-genai,
against the fake Gemini server (../google-adk/fake_gemini_server.py); write spans.json + expected.json.

usage: record.py PORT OUTDIR
The AGENT and TOOL spans are made with OpenInference's own tracer helpers
(openinference.instrumentation.TracerProvider -> OITracer, openinference_span_kind=...), as in
../openinference-openai. The tallies in expected.json come from the responses the client got back
(usage_metadata, model_version) and from the tool runs, never from the spans.
"""
import os
import sys
from importlib.metadata import version

from openinference.instrumentation import TracerProvider
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weather_bot import WEATHER_SCHEMA, new_tally, weather, write_fixture

port, outdir = sys.argv[1], sys.argv[2]

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "aw-fw-openinference-google-genai"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor  # noqa: E402

GoogleGenAIInstrumentor().instrument(tracer_provider=provider)

from google import genai  # noqa: E402
from google.genai import errors, types  # noqa: E402

AGENT, MODEL = "weather_bot", "gemini-2.5-flash"
tracer = provider.get_tracer("aw-fw-weather-bot")
# attempts=1: the HTTP 500 is not retried (one failed call, one span); no retry_options would also mean no retry
client = genai.Client(api_key="dummy", http_options=types.HttpOptions(
    base_url=f"http://127.0.0.1:{port}", retry_options=types.HttpRetryOptions(attempts=1)))
CONFIG = types.GenerateContentConfig(
    system_instruction="You are weather-bot.",
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Current weather for a city", parameters_json_schema=WEATHER_SCHEMA)])],
)


def exc_type(e):
    """exception.type as the OTel SDK's record_exception writes it (module.qualname)."""
    return f"{type(e).__module__}.{type(e).__qualname__}"


def call_tool(fc):
    with tracer.start_as_current_span(fc.name, openinference_span_kind="tool") as tool:
        tool.set_tool(name=fc.name, description="Current weather for a city", parameters=WEATHER_SCHEMA)
        if fc.id:
            tool.set_attribute("tool_call.id", fc.id)
        tool.set_input(dict(fc.args))  # dict -> input.value JSON + input.mime_type application/json
        result = weather(**fc.args)
        tool.set_output(result)
    return result


def chat_loop(question, tally):
    contents = [types.Content(role="user", parts=[types.Part(text=question)])]
    for _ in range(3):
        try:
            resp = client.models.generate_content(model=MODEL, contents=contents, config=CONFIG)
        except errors.APIError as e:
            tally["llm_calls"] += 1
            tally["errors"][exc_type(e)] = tally["errors"].get(exc_type(e), 0) + 1
            raise
        tally["llm_calls"] += 1
        u, t = resp.usage_metadata, tally["tokens"]
        t["input"] += u.prompt_token_count  # includes the cached tokens
        t["output"] += u.candidates_token_count + u.thoughts_token_count  # Gemini: thoughts are outside candidates
        t["total"] += u.total_token_count  # as reported (= prompt + candidates + thoughts)
        t["cache_read"] += u.cached_content_token_count
        t["reasoning"] += u.thoughts_token_count
        if resp.model_version not in tally["models"]:
            tally["models"].append(resp.model_version)
        if not resp.function_calls:
            return resp.text
        contents.append(resp.candidates[0].content)
        parts = []
        for fc in resp.function_calls:
            result = call_tool(fc)
            tally["tool_calls"] += 1
            tally["tools"][fc.name] = tally["tools"].get(fc.name, 0) + 1
            parts.append(types.Part.from_function_response(name=fc.name, response=result))
        contents.append(types.Content(role="user", parts=parts))
    raise RuntimeError("agent did not finish")


def run_task(question):
    """One agent task = one trace. Returns (answer or None, error or None, tally)."""
    tally, answer, error = new_tally(agent=AGENT), None, None
    try:
        with tracer.start_as_current_span(AGENT, openinference_span_kind="agent") as agent:
            agent.set_attribute("agent.name", AGENT)
            agent.set_input(question)
            tally["trace_id"] = format(agent.get_span_context().trace_id, "032x")
            answer = chat_loop(question, tally)
            agent.set_output(answer)
    except errors.APIError as e:
        error = e
    if not tally["models"]:  # the failed call returned no model; the request model is what its span carries
        tally["models"] = [MODEL]
    return answer, error, tally


a1, e1, t1 = run_task("What's the weather in Paris?")
assert e1 is None and a1 == "It is 18 C and cloudy in Paris.", (a1, e1)
a2, e2, t2 = run_task("What's the weather in Tokyo?")
assert isinstance(e2, errors.ServerError) and e2.code == 500, repr(e2)
provider.force_flush()

vers = {p: version(p) for p in ("openinference-instrumentation-google-genai", "openinference-instrumentation",
                                "openinference-semantic-conventions", "google-genai", "opentelemetry-sdk")}
source = ("Recorded: " + ", ".join(f"{k}=={v}" for k, v in vers.items())
          + "; google.genai.Client(api_key='dummy', http_options=HttpOptions(base_url=fake, "
          "retry_options=HttpRetryOptions(attempts=1))).models.generate_content(model='gemini-2.5-flash', "
          "tools=[FunctionDeclaration get_weather]) in a manual function-calling loop against a scripted stdlib "
          "fake Gemini API server on 127.0.0.1 (../google-adk/fake_gemini_server.py, usageMetadata with "
          "thoughtsTokenCount outside candidatesTokenCount); 2 weather-bot tasks: (1) get_weather tool call + "
          "final answer, (2) get_weather tool call then an HTTP 500 on the 2nd model call; AGENT/TOOL spans via "
          "OpenInference's OITracer (default content capture).")
write_fixture(outdir, exporter.get_finished_spans(), [t1, t2], source)
