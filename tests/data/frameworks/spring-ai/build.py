"""BUILD (not record) the spans Spring AI 2.0.1 emits for the two weather-bot tasks, with the real OTel Python SDK.

Spring AI is a JVM framework and cannot run here (Java 17 is installed, but no Maven repository serves its jars
to this machine: see NOTES.md). So this script constructs, span by span, what its Micrometer Observations become
through the Micrometer Tracing -> OpenTelemetry bridge in a Spring Boot 4.1 app (`ChatClient` with one @Tool, the
auto-registered ToolCallingAdvisor, OpenAiChatModel on the OpenAI Java SDK + OkHttp), following the source files
cited in NOTES.md (every key, value format and span-tree edge there has its source line). The replies the fake
model server would serve come from ../fake_openai_server.py's SCRIPT, so the numbers are the script's.

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
from weather_bot import MODEL, WEATHER, new_tally, weather, write_fixture  # noqa: E402

SPRING_AI = "2.0.1"
BOOT = "4.1.1"          # spring-ai 2.0.1's pom: <spring-boot.version>
OPENAI_JAVA = "4.49.0"  # spring-ai 2.0.1's pom: <openai-sdk.version>
PORT = 40123            # the fake server's port (any: nothing listens, the spans are built)
T0 = 1767225600_000_000_000  # 2026-01-01T00:00:00Z, the fake's `created` epoch
MS = 1_000_000

ADVISOR_TOOL = ("Tool Calling Advisor", "tool _calling ", -2147483648 + 300)  # name, span name, order
ADVISOR_CALL = ("call", "call", 2147483647)
TOOL_DESCRIPTION = "Current weather for a city"
# JsonSchemaGenerator.generateForMethodInput(get_weather(String city)): pretty-printed (whitespace not verified)
TOOL_SCHEMA = json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                          "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}, indent=2)
OPENAI_ERROR = "com.openai.errors.InternalServerException"
STACKTRACE = ("{exc_type}: {message}\n"   # Throwable.printStackTrace text; the frames are illustrative
              "\tat com.openai.core.handlers.ErrorHandler$internalServerHandler(ErrorHandler.kt)\n"
              "\tat org.springframework.ai.openai.OpenAiChatModel.internalCall(OpenAiChatModel.java)\n"
              "\t...")


class SeededIds(IdGenerator):
    """Deterministic trace/span ids, so record.sh rebuilds byte-identical files."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def generate_span_id(self):
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self):
        return self.rng.getrandbits(128) or 1


class Builder:
    """Starts/ends spans on a fake clock (1 ms a step) the way Micrometer Tracing's handlers do."""

    def __init__(self, tracer):
        self.tracer, self.now = tracer, T0

    def tick(self, ms=1):
        self.now += ms * MS
        return self.now

    def start(self, name, parent=None, kind=SpanKind.INTERNAL):
        ctx = set_span_in_context(parent) if parent is not None else Context()
        return self.tracer.start_span(name, context=ctx, kind=kind, start_time=self.tick())

    def stop(self, span, attrs, error=None):
        """TracingObservationHandler.onStop: all key values as STRING tags; OtelSpan.end(): status OK unless
        error() set ERROR. Micrometer KeyValues are sorted by key, so the tags are too."""
        for k in sorted(attrs):
            span.set_attribute(k, str(attrs[k]))
        if error is None:
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=self.tick())

    def error(self, span, exc_type, message):
        """OtelSpan.error(t): recordException(t) (one `exception` event) + setStatus(ERROR, t.getMessage())."""
        span.add_event("exception", {
            "exception.type": exc_type,
            "exception.message": message,
            "exception.stacktrace": STACKTRACE.format(exc_type=exc_type, message=message),
        }, timestamp=self.tick())
        span.set_status(Status(StatusCode.ERROR, message))


def advisor_attrs(advisor):
    name, _, order = advisor
    return {"gen_ai.operation.name": "framework", "gen_ai.system": "spring_ai", "spring.ai.kind": "advisor",
            "spring.ai.advisor.name": name, "spring.ai.advisor.order": order}


