"""BUILD (not record) the spans Microsoft.Extensions.AI emits for the two weather-bot tasks, with the OTel Python SDK.

No .NET SDK on this machine (`dotnet` is not installed, and no NuGet feed is reachable), so this script constructs,
span by span, what the .NET OpenTelemetry exporter would send for:
- OUTDIR/            an IChatClient pipeline `chatClient.AsBuilder().UseFunctionInvocation().UseOpenTelemetry(
                     configure: c => c.EnableSensitiveData = true)` (Microsoft.Extensions.AI 10.9.0 +
                     Microsoft.Extensions.AI.OpenAI 10.9.0 over OpenAI .NET 2.12.0): orchestrate_tools > chat,
                     execute_tool, chat; no agent.
- OUTDIR/agent/      a Microsoft Agent Framework agent `chatClient.AsAIAgent(name: "weather-bot", ...,
                     tools: [get_weather]).AsBuilder().UseOpenTelemetry(configure: a => a.EnableSensitiveData
                     = true)` (Microsoft.Agents.AI 1.17.0): invoke_agent > chat, execute_tool, chat (no
                     orchestrate_tools under an invoke_agent span).
following the source files cited in NOTES.md (each key, value type and JSON shape there has its source line). The
replies the fake model server would serve come from ../fake_openai_server.py's SCRIPT, so the numbers are the script's.

usage: build.py OUTDIR
"""
import json
import os
import random
import sys

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from fake_openai_server import SCRIPT  # noqa: E402
from weather_bot import AGENT, MODEL, WEATHER_SCHEMA, new_tally, weather, write_fixture  # noqa: E402

MEAI = "10.9.0"
OPENAI_DOTNET = "2.12.0"   # dotnet/extensions v10.9.0 eng/packages/General.props
MAF = "1.17.0"
PORT = 40123               # the fake server's port (any: nothing listens, the spans are built)
T0 = 1767225600_000_000_000
MS = 1_000_000
SYSTEM = "You are weather-bot."
TOOL_DESCRIPTION = "Current weather for a city"
ERROR_TYPE = "System.ClientModel.ClientResultException"   # Exception.GetType().FullName
MEAI_SOURCE = "Experimental.Microsoft.Extensions.AI"       # OpenTelemetryConsts.DefaultSourceName (MEAI)
MAF_SOURCE = "Experimental.Microsoft.Agents.AI"            # OpenTelemetryConsts.DefaultSourceName (MAF)


class SeededIds(IdGenerator):
    """Deterministic trace/span ids, so record.sh rebuilds byte-identical files."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def generate_span_id(self):
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self):
        return self.rng.getrandbits(128) or 1


def js(value):
    """System.Text.Json with WriteIndented=true (OtelContext / AIJsonUtilities.DefaultOptions): 2-space indent."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def text_msg(role, text, finish=None):
    m = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish:
        m["finish_reason"] = finish
    return m


def tool_call_msg(tc, finish=None):
    m = {"role": "assistant", "parts": [{"type": "tool_call", "id": tc["id"], "name": tc["function"]["name"],
                                         "arguments": json.loads(tc["function"]["arguments"])}]}
    if finish:
        m["finish_reason"] = finish
    return m


def tool_result_msg(tc, result, finish=None):
    m = {"role": "tool", "parts": [{"type": "tool_call_response", "id": tc["id"], "response": result}]}
    if finish:
        m["finish_reason"] = finish
    return m


# OtelMessageSerializer.SerializeChatMessages: ChatFinishReason -> the finish_reason inside gen_ai.output.messages
PART_FINISH = {"tool_calls": "tool_call", "stop": "stop", "length": "length", "content_filter": "content_filter"}
TOOL_DEFINITIONS = js([{"type": "function", "name": "get_weather", "description": TOOL_DESCRIPTION,
                        "parameters": WEATHER_SCHEMA}])  # OtelFunction.Create(t, includeOptionalProperties: true)


