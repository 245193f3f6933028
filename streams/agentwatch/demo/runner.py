"""`agentwatch demo`: the whole pipeline on this machine, no flags, about half a minute.

    synthetic agents --OTLP/HTTP--> rotel --kafka--> tansu --> agentwatch worker --> alerts, summaries

Starts an embedded broker (tansu), a real collector (rotel, `--traces-batch-max-size 1024`) and a
worker, then runs agents instrumented with the real OpenTelemetry SDK, each its own service: a healthy
one, a looping one (same tool, same arguments), one that blows its token budget, one that stalls
mid-task, several tasks each, and a drifting one whose evaluation score falls (its recent history, four
hours of tasks with `gen_ai.evaluation.result` events sent as OTLP logs, is replayed at once).
Alerts are printed as they arrive; at the end a summary table per agent, then everything it started
is stopped. Exit 0 when every expected alert arrived and the healthy agent
had none.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, TextIO

import orjson

from ..alerts_cli import format_alert
from ..local.broker import EmbeddedBroker
from ..local.rotel import Rotel
from ..local.worker import LocalWorker
from ..settings import from_env
from ..stream.kafka_admin import ensure_topics
from ..stream.topology import INTERNAL_TOPIC
from .synth import (
    Step,
    Task,
    emit_evaluation,
    emit_task,
    make_logger_provider,
    make_provider,
    scenario_tasks,
    task_duration_ns,
    tracer_for,
)

# Short thresholds so a stall shows within the demo's minute; the rest are the built-in defaults.
DEMO_POLICY = """\
agents:
  - match: "*"
    task_tokens: 200000
    task_cost_usd: 2.50
    tool_repeat: 3
    stall_s: 8
    idle_timeout_s: 16