def run_task(b, replies, question, tally):
    """ChatClient.create(openAiChatModel).prompt().user(question).tools(new WeatherTools()).call().content():
    one trace. Consumes the fake's replies for this task; returns the answer or raises on the HTTP 500."""
    client = b.start("spring_ai chat_client")
    tally["trace_id"] = format(client.get_span_context().trace_id, "032x")
    client_attrs = {"gen_ai.operation.name": "framework", "gen_ai.system": "spring_ai", "spring.ai.kind": "chat_client",
                    "spring.ai.chat.client.stream": "false",
                    "spring.ai.chat.client.advisors": '["Tool Calling Advisor", "call"]',
                    "spring.ai.chat.client.tool.names": '["get_weather"]'}
    loop = b.start(ADVISOR_TOOL[1], client)
    open_spans = [(loop, advisor_attrs(ADVISOR_TOOL)), (client, client_attrs)]  # innermost first
    while True:
        status, body = replies.pop(0)
        call = b.start(ADVISOR_CALL[1], loop)
        chat = b.start(f"chat {MODEL}", call)
        http = b.start("POST", chat, kind=SpanKind.CLIENT)
        b.stop(http, {"method": "POST", "uri": "none", "status": status,
                      "outcome": "SUCCESS" if status == 200 else "SERVER_ERROR",
                      "target.scheme": "http", "target.host": "127.0.0.1", "target.port": PORT,
                      "host": "127.0.0.1"})  # a 500 is not an IOException: this span stays status OK
        chat_attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": MODEL,
                      "spring.ai.model.request.tool.names": '["get_weather"]'}
        tally["llm_calls"] += 1
        if status != 200:
            message = f"{status}: {body['error']['message']}"
            tally["errors"][OPENAI_ERROR] = tally["errors"].get(OPENAI_ERROR, 0) + 1
            chat_attrs["gen_ai.response.model"] = "none"  # KeyValue.NONE_VALUE: no response
            for span, attrs in [(chat, chat_attrs), (call, advisor_attrs(ADVISOR_CALL)), *open_spans]:
                b.error(span, OPENAI_ERROR, message)  # Observation.observe() records it on every level it leaves
                b.stop(span, attrs, error=True)
            raise RuntimeError(message)
        u, t, choice = body["usage"], tally["tokens"], body["choices"][0]
        t["input"] += u["prompt_tokens"]
        t["output"] += u["completion_tokens"]
        t["total"] += u["total_tokens"]
        t["cache_read"] += u["prompt_tokens_details"]["cached_tokens"]
        t["reasoning"] += u["completion_tokens_details"]["reasoning_tokens"]
        if body["model"] not in tally["models"]:
            tally["models"].append(body["model"])
        chat_attrs.update({
            "gen_ai.response.model": body["model"],
            "gen_ai.response.id": body["id"],
            "gen_ai.response.finish_reasons": f'["{choice["finish_reason"].upper()}"]',  # openai-java enum name
            "gen_ai.usage.input_tokens": u["prompt_tokens"],
            "gen_ai.usage.output_tokens": u["completion_tokens"],
            "gen_ai.usage.total_tokens": u["total_tokens"],
            "gen_ai.usage.cache_read.input_tokens": u["prompt_tokens_details"]["cached_tokens"],
            # reasoning_tokens: DefaultUsage has no field for it -> on no span
        })
        b.stop(chat, chat_attrs)
        b.stop(call, advisor_attrs(ADVISOR_CALL))
        msg = choice["message"]
        if not msg.get("tool_calls"):
            for span, attrs in open_spans:
                b.stop(span, attrs)
            return msg["content"]
        for tc in msg["tool_calls"]:  # DefaultToolCallingManager, called by the ToolCallingAdvisor
            tool = b.start(f"execute_tool {tc['function']['name']}", loop)
            args = tc["function"]["arguments"]
            result = weather(**json.loads(args))
            b.stop(tool, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.system": "spring_ai", "spring.ai.kind": "tool_call",
                "spring.ai.tool.type": tc["type"], "spring.ai.tool.definition.name": tc["function"]["name"],
                "spring.ai.tool.definition.description": TOOL_DESCRIPTION,
                "spring.ai.tool.definition.schema": TOOL_SCHEMA, "spring.ai.tool.call.id": tc["id"],
                # ToolCallingContentObservationFilter (spring.ai.tools.observations.include-content=true):
                "spring.ai.tool.call.arguments": args,
                "spring.ai.tool.call.result": json.dumps(result, separators=(",", ":")),
            })
            tally["tool_calls"] += 1
            tally["tools"][tc["function"]["name"]] = tally["tools"].get(tc["function"]["name"], 0) + 1


