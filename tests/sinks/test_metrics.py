"""The Prometheus sink: contract names and labels, the label-value bound, and no ID labels."""

from prometheus_client import generate_latest

from agentwatch.demo.synth import Step, Task
from agentwatch.engine import Engine, EngineConfig
from agentwatch.policy import Policy
from agentwatch.sinks.metrics import OTHER, Metrics
from otel_helpers import T0, decode, record_of


def _text(m: Metrics) -> str:
    return generate_latest(m.registry).decode()


def test_label_values_are_capped_with_overflow_counted():
    m = Metrics(max_label_values=3)
    for i in range(5):
        m.tool(f"agent{i}", "search", "ok", 1)
    text = _text(m)
    assert text.count('agentwatch_tool_calls_total{agent="agent') == 3
    assert f'agentwatch_tool_calls_total{{agent="{OTHER}",status="ok",tool="search"}} 2.0' in text
    assert 'agentwatch_label_overflow_total{label="agent"} 2.0' in text


def test_enumerated_labels_are_never_folded():
    m = Metrics(max_label_values=2)
    m.spans([1, 1, 1, 1])  # four span kinds
    for kind in ("tool_loop", "token_budget", "stalled_task"):
        m.alert({"agent": "a", "kind": kind, "severity": "critical"})
    text = _text(m)
    assert f'"{OTHER}"' not in text and "agentwatch_label_overflow_total{" not in text
    assert 'agentwatch_alerts_total{agent="a",kind="stalled_task",severity="critical"} 1.0' in text


def test_engine_drives_contract_metrics():
    m = Metrics()
    engine = Engine(Policy(), observer=m)
    task = Task("bot", [Step("llm", model="gpt-4o", input_tokens=100, output_tokens=10),
                        Step("tool", tool="search", args={"q": 1})] + [Step("tool", tool="search", args={"q": 1})] * 2)
    engine.process(decode(record_of([(task, T0)])))
    engine.flush()
    text = _text(m)
    for line in [
        'agentwatch_gen_ai_tokens_total{agent="bot",model="gpt-4o",token_type="input"} 100.0',
        'agentwatch_gen_ai_calls_total{agent="bot",model="gpt-4o",provider="openai",status="ok"} 1.0',
        'agentwatch_tool_calls_total{agent="bot",status="ok",tool="search"} 3.0',
        'agentwatch_tasks_total{agent="bot",outcome="ok"} 1.0',
        'agentwatch_alerts_total{agent="bot",kind="tool_loop",severity="critical"} 1.0',
        'agentwatch_spans_total{kind="llm"} 1.0',
        'agentwatch_task_tokens_count{agent="bot"} 1.0',
    ]:
        assert line in text, line
    assert 'agentwatch_gen_ai_cost_usd_total{agent="bot",model="gpt-4o"}' in text


def test_tail_keep_counts_tasks_and_bytes_by_status_and_reason():
    m = Metrics()
    e = Engine(Policy(), EngineConfig(keep=True, keep_max_worker_bytes=1), observer=m)
    e.process(decode(record_of([(Task("bot", [Step("llm", input_tokens=1, output_tokens=1)]), T0)])))
    text = _text(m)
    assert 'agentwatch_tail_keep_tasks_total{reason="worker_bytes",status="dropped"} 1.0' in text
    assert 'agentwatch_tail_keep_bytes_total{reason="worker_bytes",status="dropped"}' in text
