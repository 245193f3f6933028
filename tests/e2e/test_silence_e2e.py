"""agent_silent through a real worker and broker: an agent that stops closing tasks while others go on is
reported once, nothing more is reported while the whole input is quiet, and the agent's next task
brings the all-clear."""

from __future__ import annotations

import time

import orjson
import pytest
from kafka_helpers import consume, wait_until
from test_worker_e2e import PARTITIONS, _start_stack

from agentwatch.demo.synth import Step, Task, emit_task, encode, make_provider, task_duration_ns, tracer_for

pytestmark = pytest.mark.e2e

S = 10**9


def _task(agent: str, end_ns: int) -> bytes:
    """One real SDK task of `agent` (a model call) ending at `end_ns`, as one OTLP record."""
    provider = make_provider(agent, {"k8s.namespace.name": "e2e"})
    task = Task(agent, [Step("llm", input_tokens=120, output_tokens=12, duration_ms=100)])
    emit_task(tracer_for(provider, "otel"), task, end_ns - task_duration_ns(task))
    return encode(provider.memory_exporter.get_finished_spans())


def test_agent_silent_fires_once_for_a_silent_agent_and_never_for_a_quiet_system(tmp_path_factory) -> None:
    t0 = time.time_ns() - 150 * S  # the recent past
    for stack in _start_stack(tmp_path_factory):
        # 32 tasks each, one every 2 s of event time: a baseline gap of 2 s (the silence floor is 60 s)
        history = [_task(agent, t0 + i * 2 * S + off) for i in range(32)
                   for agent, off in (("steady-bot", 0), ("fading-bot", S // 2))]
        stack.produce([(rec, i % PARTITIONS) for i, rec in enumerate(history)])

        def alerts(bootstrap: str = stack.broker.bootstrap) -> list[dict]:
            recs = consume(bootstrap, "agentwatch.alerts", timeout_s=3, until=lambda r: False)
            return [orjson.loads(r.value) for r in recs]

        # steady-bot goes on (a task every 5 s of event time, one record per worker tick: heard time
        # advances 5 s a step); fading-bot closes none: silent after 60 s heard
        t = t0 + 64 * S
        for k in range(16):
            t += 5 * S
            stack.produce([(_task("steady-bot", t), k % PARTITIONS)])
            time.sleep(1.5)
        wait_until(lambda: any(a["kind"] == "agent_silent" for a in alerts()), 30, "an agent_silent alert")
        time.sleep(6)  # the whole input is quiet now: heard time stands still, nobody else becomes silent
        silent = [a for a in alerts() if a["kind"] == "agent_silent"]
        assert [(a["agent"], a["severity"], a["action"]) for a in silent] == [("fading-bot", "warning", "notify")]
        assert not any(a["kind"] != "agent_silent" for a in alerts())  # and nothing else was raised

        stack.produce([(_task("fading-bot", t + S), 0)])  # heard again
        wait_until(lambda: len([a for a in alerts() if a["kind"] == "agent_silent"]) == 2, 30, "the all-clear")
        (clear,) = [a for a in alerts() if a["kind"] == "agent_silent" and "resolves" in a]
        assert (clear["agent"], clear["severity"]) == ("fading-bot", "info")
        assert clear["resolves"]["alert_id"] == silent[0]["alert_id"]
