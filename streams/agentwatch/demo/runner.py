"""`agentwatch demo`: the whole pipeline on this machine, no flags, about a minute.

    synthetic agents --OTLP/HTTP--> rotel --kafka--> tansu --> agentwatch worker --> alerts, summaries
         ^                                                                             |        |
         +--------------------------- agentwatch.guard <------------------------------+        |
                                      agentwatch notify --> Alertmanager --> webhook (printed) <+

Starts an embedded broker (tansu), a real collector (rotel, `--traces-batch-max-size 1024`), a worker
and, where Debian's `prometheus-alertmanager` is installed, `agentwatch notify` posting to a local
Alertmanager that delivers to a webhook this process prints. Then it runs agents instrumented with the
real OpenTelemetry SDK, each its own service: a healthy one (several tasks), one that stalls mid-task, a
drifting one whose evaluation score falls (its recent history, four hours of tasks with
`gen_ai.evaluation.result` events sent as OTLP logs, is replayed at once), and two that run live under
`agentwatch.guard` (each span exported as it ends, `guard.check()` before every step): a looping one
(same tool, same arguments) and one that blows its token budget. The guard stops both; the demo prints
what each would still have spent. Alerts are printed as they arrive; at the end a summary table per
agent, then everything it started is stopped. Exit 0 when every expected alert arrived, the guard
stopped both tasks, the healthy agent had no alert and (with Alertmanager) a notification was delivered.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from ..alerts_cli import format_alert
from ..guard import Guard, TaskStopped
from ..local.alertmanager import Alertmanager, Notify, Webhook, alertmanager_installed
from ..local.broker import EmbeddedBroker
from ..local.rotel import Rotel
from ..local.worker import LocalWorker
from ..settings import Settings, from_env
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
    plan = [(1.0 + 4.0 * k, _healthy(k)) for k in range(3)]
    plan.append((4.0, canon["stuck-bot"]))
    return sorted(plan, key=lambda p: p[0])


def _guarded_tasks() -> list[tuple[float, Task]]:
    """(seconds from start, task) of the agents that run live under the guard; each would run to its end."""
    loop: list[Step] = []
    for k in range(12):  # the same search over and over: the framework's step limit would end it at 12
        loop += [Step("llm", input_tokens=900 + 160 * k, output_tokens=24, duration_ms=600),
                 Step("tool", tool="search", args={"q": "weather in Paris"}, duration_ms=350)]
    hungry = [Step("llm", model="gpt-4o", input_tokens=24_000 + 800 * k, output_tokens=1_500, duration_ms=1_100)
              for k in range(14)]  # re-reads a growing document: 200k tokens after the 8th call
    return [(2.0, Task("looping-bot", loop, conversation_id="conv-looping-0001")),
            (3.0, Task("hungry-bot", hungry, conversation_id="conv-hungry-0001"))]


@dataclass
class Stopped:
    """A task the guard stopped: what it had done and what it would still have spent."""

    agent: str
    trace_id: str
    kind: str
    step: int
    steps: list[Step]

    @property
    def saved_calls(self) -> tuple[int, int]:
        rest = self.steps[self.step:]
        return sum(s.kind == "llm" for s in rest), sum(s.kind == "tool" for s in rest)

    @property
    def saved_tokens(self) -> int:
        return sum(s.input_tokens + s.output_tokens for s in self.steps[self.step:] if s.kind == "llm")

    def line(self) -> str:
        model, tool = self.saved_calls
        return (f"  GUARD stopped {self.agent} task {self.trace_id[:12]}.. ({self.kind}) before step "
                f"{self.step + 1} of {len(self.steps)}: saved {model + tool} calls ({model} model, {tool} tool) "
                f"and {self.saved_tokens:,} tokens against running to the end")


def _run_guarded(task: Task, provider: Any, bootstrap: str, alerts_topic: str) -> Stopped | None:
    """Run `task` live as its agent would, with `guard.check()` before every step; None if never stopped."""
    guard = Guard.start(bootstrap, alerts_topic, service=task.agent)
    try:
        deadline = time.monotonic() + 20
        while guard.blind and time.monotonic() < deadline:
            time.sleep(0.05)
        done = [0]

        def before_step(trace_id: str, i: int) -> None:
            done[0] = i
            guard.check(trace_id)

        try:
            emit_task(tracer_for(provider, task.vocab), task, time.time_ns(), live=True, before_step=before_step)
        except TaskStopped as stop:
            return Stopped(task.agent, stop.alert["trace_id"], stop.alert["kind"], done[0], task.steps)
        return None
    finally:
        guard.close()


def _notification_line(body: dict[str, Any]) -> str:
    return "\n".join(
        f"  WEBHOOK {a['status']} {a['labels'].get('alertname')} severity={a['labels'].get('severity')} "
        f"agent={a['labels'].get('agent')} (Alertmanager group {body.get('groupKey', '')[:40]}): "
        f"{a['annotations'].get('summary', '')}"
        for a in body.get("alerts", []))


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

    def __init__(self, bootstrap: str, alerts_topic: str, tasks_topic: str, out: TextIO,
                 say: Callable[[str], None]) -> None:
        super().__init__(name="demo-follower", daemon=True)
        from confluent_kafka import TopicPartition

        from ..stream.kafka_clients import consumer

        self.consumer = consumer(bootstrap, None, **{"group.id": "agentwatch-demo", "enable.auto.commit": False,
                                                     "auto.offset.reset": "earliest"})
        self.consumer.assign([TopicPartition(t, p, 0) for t in (alerts_topic, tasks_topic)
                              for p in range(PARTITIONS)])
        self.alerts_topic = alerts_topic
        self.color = hasattr(out, "isatty") and out.isatty()
        self.say = say
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
                self.say(f"  ALERT {format_alert(doc, self.color)}")
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
        by_agent[a["agent"]].append(a["kind"] if "resolves" not in a else "all-clear")
    lines = [f"  {'agent':14} {'tasks':>5} {'tokens':>9} {'cost USD':>9}  {'outcomes':18} alerts",
             "  " + "-" * 78]
    for agent in sorted(set(rows) | set(by_agent)):
        r = rows[agent]
        kinds = ", ".join(f"{k} x{by_agent[agent].count(k)}" for k in sorted(set(by_agent[agent]))) or "-"
        lines.append(f"  {agent:14} {r['tasks']:>5} {r['tokens']:>9,} {r['cost']:>9.4f}  "
                     f"{','.join(sorted(r['outcomes'])):18} {kinds}")
    return "\n".join(lines)


def _start_notify(stack: contextlib.ExitStack, work: Path, brokers: str, alerts_topic: str,
                  say: Callable[[str], None]) -> Webhook | None:
    """Alertmanager delivering to a printed webhook, and `agentwatch notify` feeding it; None (and a note)
    where prometheus-alertmanager is not installed."""
    if not alertmanager_installed():
        say("  notify    skipped: Debian's prometheus-alertmanager is not installed (`make setup` installs it)")
        return None
    hook = Webhook(on_body=lambda body: say(_notification_line(body)))
    stack.callback(hook.close)
    am = stack.enter_context(Alertmanager(hook.url, work / "alertmanager"))
    stack.enter_context(Notify(am.url, brokers, alerts_topic, directory=work))
    say(f"  notify    agentwatch notify -> Alertmanager {am.url} -> webhook {hook.url} (printed as WEBHOOK)")
    return hook


def _replay_incidents(bootstrap: str, settings: Settings, policy: Path, work: Path, say: Callable[[str], None]) -> bool:
    """Tail-keep's loop: export what the worker flagged, replay it, and check every alert is raised again."""
    import io

    from ..engine import Engine, EngineConfig
    from ..export import export_flagged, missing_alerts
    from ..policy import load_policy
    from ..replay import replay

    path = work / "incidents.otlp"
    export, expected_path = export_flagged(bootstrap, settings.flagged_topic, path, timeout_s=10, warn=say)
    expected = orjson.loads(expected_path.read_bytes())
    engine = Engine(load_policy(policy), EngineConfig.from_settings(settings))
    produced = {a["alert_id"] for out in replay([path], engine, max_record_bytes=settings.max_record_bytes,
                                                err=io.StringIO()) for a in out.alerts}
    missing, _ = missing_alerts(expected, produced)
    kinds = sorted({k for t in expected["tasks"] for k in t["alert_kinds"]})
    n = sum(len(t["alert_ids"]) for t in expected["tasks"])
    say(f"tail-keep: {len(export.tasks)} tasks that alerted ({', '.join(kinds)}) kept on {settings.flagged_topic}; "
        f"exported as a regression set ({path.name}) and replayed: {n - len(missing)} of their {n} alerts "
        f"raised again\n  (`agentwatch export --out incidents.otlp`, then `agentwatch replay incidents.otlp "
        f"--expect incidents.otlp.expected.json` gates a policy change on them)")
    return bool(export.tasks) and not missing