def main(outdir):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "aw-fw-spring-ai"}), id_generator=SeededIds(2001))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Boot's OpenTelemetryTracingAutoConfiguration: openTelemetry.getTracer("org.springframework.boot", version)
    b = Builder(provider.get_tracer("org.springframework.boot", BOOT))
    replies = list(SCRIPT)
    assert set(WEATHER) >= {"Paris", "Tokyo"}
    t1 = new_tally(agent=None, not_emitted=["tokens.reasoning"])
    assert run_task(b, replies, "What's the weather in Paris?", t1) == "It is 18 C and cloudy in Paris."
    b.tick(1000)
    t2 = new_tally(agent=None, not_emitted=["tokens.reasoning"])
    try:
        run_task(b, replies, "What's the weather in Tokyo?", t2)
        raise SystemExit("expected the second task to fail")
    except RuntimeError:
        pass
    assert not replies, "every scripted reply is used"
    provider.force_flush()
    os.makedirs(outdir, exist_ok=True)
    source = (
        "Built from documentation and source: NOT recorded (no JVM dependency resolution here: Java 17 is installed "
        "but no Maven repository is reachable, so Spring AI cannot run). build.py constructs with the OTel Python SDK "
        f"(InMemorySpanExporter) what spring-ai {SPRING_AI} (spring-ai-client-chat, spring-ai-model, spring-ai-openai "
        f"on openai-java {OPENAI_JAVA}) emits in a Spring Boot {BOOT} app through micrometer-tracing-bridge-otel 1.7.0 "
        "(micrometer 1.17.1): ChatClient.prompt().user(q).tools(@Tool get_weather).call() with the auto-registered "
        "ToolCallingAdvisor, spring.ai.tools.observations.include-content=true, spring.ai.openai.max-retries=0, "
        "replies = ../fake_openai_server.py SCRIPT (task 1: get_weather(Paris) + answer; task 2: get_weather(Tokyo) "
        "+ HTTP 500). Keys from spring-projects/spring-ai@v2.0.1: "
        "spring-ai-commons/src/main/java/org/springframework/ai/observation/conventions/AiObservationAttributes.java, "
        "spring-ai-model/src/main/java/org/springframework/ai/chat/observation/DefaultChatModelObservationConvention"
        ".java, spring-ai-model/src/main/java/org/springframework/ai/tool/observation/"
        "DefaultToolCallingObservationConvention.java + ToolCallingObservationDocumentation.java + "
        "ToolCallingContentObservationFilter.java, spring-ai-model/src/main/java/org/springframework/ai/model/tool/"
        "DefaultToolCallingManager.java, spring-ai-client-chat/src/main/java/org/springframework/ai/chat/client/"
        "observation/DefaultChatClientObservationConvention.java, .../advisor/observation/"
        "DefaultAdvisorObservationConvention.java, .../advisor/ToolCallingAdvisor.java, .../DefaultChatClient.java, "
        "models/spring-ai-openai/src/main/java/org/springframework/ai/openai/OpenAiChatModel.java + "
        "http/okhttp/SpringAiOpenAiHttpClient.java, spring-ai-docs/.../observability/index.adoc; "
        "micrometer-metrics/tracing@v1.7.0 micrometer-tracing/src/main/java/io/micrometer/tracing/handler/"
        "TracingObservationHandler.java + DefaultTracingObservationHandler.java + "
        "PropagatingSenderTracingObservationHandler.java, micrometer-tracing-bridges/micrometer-tracing-bridge-otel/"
        "src/main/java/io/micrometer/tracing/otel/bridge/OtelSpan.java; micrometer-metrics/micrometer@v1.17.1 "
        "micrometer-core/src/main/java/io/micrometer/core/instrument/binder/okhttp3/"
        "DefaultOkHttpObservationConvention.java; spring-projects/spring-boot module/"
        "spring-boot-micrometer-tracing-opentelemetry/.../OpenTelemetryTracingAutoConfiguration.java; "
        f"openai/openai-java@v{OPENAI_JAVA} openai-java-core/src/main/kotlin/com/openai/errors/"
        "InternalServerException.kt. Every key with its source line: NOTES.md.")
    write_fixture(outdir, exporter.get_finished_spans(), [t1, t2], source)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