class Builder:
    def __init__(self, tracer):
        self.tracer, self.now = tracer, T0

    def tick(self, ms=1):
        self.now += ms * MS
        return self.now

    def start(self, name, parent=None, kind=SpanKind.INTERNAL, attrs=None):
        ctx = set_span_in_context(parent) if parent is not None else Context()
        return self.tracer.start_span(name, context=ctx, kind=kind, attributes=attrs, start_time=self.tick())

    def end(self, span, attrs=None, error=None):
        """Activity tags keep their CLR type on the wire (int -> intValue); status stays UNSET unless
        RecordOperationError / the tool catch block set Error (no exception event: the exception goes to ILogger)."""
        for k, v in (attrs or {}).items():
            span.set_attribute(k, v)
        if error is not None:
            span.set_attribute("error.type", ERROR_TYPE)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=self.tick())


def chat_start_attrs(tools=True):
    """OpenTelemetryChatClient.CreateAndConfigureActivity (ChatClientMetadata of the OpenAI adapter:
    provider "openai", ProviderUri = the endpoint, DefaultModelId = the ChatClient's model)."""
    a = {"gen_ai.operation.name": "chat", "gen_ai.request.model": MODEL, "gen_ai.provider.name": "openai",
         "server.address": "127.0.0.1", "server.port": PORT}
    if tools:
        a["gen_ai.tool.definitions"] = TOOL_DEFINITIONS
    return a


def usage_attrs(u, cache_and_reasoning=True):
    a = {"gen_ai.usage.input_tokens": u["input"], "gen_ai.usage.output_tokens": u["output"]}
    if cache_and_reasoning:
        a["gen_ai.usage.cache_read.input_tokens"] = u["cache_read"]
        a["gen_ai.usage.reasoning.output_tokens"] = u["reasoning"]
    return a


