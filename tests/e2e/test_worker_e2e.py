"""End to end: OTel SDK -> rotel -> tansu -> agentwatch worker -> alerts / tasks / DLQ / metrics.

Each module-level stack gets its own broker: the worker's consumer group and internal topics are
named after the app ("agentwatch"), so workers of different tests must not share a broker.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest
from confluent_kafka import Producer
from kafka_helpers import consume

from agentwatch.demo.synth import Step, Task, emit_task, make_provider, records, scenario_tasks, tracer_for
from agentwatch.local.broker import EmbeddedBroker
from agentwatch.local.rotel import Rotel
from agentwatch.local.worker import LocalWorker
from agentwatch.stream.kafka_admin import ensure_topics
from agentwatch.stream.topology import INTERNAL_TOPIC, collector_partition
from agentwatch.stream.wire import decode_batch

pytestmark = pytest.mark.e2e

PARTITIONS = 4
POLICY = """\
agents:
  - match: "*"
    task_tokens: 200000
    tool_repeat: 3
    stall_s: 4
    idle_timeout_s: 8
"""
TOPICS = {"otlp_spans": PARTITIONS, "agentwatch.alerts": PARTITIONS, "agentwatch.tasks": PARTITIONS,
          "agentwatch.dlq": PARTITIONS, INTERNAL_TOPIC: PARTITIONS}


@dataclass
class Stack:
    broker: EmbeddedBroker
    rotel: Rotel
    worker: LocalWorker

    def emit(self, tasks: list[tuple[Task, int]]) -> list[str]:
        """Send tasks through rotel, each agent its own service; returns trace IDs."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        ids = []
        for task, start in tasks:
            provider = make_provider(task.agent, {"k8s.namespace.name": "e2e"}, batch=True,
                                     exporter=OTLPSpanExporter(endpoint=f"{self.rotel.otlp_http_endpoint}/v1/traces"))
            ids.append(emit_task(tracer_for(provider, task.vocab), task, start)[0])
            provider.force_flush()
            provider.shutdown()
        return ids

    def produce(self, values: list[tuple[bytes, int]], keys: list[bytes] | None = None) -> None:
        p = Producer({"bootstrap.servers": self.broker.bootstrap})
        for i, (value, partition) in enumerate(values):
            p.produce("otlp_spans", value, partition=partition, key=keys[i] if keys else None)
        p.flush(10)


def _start_stack(tmp_path_factory: pytest.TempPathFactory, policy_text: str = POLICY, **env: str) -> Iterator[Stack]:
    policy = tmp_path_factory.mktemp("policy") / "policy.yaml"
    policy.write_text(policy_text)
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, TOPICS)
        with Rotel(broker.bootstrap) as rotel, LocalWorker(broker.url, {
            "AGENTWATCH_POLICY": str(policy), "AGENTWATCH_PARTITIONS": str(PARTITIONS),
            "AGENTWATCH_MAX_RECORD_BYTES": "200000", **env}) as worker:
            yield Stack(broker, rotel, worker)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _start_stack(tmp_path_factory)


def _json(records):
    return [orjson.loads(r.value) for r in records]


def _summaries_for(stack: Stack, trace_ids: list[str], timeout_s: float = 60) -> dict[str, dict]:
    want = set(trace_ids)

    def done(recs):
        return want <= {orjson.loads(r.value)["trace_id"] for r in recs}

    recs = consume(stack.broker.bootstrap, "agentwatch.tasks", timeout_s=timeout_s, until=done)
    return {s["trace_id"]: s for s in _json(recs) if s["trace_id"] in want}


def _llm_tokens(task: Task) -> int:
    return sum(s.input_tokens + s.output_tokens for s in task.steps if s.kind == "llm")


