"""agentwatch.guard without Kafka: which traces stop, the pod's health, and the three ways to be stopped."""

import pytest
from opentelemetry.sdk.trace import TracerProvider

from agentwatch.guard import Guard, GuardSpanProcessor, GuardState, TaskStopped

T1, T2 = "1" * 32, "2" * 32


def alert(trace: str, kind: str = "token_budget", action: str = "terminate", service: str = "bot",
          pod: str = "bot-1") -> dict:
    return {"kind": kind, "action": action, "trace_id": trace, "service": service,
            "resource": {"k8s.pod.name": pod}, "message": f"{kind} hit"}


def test_only_terminate_alerts_of_this_service_and_pod_stop_a_trace() -> None:
    state = GuardState(service="bot", pod="bot-1")
    for a in (alert(T1, action="review"), alert(T1, service="other"), alert(T1, pod="bot-2"), {"trace_id": 5}):
        state.feed(a, 0.0)
    state.check(T1)  # nothing raised
    state.feed(alert(T1), 0.0)
    with pytest.raises(TaskStopped) as err:
        state.check(T1)
    assert err.value.alert["kind"] == "token_budget" and T1 in str(err.value)
    state.check(T2)
    state.check(None)


def test_bounded_oldest_trace_forgotten_first() -> None:
    state = GuardState(max_traces=2)
    for t in (T1, T2, "3" * 32):
        state.feed(alert(t), 0.0)
    assert list(state.stop) == [T2, "3" * 32]
    state.check(T1)


def test_health_flips_for_a_looping_task_and_back() -> None:
    state = GuardState(unhealthy_ttl_s=60)
    assert state.healthy(0.0)
    state.feed(alert(T1, kind="tool_loop"), 0.0)
    assert not state.healthy(1.0)
    with pytest.raises(TaskStopped):
        state.check(T1)  # the agent stopped the looping task: healthy again
    assert state.healthy(1.0)
    state.feed(alert(T2, kind="stalled_task", action="review"), 10.0)
    assert not state.healthy(69.0) and state.healthy(70.0)  # or the flag expires
    state.feed(alert(T2, kind="stalled_task", action="review"), 100.0)
    assert not state.healthy(101.0)
    cleared = {**alert(T2, kind="stalled_task", action="notify"), "resolves": {"alert_id": "s" * 64}}
    state.feed(cleared, 102.0)  # or the stall's all-clear arrives: the task moved again
    assert state.healthy(102.0)


def test_check_guarded_and_the_span_processor_use_the_current_trace() -> None:
    guard = Guard(GuardState())
    provider = TracerProvider()
    provider.add_span_processor(GuardSpanProcessor(guard))
    tracer = provider.get_tracer("t")
    calls = []

    @guard.guarded()
    def tool() -> None:
        calls.append(1)

    with tracer.start_as_current_span("agent") as root:
        trace = format(root.get_span_context().trace_id, "032x")
        tool()
        guard.feed(alert(trace))
        with pytest.raises(TaskStopped):
            tool()
        with pytest.raises(TaskStopped), guard.guarded():
            calls.append(2)
        with pytest.raises(TaskStopped), tracer.start_as_current_span("chat gpt-4o"):
            calls.append(3)
    assert calls == [1]
    guard.check()  # outside any trace: nothing to stop