"""
EXPECTED = {("tool_loop", "looping-bot"), ("token_budget", "hungry-bot"), ("stalled_task", "stuck-bot"),
            ("score_drift", "drifting-bot")}
# drifting-bot: 3 h of history, one task every 5 min, then 24 tasks in the last hour whose answers score
# worse (window drift needs 10 scores in its 1 h window and a 15-minute hold)
DRIFT_HISTORY, DRIFT_DROP = 36, 24
PARTITIONS = 4
DEADLINE_S = 100.0


def _healthy(i: int) -> Task:
    return Task("healthy-bot", [
        Step("llm", input_tokens=1100 + 40 * i, output_tokens=60, duration_ms=700),
        Step("tool", tool="get_order_status", args={"order_id": f"A-{10290 + i}"}, duration_ms=200),
        Step("tool", tool="get_shipping_eta", args={"order_id": f"A-{10290 + i}"}, duration_ms=250),
        Step("llm", input_tokens=1500 + 40 * i, output_tokens=140, duration_ms=1200),
    ])


def _plan(now_ns: int) -> list[tuple[float, Task]]:
    """(seconds from start, task): each task is emitted so that it ends about when it is sent."""
    canon = {t.agent: t for t, _ in scenario_tasks(now_ns)}
    plan: list[tuple[float, Task]] = []
    for k in range(3):
        plan.append((1.0 + 4.0 * k, _healthy(k)))
    plan.append((2.0, canon["looping-bot"]))
    plan.append((9.0, canon["looping-bot"]))
    plan.append((3.0, canon["hungry-bot"]))
    plan.append((11.0, canon["hungry-bot"]))
    plan.append((4.0, canon["stuck-bot"]))
    return sorted(plan, key=lambda p: p[0])


def _drifting_history(tracer_provider: Any, logger_provider: Any, now_ns: int) -> list[str]:
    """drifting-bot's last four hours: relevance ~0.82, then ~0.55 for the last hour. Returns trace IDs.

    The older history goes in bulk; the last hour's scores one at a time, in time order, as they would
    arrive live (drift's 15-minute hold is judged in arrival order)."""
    import random

    rng = random.Random(7)
    minute = 60 * 10**9
    ends = [now_ns - (4 * 60 - 5 * i) * minute for i in range(DRIFT_HISTORY)]
    ends += [now_ns - 60 * minute + k * 150 * 10**9 for k in range(DRIFT_DROP)]
    ids = []
    for i, end in enumerate(ends):
        task = Task("drifting-bot", [Step("llm", input_tokens=rng.randint(1800, 2200), output_tokens=120,
                                          duration_ms=1500),
                                     Step("tool", tool="search_kb", args={"q": f"question {i}"}, duration_ms=300)])
        trace_id, last = emit_task(tracer_for(tracer_provider, "otel"), task, end - task_duration_ns(task))
        mean = 0.55 if i >= DRIFT_HISTORY else 0.82
        emit_evaluation(logger_provider, trace_id, "1" * 16, "relevance", round(rng.gauss(mean, 0.04), 3), last)
        ids.append(trace_id)
        if i >= DRIFT_HISTORY - 1:
            tracer_provider.force_flush()
            logger_provider.force_flush()
            time.sleep(0.3)
    return ids


class _Follower(threading.Thread):
    """Reads alerts and task summaries from the broker and prints alerts as they arrive."""

    def __init__(self, bootstrap: str, alerts_topic: str, tasks_topic: str, out: TextIO) -> None:
        super().__init__(name="demo-follower", daemon=True)
        from confluent_kafka import TopicPartition

        from ..stream.kafka_clients import consumer

        self.consumer = consumer(bootstrap, None, **{"group.id": "agentwatch-demo", "enable.auto.commit": False,
                                                     "auto.offset.reset": "earliest"})
        self.consumer.assign([TopicPartition(t, p, 0) for t in (alerts_topic, tasks_topic)
                              for p in range(PARTITIONS)])
        self.alerts_topic = alerts_topic
        self.out = out
        self.alerts: list[dict[str, Any]] = []
        self.summaries: list[dict[str, Any]] = []
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            msg = self.consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            doc = orjson.loads(msg.value())
            if msg.topic() == self.alerts_topic:
                self.alerts.append(doc)
                color = hasattr(self.out, "isatty") and self.out.isatty()
                self.out.write(f"  ALERT {format_alert(doc, color)}\n")
                self.out.flush()
            else:
                self.summaries.append(doc)
        self.consumer.close()


def _summary_table(summaries: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> str:
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: {"tasks": 0, "tokens": 0, "cost": 0.0, "outcomes": set()})
    for s in summaries:
        r = rows[s["agent"]]
        r["tasks"] += 1
        r["tokens"] += s["tokens"]["total"]
        r["cost"] += s["cost_usd"] or 0.0
        r["outcomes"].add(s["outcome"])
    by_agent: dict[str, list[str]] = defaultdict(list)
    for a in alerts:
        by_agent[a["agent"]].append(a["kind"])
    lines = [f"  {'agent':14} {'tasks':>5} {'tokens':>9} {'cost USD':>9}  {'outcomes':18} alerts",
             "  " + "-" * 78]
    for agent in sorted(set(rows) | set(by_agent)):
        r = rows[agent]
        kinds = ", ".join(f"{k} x{by_agent[agent].count(k)}" for k in sorted(set(by_agent[agent]))) or "-"
        lines.append(f"  {agent:14} {r['tasks']:>5} {r['tokens']:>9,} {r['cost']:>9.4f}  "
                     f"{','.join(sorted(r['outcomes'])):18} {kinds}")
    return "\n".join(lines)


def run_demo(out: TextIO = sys.stdout) -> int:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    settings = from_env({})
    work = Path(tempfile.mkdtemp(prefix="agentwatch-demo-"))
    policy = work / "policy.yaml"
    policy.write_text(DEMO_POLICY)
    say("agentwatch demo: embedded broker (tansu) + collector (rotel) + worker + synthetic agents")
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker())
        say(f"  broker    tansu on {broker.bootstrap} (in memory)")
        ensure_topics(broker.bootstrap, {settings.spans_topic: PARTITIONS, settings.alerts_topic: PARTITIONS,
                                         settings.tasks_topic: PARTITIONS, settings.dlq_topic: PARTITIONS,
                                         INTERNAL_TOPIC: PARTITIONS})
        rotel = stack.enter_context(Rotel(broker.bootstrap, topic=settings.spans_topic, logs_topic="otlp_logs"))
        say(f"  collector rotel, OTLP/HTTP {rotel.otlp_http_endpoint} -> kafka topics {settings.spans_topic}, "
            "otlp_logs (--traces-batch-max-size 1024)")
        worker = LocalWorker(broker.url, {"AGENTWATCH_POLICY": str(policy), "AGENTWATCH_PARTITIONS": str(PARTITIONS),
                                          "AGENTWATCH_LOGS_TOPIC": "otlp_logs", "AGENTWATCH_LOG_LEVEL": "WARNING"})
        say("  worker    starting (joins the consumer group, recovers its table)...")
        stack.enter_context(worker)
        say(f"  worker    ready; metrics on {worker.metrics_url}")
        follower = _Follower(broker.bootstrap, settings.alerts_topic, settings.tasks_topic, out)
        follower.start()
        stack.callback(follower.join, 5)
        stack.callback(follower.stop_flag.set)
        providers: dict[str, Any] = {}

        def provider_for(agent: str) -> Any:
            if agent not in providers:
                exporter = OTLPSpanExporter(endpoint=f"{rotel.otlp_http_endpoint}/v1/traces", timeout=10)
                providers[agent] = make_provider(agent, {"k8s.namespace.name": "agents",
                                                         "k8s.deployment.name": agent,
                                                         "k8s.pod.name": f"{agent}-7d4f9-0"},
                                                 exporter=exporter, batch=True)
                stack.callback(providers[agent].shutdown)
            return providers[agent]

        plan = _plan(time.time_ns())
        say(f"\nrunning {len(plan)} tasks of 4 agents: healthy-bot, looping-bot, hungry-bot, stuck-bot "
            f"(stall after {8}s of silence);\nreplaying drifting-bot's last 4 hours "
            f"({DRIFT_HISTORY + DRIFT_DROP} tasks, relevance scores as OTLP log events)\n")
        start = time.monotonic()
        judge = make_logger_provider("drifting-bot", OTLPLogExporter(endpoint=f"{rotel.otlp_http_endpoint}/v1/logs"))
        stack.callback(judge.shutdown)
        drift_ids = _drifting_history(provider_for("drifting-bot"), judge, time.time_ns())
        providers["drifting-bot"].force_flush()
        judge.force_flush()
        for at, task in plan:
            time.sleep(max(0.0, at - (time.monotonic() - start)))
            # Emit with timestamps that end now: the task "just ran", as if exported live.
            provider = provider_for(task.agent)
            emit_task(tracer_for(provider, task.vocab), task, time.time_ns() - task_duration_ns(task))
            provider.force_flush()
        expected_tasks = len(plan) + len(drift_ids)
        deadline = start + DEADLINE_S
        while time.monotonic() < deadline:
            seen = {(a["kind"], a["agent"]) for a in follower.alerts}
            if seen >= EXPECTED and len(follower.summaries) >= expected_tasks:
                break
            time.sleep(0.5)
        time.sleep(1.0)  # let stragglers print
        follower.stop_flag.set()
        seen = {(a["kind"], a["agent"]) for a in follower.alerts}
        healthy_alerts = [a for a in follower.alerts if a["agent"] == "healthy-bot"]
        say(f"\nsummary ({len(follower.summaries)} task summaries from agentwatch.tasks, "
            f"{len(follower.alerts)} alerts from agentwatch.alerts):\n")
        say(_summary_table(follower.summaries, follower.alerts))
        missing = sorted(EXPECTED - seen)
        ok = not missing and not healthy_alerts
        say("")
        for kind, agent in sorted(EXPECTED):
            say(f"  {'ok  ' if (kind, agent) in seen else 'MISSING'} {kind} for {agent}")
        say(f"  {'ok  ' if not healthy_alerts else 'UNEXPECTED'} no alert for healthy-bot")
        say(f"\ndemo {'passed' if ok else 'FAILED'} in {time.monotonic() - start:.0f}s; stopping everything.")
    return 0 if ok else 1