def test_scenarios_alert_once_per_task_and_totals_match_the_sdk(stack: Stack):
    tasks = scenario_tasks(time.time_ns() - 200 * 10**9)  # all of it in the recent past
    ids = stack.emit(tasks)
    summaries = _summaries_for(stack, ids, timeout_s=60)
    assert len(summaries) == 5
    for (task, _), trace_id in zip(tasks, ids, strict=True):
        s = summaries[trace_id]
        assert s["agent"] == task.agent
        assert s["tokens"]["total"] == _llm_tokens(task), task.agent
    alerts = _json(consume(stack.broker.bootstrap, "agentwatch.alerts", timeout_s=5, until=lambda r: False))
    mine = [a for a in alerts if a["trace_id"] in ids]
    _assert_scenario_alerts(mine)
    assert all(len(a["alert_id"]) == 64 for a in mine)


def _assert_scenario_alerts(alerts: list[dict]) -> None:
    """One alert per misbehaving task; the stuck task, closed by its idle timeout, also gets the all-clear of
    its stall."""
    raised = [a for a in alerts if "resolves" not in a]
    got = sorted((a["kind"], a["agent"]) for a in raised)
    assert got == [("stalled_task", "stuck-bot"), ("token_budget", "hungry-bot"), ("tool_loop", "looping-bot")]
    (stall,) = [a for a in raised if a["kind"] == "stalled_task"]
    (clear,) = [a for a in alerts if "resolves" in a]
    assert (clear["kind"], clear["severity"], clear["trace_id"]) == ("stalled_task", "info", stall["trace_id"])
    assert clear["resolves"] == {"alert_id": stall["alert_id"], "severity": "warning", "action": "review"}


def test_trace_split_across_partitions_is_one_task(stack: Stack):
    task = Task("split-bot", [Step("llm", input_tokens=100 * i, output_tokens=i) for i in range(1, 9)])
    provider = make_provider("split-bot")
    trace_id, _ = emit_task(tracer_for(provider, "otel"), task, time.time_ns() - 10**10)
    recs = records(provider.memory_exporter.get_finished_spans())  # one span per record
    stack.produce([(rec, i % PARTITIONS) for i, rec in enumerate(recs)])
    (summary,) = _summaries_for(stack, [trace_id]).values()
    assert summary["tokens"]["total"] == _llm_tokens(task) and summary["llm_calls"] == 8


def test_bad_records_go_to_the_dlq_and_the_worker_keeps_going(stack: Stack):
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    task = Task("dlq-bot", [Step("llm", input_tokens=7, output_tokens=3)])
    provider = make_provider("dlq-bot")
    trace_id, _ = emit_task(tracer_for(provider, "otel"), task, time.time_ns() - 10**10)
    good = records(provider.memory_exporter.get_finished_spans(), per_record=100)[0]
    partial = TracesData.FromString(good)
    extra = partial.resource_spans[0].scope_spans[0].spans.add()
    extra.CopyFrom(partial.resource_spans[0].scope_spans[0].spans[0])
    extra.span_id = b"\x00" * 8  # invalid: skipped, the rest of the record is processed
    stack.produce([(b"\x0a\xff\xff\xff\xff\x0f not a protobuf", 0), (b"{" + b" " * 300_000 + b"}", 1),
                   (partial.SerializeToString(), 2)])
    dlq = consume(stack.broker.bootstrap, "agentwatch.dlq", timeout_s=30, until=lambda r: len(r) >= 3)
    reasons = sorted(dict(r.headers)["agentwatch.reason"].decode() for r in dlq)
    assert reasons == ["invalid_span", "malformed", "oversized"]
    for r in dlq:
        h = dict(r.headers)
        assert h["agentwatch.source.topic"] == b"otlp_spans"
        assert {"agentwatch.error", "agentwatch.source.partition", "agentwatch.source.offset"} <= set(h)
    assert any(r.value.startswith(b"\x0a\xff\xff") for r in dlq)  # original bytes, unchanged
    (summary,) = _summaries_for(stack, [trace_id]).values()  # the good spans still counted
    assert summary["tokens"]["total"] == 10


_ID = re.compile(r'="[0-9a-f]{16}(?:[0-9a-f]{16})?"')