def run_task(b, replies, question, tally, agent_mode, agent_id):
    """One GetResponseAsync (plain) / RunAsync (agent) = one trace; raises on the HTTP 500."""
    if agent_mode:
        # OpenTelemetryAgent: an OpenTelemetryChatClient "chat" span over a ForwardingChatClient, renamed and
        # re-tagged by UpdateCurrentActivity (SetTag keeps a key's position: operation.name stays first).
        root = b.start(f"invoke_agent {AGENT}({agent_id})", kind=SpanKind.CLIENT, attrs={
            **chat_start_attrs(tools=False), "gen_ai.operation.name": "invoke_agent",
            "gen_ai.input.messages": js([text_msg("user", question)]),
            "gen_ai.agent.id": agent_id, "gen_ai.agent.name": AGENT})
        history = [text_msg("user", question)]   # the instructions go to gen_ai.system_instructions
    else:
        root = b.start("orchestrate_tools")      # FunctionInvokingChatClient: no tags at start
        history = [text_msg("system", SYSTEM), text_msg("user", question)]
    tally["trace_id"] = format(root.get_span_context().trace_id, "032x")
    total = {"input": 0, "output": 0, "cache_read": 0, "reasoning": 0}
    run_messages = []   # the agent's response messages (FICC's responseMessages)
    while True:
        status, body = replies.pop(0)
        attrs = chat_start_attrs()
        if agent_mode:
            attrs["gen_ai.system_instructions"] = js([{"type": "text", "content": SYSTEM}])
        attrs["gen_ai.input.messages"] = js(history)
        chat = b.start(f"chat {MODEL}", root, kind=SpanKind.CLIENT, attrs=attrs)
        chat.set_attribute("openai.api.type", "chat_completions")   # OpenAIClientExtensions.AddOpenAIApiType
        tally["llm_calls"] += 1
        if status != 200:
            err = body["error"]
            # OpenAI .NET ClientPipelineExtensions.FormatErrorMessage: "HTTP {status} ({type}: {code})\n\n{message}"
            message = f"HTTP {status} ({err['type']}: {err['code'] or ''})\n\n{err['message']}"
            tally["errors"][ERROR_TYPE] = tally["errors"].get(ERROR_TYPE, 0) + 1
            b.end(chat, error=message)
            if agent_mode:
                b.end(root, error=message)   # the agent-level OpenTelemetryChatClient records it again
            else:
                b.end(root)                   # orchestrate_tools: disposed by `using`, no tags, status UNSET
            raise RuntimeError(message)
        u, t, choice = body["usage"], tally["tokens"], body["choices"][0]
        call_usage = {"input": u["prompt_tokens"], "output": u["completion_tokens"],
                      "cache_read": u["prompt_tokens_details"]["cached_tokens"],
                      "reasoning": u["completion_tokens_details"]["reasoning_tokens"]}
        for k, v in call_usage.items():
            t[k] += v
            total[k] += v
        t["total"] += u["total_tokens"]
        if body["model"] not in tally["models"]:
            tally["models"].append(body["model"])
        msg, finish = choice["message"], choice["finish_reason"]
        if msg.get("tool_calls"):
            out = [tool_call_msg(tc, PART_FINISH[finish]) for tc in msg["tool_calls"]]
        else:
            out = [text_msg("assistant", msg["content"], PART_FINISH[finish])]
        b.end(chat, {"openai.response.system_fingerprint": body["system_fingerprint"],
                     "gen_ai.output.messages": js(out),
                     "gen_ai.response.finish_reasons": f'["{finish}"]',
                     "gen_ai.response.id": body["id"], "gen_ai.response.model": body["model"],
                     **usage_attrs(call_usage)})
        if not msg.get("tool_calls"):
            run_messages.append(text_msg("assistant", msg["content"]))
            break
        for tc in msg["tool_calls"]:   # FunctionInvocationProcessor.InstrumentedInvokeFunctionAsync
            args = json.loads(tc["function"]["arguments"])
            result = weather(**args)
            tool = b.start(f"execute_tool {tc['function']['name']}", root, attrs={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.type": "function",
                "gen_ai.tool.call.id": tc["id"], "gen_ai.tool.name": tc["function"]["name"],
                "gen_ai.tool.description": TOOL_DESCRIPTION, "gen_ai.tool.call.arguments": js(args)})
            b.end(tool, {"gen_ai.tool.call.result": js(result)})
            tally["tool_calls"] += 1
            tally["tools"][tc["function"]["name"]] = tally["tools"].get(tc["function"]["name"], 0) + 1
            history += [tool_call_msg(tc), tool_result_msg(tc, result)]
            run_messages += [tool_call_msg(tc), tool_result_msg(tc, result)]
    if agent_mode:
        # TraceResponse on the agent span: FICC's final ChatResponse (last id/model, summed UsageDetails incl.
        # cached/reasoning); every output message gets the response's finish_reason.
        b.end(root, {"gen_ai.output.messages": js([{**m, "finish_reason": "stop"} for m in run_messages]),
                     "gen_ai.response.finish_reasons": '["stop"]', "gen_ai.response.id": body["id"],
                     "gen_ai.response.model": body["model"], **usage_attrs(total)})
    else:
        b.end(root, usage_attrs(total, cache_and_reasoning=False))  # FICC.AddUsageTags: input/output only
    return msg["content"]


