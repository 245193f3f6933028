"""The synthetic traces carry each vocabulary's attributes exactly as its real instrumentation emits them."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from agentwatch.demo.synth import (
    VOCABS,
    Step,
    Task,
    emit_task,
    encode,
    make_provider,
    records,
    scenario_tasks,
    task_duration_ns,
    tracer_for,
)

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
ARGS = {"q": "weather in Paris", "units": "metric"}


def _value(v: AnyValue) -> object:
    field = v.WhichOneof("value")
    if field == "array_value":
        return tuple(_value(x) for x in v.array_value.values)
    return getattr(v, field)


def _attrs(span: PbSpan) -> dict[str, object]:
    return {kv.key: _value(kv.value) for kv in span.attributes}


def _spans(data: bytes) -> list[PbSpan]:
    td = TracesData.FromString(data)
    return [s for rs in td.resource_spans for ss in rs.scope_spans for s in ss.spans]


def _emit(task: Task, **provider_kw: object) -> tuple[str, int, list[PbSpan], bytes]:
    provider = make_provider(**provider_kw)  # type: ignore[arg-type]
    trace_id, end = emit_task(tracer_for(provider, task.vocab), task, T0)
    assert provider.memory_exporter is not None
    finished = provider.memory_exporter.get_finished_spans()
    data = encode(finished)
    return trace_id, end, _spans(data), data


def _task(vocab: str, **kw: object) -> Task:
    steps = [
        Step("llm", input_tokens=1200, output_tokens=80, cache_read_tokens=1024, reasoning_tokens=16,
             duration_ms=900, gap_ms=20),
        Step("tool", tool="search", args=ARGS, duration_ms=300, gap_ms=5),
    ]
    return Task("weather-bot", steps, vocab=vocab, conversation_id="conv-1", **kw)  # type: ignore[arg-type]


def _by_name(spans: list[PbSpan]) -> dict[str, PbSpan]:
    return {s.name: s for s in spans}


@pytest.mark.parametrize("vocab", VOCABS)
def test_common_shape(vocab: str) -> None:
    trace_id, end, spans, _ = _emit(_task(vocab))
    assert len(trace_id) == 32 and trace_id == trace_id.lower()
    assert {s.trace_id.hex() for s in spans} == {trace_id}
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1 and spans[-1] is roots[0]
    # Children are exported before their parents.
    seen: set[bytes] = set()
    for s in spans:
        assert s.parent_span_id in ids or not s.parent_span_id
        assert not any(o.parent_span_id == s.span_id and o.span_id not in seen for o in spans)
        seen.add(s.span_id)
    assert end == max(s.end_time_unix_nano for s in spans)
    assert roots[0].start_time_unix_nano == T0


def test_otel() -> None:
    _, _, spans, _ = _emit(_task("otel", evaluations={"relevance": 0.8}))
    names = _by_name(spans)
    root, chat, tool = names["invoke_agent weather-bot"], names["chat gpt-4o-mini"], names["execute_tool search"]
    a = _attrs(root)
    assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.agent.name"] == "weather-bot"
    assert a["gen_ai.conversation.id"] == "conv-1" and a["gen_ai.provider.name"] == "openai"
    assert str(a["gen_ai.agent.id"]).startswith("asst_")
    assert "gen_ai.usage.input_tokens" not in a
    [ev] = root.events
    assert ev.name == "gen_ai.evaluation.result"
    assert _attrs(ev) == {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.8}  # type: ignore[arg-type]
    c = _attrs(chat)
    assert chat.kind == PbSpan.SPAN_KIND_CLIENT and root.kind == PbSpan.SPAN_KIND_INTERNAL
    assert c["gen_ai.usage.input_tokens"] == 1200 and c["gen_ai.usage.output_tokens"] == 80
    assert c["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert c["gen_ai.usage.reasoning.output_tokens"] == 16
    assert c["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert c["gen_ai.request.model"] == c["gen_ai.response.model"] == "gpt-4o-mini"
    t = _attrs(tool)
    assert tool.kind == PbSpan.SPAN_KIND_INTERNAL
    assert t["gen_ai.operation.name"] == "execute_tool" and t["gen_ai.tool.type"] == "function"
    assert json.loads(str(t["gen_ai.tool.call.arguments"])) == ARGS
    assert str(t["gen_ai.tool.call.id"]).startswith("call_")
    # Timing: step i starts at the previous end + gap.
    assert chat.start_time_unix_nano == T0 + 20 * MS and chat.end_time_unix_nano == T0 + 920 * MS
    assert tool.start_time_unix_nano == T0 + 925 * MS and tool.end_time_unix_nano == T0 + 1225 * MS
    assert root.end_time_unix_nano == T0 + task_duration_ns(_task("otel"))


def test_otel_agent_usage_and_errors() -> None:
    task = _task("otel", agent_usage=True)
    task.steps.append(Step("llm", input_tokens=1500, output_tokens=40))
    task.steps[1].error_type = "TimeoutError"
    _, _, spans, _ = _emit(task)
    names = _by_name(spans)
    a = _attrs(names["invoke_agent weather-bot"])
    assert a["gen_ai.usage.input_tokens"] == 2700 and a["gen_ai.usage.output_tokens"] == 120
    tool = names["execute_tool search"]
    assert tool.status.code == tool.status.STATUS_CODE_ERROR
    assert _attrs(tool)["error.type"] == "TimeoutError"
    assert [e.name for e in tool.events] == ["exception"]
    assert "gen_ai.tool.call.result" not in _attrs(tool)


def test_otel_legacy() -> None:
    _, _, spans, _ = _emit(_task("otel_legacy"))
    c = _attrs(_by_name(spans)["chat gpt-4o-mini"])
    assert c["gen_ai.system"] == "openai" and "gen_ai.provider.name" not in c
    assert c["gen_ai.usage.prompt_tokens"] == 1200 and c["gen_ai.usage.completion_tokens"] == 80
    assert "gen_ai.usage.input_tokens" not in c
    assert _attrs(_by_name(spans)["invoke_agent weather-bot"])["gen_ai.system"] == "openai"


def test_traceloop() -> None:
    _, _, spans, _ = _emit(_task("traceloop"))
    names = _by_name(spans)
    assert [s.name for s in spans] == ["openai.chat", "search.tool", "weather-bot.agent", "weather-bot.workflow"]
    wf, ag = _attrs(names["weather-bot.workflow"]), _attrs(names["weather-bot.agent"])
    assert wf["traceloop.span.kind"] == "workflow" and "gen_ai.agent.name" not in wf
    assert ag["traceloop.span.kind"] == "agent" and ag["traceloop.entity.name"] == "weather-bot"
    c = _attrs(names["openai.chat"])
    assert names["openai.chat"].kind == PbSpan.SPAN_KIND_CLIENT
    assert c["llm.request.type"] == "chat" and c["gen_ai.system"] == "openai"
    assert c["llm.usage.total_tokens"] == 1280 and c["gen_ai.usage.reasoning_tokens"] == 16
    assert c["gen_ai.usage.cache_read.input_tokens"] == 1024
    t = _attrs(names["search.tool"])
    assert t["traceloop.span.kind"] == "tool" and t["gen_ai.tool.name"] == "search"
    assert "gen_ai.operation.name" not in t
    assert json.loads(str(t["traceloop.entity.input"])) == {"args": [], "kwargs": ARGS}
    # The agent name is stamped on every descendant of the agent span.
    assert c["gen_ai.agent.name"] == t["gen_ai.agent.name"] == "weather-bot"
    assert all(_attrs(s)["traceloop.association.properties.session_id"] == "conv-1" for s in spans)


def test_openinference() -> None:
    _, _, spans, _ = _emit(_task("openinference", evaluations={"helpfulness": 1.0}))
    kinds = [(s.name, _attrs(s)["openinference.span.kind"]) for s in spans]
    assert kinds == [("generation", "LLM"), ("search", "TOOL"), ("turn", "CHAIN"), ("weather-bot", "AGENT"),
                     ("Agent workflow", "CHAIN"), ("Agent workflow", "AGENT")]
    assert all(s.kind == PbSpan.SPAN_KIND_INTERNAL for s in spans)
    assert "agent.name" not in _attrs(spans[-1])
    ag = _attrs(spans[3])
    assert ag["agent.name"] == ag["graph.node.id"] == "weather-bot"
    assert ag["evaluations.0.evaluation.name"] == "helpfulness" and ag["evaluations.0.evaluation.score"] == 1.0
    g = _attrs(spans[0])
    assert g["llm.token_count.prompt"] == 1200 and g["llm.token_count.completion"] == 80
    assert g["llm.model_name"] == "gpt-4o-mini" and g["llm.provider"] == "openai"
    assert g["llm.token_count.prompt_details.cache_read"] == 1024
    t = _attrs(spans[1])
    assert t["tool.name"] == "search"
    assert t["input.value"] == '{"q":"weather in Paris","units":"metric"}'  # raw JSON, not wrapped
    schema = json.loads(str(t["tool.parameters"]))
    assert schema["type"] == "object" and set(schema["properties"]) == set(ARGS)
    assert all(_attrs(s)["session.id"] == "conv-1" for s in spans)


def test_openinference_turns() -> None:
    task = _task("openinference")
    task.steps += [Step("llm", input_tokens=1400, output_tokens=30)]
    _, _, spans, _ = _emit(task)
    turns = [s for s in spans if s.name == "turn"]
    assert len(turns) == 2
    llm2 = [s for s in spans if s.name == "generation"][1]
    assert llm2.parent_span_id == turns[1].span_id


def test_openlit() -> None:
    _, _, spans, _ = _emit(_task("openlit"), service="lit-svc")
    names = _by_name(spans)
    assert [s.name for s in spans][:2] == ["POST", "chat gpt-4o-mini"]
    post, chat = names["POST"], names["chat gpt-4o-mini"]
    assert post.parent_span_id == chat.span_id and post.kind == PbSpan.SPAN_KIND_CLIENT
    assert _attrs(post)["http.request.method"] == "POST"
    assert str(_attrs(post)["url.full"]).startswith("https://api.openai.com/")
    c = _attrs(chat)
    assert c["gen_ai.client.token.usage"] == c["gen_ai.usage.total_tokens"] == 1280
    assert c["gen_ai.usage.cost"] == pytest.approx((1200 * 0.15 + 80 * 0.6) / 1e6)
    assert c["service.name"] == "lit-svc" and c["gen_ai.provider.name"] == "openai"
    t = _attrs(names["execute_tool search"])
    assert json.loads(str(t["gen_ai.tool.args"])) == ARGS and "gen_ai.tool.call.arguments" not in t
    ag = _attrs(names["invoke_agent weather-bot"])
    assert ag["gen_ai.operation.name"] == "invoke_agent" and "openlit.agent.version_hash" in ag


def test_langfuse() -> None:
    _, _, spans, _ = _emit(_task("langfuse"))
    names = _by_name(spans)
    assert _attrs(names["weather-bot"])["langfuse.observation.type"] == "agent"
    g = _attrs(names["generation"])
    assert g["langfuse.observation.type"] == "generation"
    assert g["langfuse.observation.model.name"] == "gpt-4o-mini"
    assert json.loads(str(g["langfuse.observation.usage_details"])) == {"input": 1200, "output": 80, "total": 1280}
    t = _attrs(names["search"])
    assert t["langfuse.observation.type"] == "tool" and json.loads(str(t["langfuse.observation.input"])) == ARGS
    assert _attrs(names["weather-bot"])["langfuse.session.id"] == "conv-1"


@pytest.mark.parametrize("vocab", VOCABS)
def test_stalled_task_never_exports_its_root(vocab: str) -> None:
    _, end, spans, _ = _emit(_task(vocab, end_root=False))
    assert spans and all(s.parent_span_id for s in spans)
    assert end == T0 + 1225 * MS  # the tool step, the last span that ended
    step_names = {"generation", "search", "chat gpt-4o-mini", "execute_tool search", "openai.chat",
                  "search.tool", "POST"}
    assert {s.name for s in spans} <= step_names


def test_args_absent_are_not_recorded() -> None:
    for vocab in VOCABS:
        task = _task(vocab)
        task.steps[1].args = None
        _, _, _, data = _emit(task)
        assert b"weather in Paris" not in data, vocab


def test_resource_and_records() -> None:
    task = _task("otel")
    _, _, _, data = _emit(task, service="svc-a", resource={"k8s.pod.name": "pod-1"})
    res = TracesData.FromString(data).resource_spans[0].resource
    ra = {kv.key: _value(kv.value) for kv in res.attributes}
    assert ra["service.name"] == "svc-a" and ra["k8s.pod.name"] == "pod-1"
    provider = make_provider()
    emit_task(provider.get_tracer("t"), task, T0)
    assert provider.memory_exporter is not None
    finished = provider.memory_exporter.get_finished_spans()
    recs = records(finished, per_record=2)
    assert len(recs) == 2
    assert [s.name for r in recs for s in _spans(r)] == [s.name for s in finished]
    assert len(records(finished)) == len(finished)


def test_scenario() -> None:
    provider = make_provider()
    tasks = scenario_tasks(T0)
    assert [t.agent for t, _ in tasks].count("healthy-bot") == 2
    by_agent = {t.agent: t for t, _ in tasks}
    looping = [s for s in by_agent["looping-bot"].steps if s.kind == "tool"]
    assert len(looping) == 5 and all(s.tool == "search" and s.args == {"q": "weather in Paris"} for s in looping)
    steps = by_agent["looping-bot"].steps
    assert all(steps[i].kind != steps[i + 1].kind for i in range(len(steps) - 1))
    hungry = sum(s.input_tokens + s.output_tokens for s in by_agent["hungry-bot"].steps)
    assert hungry == 300_000
    assert by_agent["stuck-bot"].end_root is False
    for task, start in tasks:
        emit_task(provider.get_tracer("demo"), task, start)
    assert provider.memory_exporter is not None
    spans = _spans(encode(provider.memory_exporter.get_finished_spans()))
    roots = [s.name for s in spans if not s.parent_span_id]
    assert sorted(roots) == sorted(["invoke_agent healthy-bot"] * 2 + ["invoke_agent looping-bot",
                                                                      "invoke_agent hungry-bot"])