def test_metrics_by_agent_and_model_without_ids(stack: Stack):
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        text = stack.worker.metrics()
        if 'agentwatch_gen_ai_tokens_total{agent="hungry-bot",model="gpt-4o",token_type="input"}' in text:
            break
        time.sleep(0.5)
    assert 'agentwatch_gen_ai_tokens_total{agent="hungry-bot",model="gpt-4o",token_type="input"} 282000.0' in text
    assert 'agentwatch_alerts_total{agent="looping-bot",kind="tool_loop",severity="critical"}' in text
    assert 'agentwatch_dlq_total{reason="oversized"} 1.0' in text
    assert 'agentwatch_records_total{status="ok"}' in text
    labelled = [line for line in text.splitlines() if line.startswith("agentwatch_") and "{" in line]
    assert labelled and not [line for line in labelled if _ID.search(line)]


def test_the_consumer_internals_the_worker_tunes_are_where_it_expects(stack: Stack):
    """Faust fixes aiokafka's fetch_max_wait_ms at 1500; the worker sets it (AGENTWATCH_FETCH_MAX_WAIT_MS), and
    pauses input partitions for alignment, through Faust and aiokafka internals: an upgrade that moves them
    must fail here, not silently slow input or hold finished tasks open."""
    lines = [orjson.loads(line) for line in stack.worker.log_path.read_text().splitlines()
             if '"rebalance complete"' in line]
    assert lines and all(line["fetch_max_wait_ms"] == 100 and line["input_alignment"] for line in lines)


def test_restarted_worker_resumes_from_its_table(tmp_path_factory: pytest.TempPathFactory):
    steps = []
    for _ in range(4):
        steps += [Step("llm", input_tokens=1000, output_tokens=10), Step("tool", tool="search", args={"q": "x"})]
    task = Task("resume-bot", [*steps, Step("llm", input_tokens=1000, output_tokens=10)])
    provider = make_provider("resume-bot")
    trace_id, _ = emit_task(tracer_for(provider, "otel"), task, time.time_ns() - 60 * 10**9)
    recs = records(provider.memory_exporter.get_finished_spans())  # children first, the root last
    first, rest = recs[:7], recs[7:]
    # Long stall/idle limits: the task must stay open across the restart.
    for stack in _start_stack(tmp_path_factory, POLICY.replace("stall_s: 4", "stall_s: 600")
                              .replace("idle_timeout_s: 8", "idle_timeout_s: 900")):
        stack.produce([(r, 0) for r in first])
        alerts = consume(stack.broker.bootstrap, "agentwatch.alerts", timeout_s=30, until=lambda r: len(r) >= 1)
        assert [orjson.loads(a.value)["kind"] for a in alerts] == ["tool_loop"]
        time.sleep(3)  # past the 1 s commit interval: offsets and the table's changelog are written
        stack.worker.stop()
        stack.worker.start()  # a new process: recovers the table, resumes from committed offsets
        stack.produce([(r, 0) for r in rest])
        (summary,) = _summaries_for(stack, [trace_id]).values()
        assert summary["outcome"] == "ok"
        assert summary["tokens"]["total"] == _llm_tokens(task)  # no reset of the first half
        assert summary["llm_calls"] == 5 and summary["tool_calls"] == 4
        alerts = _json(consume(stack.broker.bootstrap, "agentwatch.alerts", timeout_s=3, until=lambda r: False))
        assert len({a["alert_id"] for a in alerts if a["kind"] == "tool_loop"}) == 1