def run_demo(out: TextIO = sys.stdout) -> int:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
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
        hook = _start_notify(stack, work, broker.url, settings.alerts_topic, say)
        follower = _Follower(broker.bootstrap, settings.alerts_topic, settings.tasks_topic, out, say)
        follower.start()
        stack.callback(follower.join, 5)
        stack.callback(follower.stop_flag.set)
        providers: dict[str, Any] = {}

        def provider_for(agent: str, live: bool = False) -> Any:
            """Batched export for tasks sent whole; one export per span as it ends for the live agents."""
            if agent not in providers:
                exporter = OTLPSpanExporter(endpoint=f"{rotel.otlp_http_endpoint}/v1/traces", timeout=10)
                providers[agent] = make_provider(agent, {"k8s.namespace.name": "agents",
                                                         "k8s.deployment.name": agent,
                                                         "k8s.pod.name": f"{agent}-7d4f9-0"},
                                                 exporter=exporter, batch=not live)
                stack.callback(providers[agent].shutdown)
            return providers[agent]

        plan = _plan(time.time_ns())
        guarded = _guarded_tasks()
        say(f"\nrunning {len(plan)} tasks of healthy-bot and stuck-bot (stall after 8s of silence); looping-bot "
            f"and hungry-bot live under agentwatch.guard;\nreplaying drifting-bot's last 4 hours "
            f"({DRIFT_HISTORY + DRIFT_DROP} tasks, relevance scores as OTLP log events)\n")
        start = time.monotonic()
        judge = make_logger_provider("drifting-bot", OTLPLogExporter(endpoint=f"{rotel.otlp_http_endpoint}/v1/logs"))
        stack.callback(judge.shutdown)
        drift_ids = _drifting_history(provider_for("drifting-bot"), judge, time.time_ns())
        providers["drifting-bot"].force_flush()
        judge.force_flush()
        stopped: list[Stopped] = []

        def run_guarded(at: float, task: Task) -> None:
            provider = provider_for(task.agent, live=True)
            time.sleep(max(0.0, at - (time.monotonic() - start)))
            result = _run_guarded(task, provider, broker.bootstrap, settings.alerts_topic)
            if result is not None:
                stopped.append(result)
                say(result.line())
            else:
                say(f"  GUARD never stopped {task.agent}: it ran all {len(task.steps)} steps")

        agents = [threading.Thread(target=run_guarded, args=g, daemon=True) for g in guarded]
        for a in agents:
            a.start()
        for at, task in plan:
            time.sleep(max(0.0, at - (time.monotonic() - start)))
            # Emit with timestamps that end now: the task "just ran", as if exported live.
            provider = provider_for(task.agent)
            emit_task(tracer_for(provider, task.vocab), task, time.time_ns() - task_duration_ns(task))
            provider.force_flush()
        for a in agents:
            a.join(DEADLINE_S)
        expected_tasks = len(plan) + len(guarded) + len(drift_ids)
        deadline = start + DEADLINE_S
        while time.monotonic() < deadline:
            seen = {(a["kind"], a["agent"]) for a in follower.alerts}
            delivered = hook is None or hook.alerts("firing")
            if seen >= EXPECTED and len(follower.summaries) >= expected_tasks and delivered:
                break
            time.sleep(0.5)
        time.sleep(1.0)  # let stragglers print
        follower.stop_flag.set()
        seen = {(a["kind"], a["agent"]) for a in follower.alerts}
        healthy_alerts = [a for a in follower.alerts if a["agent"] == "healthy-bot"]
        say(f"\nsummary ({len(follower.summaries)} task summaries from agentwatch.tasks, "
            f"{len(follower.alerts)} alerts from agentwatch.alerts):\n")
        say(_summary_table(follower.summaries, follower.alerts))
        say("")
        for st in stopped:
            say(st.line())
        say("")
        replayed = _replay_incidents(broker.bootstrap, settings, policy, work, say)
        checks = [(f"{kind} for {agent}", (kind, agent) in seen) for kind, agent in sorted(EXPECTED)]
        checks += [(f"the guard stopped {t.agent}", any(st.agent == t.agent for st in stopped)) for _, t in guarded]
        checks.append(("no alert for healthy-bot", not healthy_alerts))
        checks.append(("the flagged tasks replay to the same alerts", replayed))
        if hook is not None:
            checks.append(("an alert delivered through Alertmanager to the webhook", bool(hook.alerts("firing"))))
        say("")
        for what, good in checks:
            say(f"  {'ok  ' if good else 'FAILED'} {what}")
        ok = all(good for _, good in checks)
        say(f"\ndemo {'passed' if ok else 'FAILED'} in {time.monotonic() - start:.0f}s; stopping everything.")
    return 0 if ok else 1