def build(outdir, agent_mode):
    exporter = InMemorySpanExporter()
    name = "dotnet-extensions-ai" + ("-agent" if agent_mode else "")
    rng = random.Random(1009 if agent_mode else 1008)
    provider = TracerProvider(resource=Resource({"service.name": f"aw-fw-{name}"}),
                              id_generator=SeededIds(rng.getrandbits(32)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # ActivitySource(name) without a version -> instrumentation scope without a version
    b = Builder(provider.get_tracer(MAF_SOURCE if agent_mode else MEAI_SOURCE))
    replies = list(SCRIPT)
    tasks = []
    for question in ("What's the weather in Paris?", "What's the weather in Tokyo?"):
        tally = new_tally(agent=AGENT if agent_mode else None)
        agent_id = format(rng.getrandbits(128), "032x")   # AIAgent.Id = Guid.NewGuid().ToString("N"), one agent a task
        try:
            answer = run_task(b, replies, question, tally, agent_mode, agent_id)
            assert answer == "It is 18 C and cloudy in Paris.", answer
        except RuntimeError:
            assert question.endswith("Tokyo?"), "only the second task fails"
        tasks.append(tally)
        b.tick(1000)
    assert not replies, "every scripted reply is used"
    provider.force_flush()
    os.makedirs(outdir, exist_ok=True)
    write_fixture(outdir, exporter.get_finished_spans(), tasks, source(agent_mode))


def source(agent_mode):
    how = (f"a Microsoft.Agents.AI {MAF} ChatClientAgent (AsAIAgent(name: 'weather-bot', instructions, "
           "tools: [AIFunctionFactory.Create(get_weather)])) wrapped by .AsBuilder().UseOpenTelemetry(configure: "
           "a => a.EnableSensitiveData = true) (its DeferredOpenTelemetryChatClient slot below "
           "FunctionInvokingChatClient auto-wired), TracerProvider.AddSource('Experimental.Microsoft.Agents.AI')"
           if agent_mode else
           "IChatClient pipeline OpenAIClient(endpoint 127.0.0.1, RetryPolicy = new ClientRetryPolicy(0)).GetChatClient"
           "('gpt-4o-mini').AsIChatClient().AsBuilder().UseFunctionInvocation().UseOpenTelemetry(configure: c => "
           "c.EnableSensitiveData = true), ChatOptions.Tools = [AIFunctionFactory.Create(get_weather)], "
           "TracerProvider.AddSource('Experimental.Microsoft.Extensions.AI')")
    maf = ("; microsoft/agent-framework@dotnet-1.17.0 dotnet/src/Microsoft.Agents.AI/OpenTelemetryAgent.cs, "
           "OpenTelemetryConsts.cs, ChatClient/ChatClientExtensions.cs (WithDefaultAgentMiddleware), "
           "ChatClient/DeferredOpenTelemetryChatClient.cs, ChatClient/ChatClientAgent.cs, "
           "dotnet/src/Microsoft.Agents.AI.Abstractions/AIAgent.cs + AgentResponse.cs + AgentResponseExtensions.cs, "
           "dotnet/tests/Microsoft.Agents.AI.UnitTests/OpenTelemetryAgentTests.cs") if agent_mode else ""
    return (
        "Built from documentation and source: NOT recorded (no .NET SDK on this machine: `dotnet` not found, and no "
        "NuGet feed is reachable). build.py constructs with the OTel Python SDK (InMemorySpanExporter) what "
        f"Microsoft.Extensions.AI {MEAI} + Microsoft.Extensions.AI.OpenAI {MEAI} (OpenAI .NET {OPENAI_DOTNET}) emit "
        f"for {how}; replies = ../fake_openai_server.py SCRIPT (task 1: get_weather(Paris) + answer; task 2: "
        "get_weather(Tokyo) + HTTP 500). Keys from dotnet/extensions@v10.9.0: "
        "src/Libraries/Microsoft.Extensions.AI/OpenTelemetryConsts.cs, ChatCompletion/OpenTelemetryChatClient.cs, "
        "ChatCompletion/FunctionInvokingChatClient.cs, Common/FunctionInvocationProcessor.cs, "
        "Common/FunctionInvocationHelpers.cs, Common/OpenTelemetryLog.cs, Common/OtelMessageSerializer.cs, "
        "Common/OtelContext.cs, TelemetryHelpers.cs, src/Libraries/Microsoft.Extensions.AI.Abstractions/"
        "UsageDetails.cs + Utilities/AIJsonUtilities.Defaults.cs, src/Libraries/Microsoft.Extensions.AI.OpenAI/"
        "OpenAIChatClient.cs + OpenAIClientExtensions.cs, test/Libraries/Microsoft.Extensions.AI.Tests/"
        "ChatCompletion/OpenTelemetryChatClientTests.cs + FunctionInvokingChatClientTests.cs; "
        "openai/openai-dotnet@OpenAI_2.12.0 OpenAI/src/Custom/Internal/ClientPipelineExtensions.cs"
        f"{maf}. Every key with its source line: NOTES.md.")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    build(out, agent_mode=False)
    build(os.path.join(out, "agent"), agent_mode=True)