def test_two_workers_share_partitions_and_hand_over_tasks(tmp_path_factory: pytest.TempPathFactory):
    """A second worker joins mid-task: partitions are split, open tasks move with their partitions."""
    long_policy = POLICY.replace("stall_s: 4", "stall_s: 600").replace("idle_timeout_s: 8", "idle_timeout_s: 900")
    tasks = [Task(f"pair-{i}", [Step("llm", input_tokens=100 * (i + 1), output_tokens=i)] * 6) for i in range(8)]
    recs_by_task = []
    ids = []
    for task in tasks:
        provider = make_provider(task.agent)
        ids.append(emit_task(tracer_for(provider, "otel"), task, time.time_ns() - 30 * 10**9)[0])
        recs_by_task.append(records(provider.memory_exporter.get_finished_spans()))
    for stack in _start_stack(tmp_path_factory, long_policy):
        stack.produce([(r, i % PARTITIONS) for recs in recs_by_task for i, r in enumerate(recs[:3])])
        time.sleep(3)  # the first worker holds every task's first half (and has written it to its table)
        second = LocalWorker(stack.broker.url, {"AGENTWATCH_PARTITIONS": str(PARTITIONS),
                                                "AGENTWATCH_POLICY": stack.worker.extra_env["AGENTWATCH_POLICY"]})
        with second:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # both ready = the group rebalanced over both
                if stack.worker._ready() and second._ready():
                    break
                time.sleep(0.5)
            assert stack.worker._ready() and second._ready(), "the group did not rebalance over both workers"
            stack.produce([(r, i % PARTITIONS) for recs in recs_by_task for i, r in enumerate(recs[3:])])
            summaries = _summaries_for(stack, ids, timeout_s=90)
            assert len(summaries) == len(tasks)
            for task, trace_id in zip(tasks, ids, strict=True):
                assert summaries[trace_id]["tokens"]["total"] == _llm_tokens(task), task.agent
            spans, rekeyed = ([sum(float(line.rsplit(" ", 1)[1]) for line in w.metrics().splitlines()
                                   if line.startswith(name)) for w in (stack.worker, second)]
                              for name in ("agentwatch_spans_total{", "agentwatch_rekeyed_spans_total "))
            assert all(n > 0 for n in spans), spans  # both workers did part of the work
            assert 0 < sum(rekeyed) < sum(spans), rekeyed  # some spans crossed to the other worker, some stayed


def test_input_keyed_by_trace_is_aggregated_in_place(tmp_path_factory: pytest.TempPathFactory):
    """As the Collector writes with `partition_traces_by_id`: one record per trace, keyed by its hex ID, on
    the partition its exporter hashes the key to. No span takes the re-key hop: the re-key topic holds only
    the local shortcut's barriers. A trace put on another partition (a producer hashing differently)
    still makes one correct task (one worker owns every partition, so it is folded locally too)."""
    tasks = scenario_tasks(time.time_ns() - 200 * 10**9)
    ids, values = [], []
    for i, (task, start) in enumerate(tasks):
        provider = make_provider(task.agent)
        trace_id, _ = emit_task(tracer_for(provider, task.vocab), task, start)
        spans = provider.memory_exporter.get_finished_spans()
        home = collector_partition(trace_id, PARTITIONS)
        if i == 0:
            home = (home + 1) % PARTITIONS
        ids.append(trace_id)
        values.append((records(spans, per_record=len(spans))[0], home))
    for stack in _start_stack(tmp_path_factory, AGENTWATCH_INPUT_KEYED_BY_TRACE="true"):
        stack.produce(values, keys=[t.encode() for t in ids])
        summaries = _summaries_for(stack, ids, timeout_s=60)
        for (task, _), trace_id in zip(tasks, ids, strict=True):
            assert summaries[trace_id]["tokens"]["total"] == _llm_tokens(task), task.agent
        alerts = _json(consume(stack.broker.bootstrap, "agentwatch.alerts", timeout_s=5, until=lambda r: False))
        _assert_scenario_alerts(alerts)
        hops = consume(stack.broker.bootstrap, INTERNAL_TOPIC, timeout_s=3, until=lambda r: False)
        assert sorted(h.partition for h in hops) == list(range(PARTITIONS))  # one barrier each, no spans
        assert all(decode_batch(h.value).barrier for h in hops)
        rekeyed = [line for line in stack.worker.metrics().splitlines() if line.startswith("agentwatch_rekeyed_spans")]
        assert rekeyed == ["agentwatch_rekeyed_spans_total 0.0"]
