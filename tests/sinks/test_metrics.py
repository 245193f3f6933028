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


def test_histograms_expose_cumulative_buckets_count_and_sum():
    """The dict-backed histograms expose what prometheus_client's did: `le` as Go floats, cumulative counts,
    `_count` equal to the +Inf bucket, `_sum`; a value on a bound counts in that bound's bucket (le)."""
    m = Metrics()
    for total, tools in ((100, 0), (150, 2), (1e7, 3)):
        m.task_closed({"agent": "a", "outcome": "ok", "tokens": {"total": total}, "cost_usd": None,
                       "duration_s": 1.0, "tool_calls": tools, "scores": {}})
    get = m.registry.get_sample_value
    assert get("agentwatch_task_tokens_bucket", {"agent": "a", "le": "100.0"}) == 1  # 100 <= 100
    assert get("agentwatch_task_tokens_bucket", {"agent": "a", "le": "1000.0"}) == 2
    assert get("agentwatch_task_tokens_bucket", {"agent": "a", "le": "5e+06"}) == 2
    assert get("agentwatch_task_tokens_bucket", {"agent": "a", "le": "+Inf"}) == 3
    assert get("agentwatch_task_tokens_count", {"agent": "a"}) == 3
    assert get("agentwatch_task_tokens_sum", {"agent": "a"}) == 100 + 150 + 1e7
    assert get("agentwatch_task_tool_calls_bucket", {"agent": "a", "le": "0.0"}) == 1
    assert get("agentwatch_task_cost_usd_count", {"agent": "a"}) is None  # no cost: no observation


def test_unlabelled_counters_show_zero_from_the_start_and_a_scrape_can_ask_by_name():
    m = Metrics()
    text = generate_latest(m.registry.restricted_registry(["agentwatch_late_spans_total"])).decode()
    assert "agentwatch_late_spans_total 0.0" in text and "agentwatch_tool_calls" not in text
    m.late_spans(3)
    m.tool("a", "t", "ok", 2)
    text = generate_latest(m.registry.restricted_registry(["agentwatch_late_spans_total",
                                                           "agentwatch_tool_calls_total"])).decode()
    assert "agentwatch_late_spans_total 3.0" in text
    assert 'agentwatch_tool_calls_total{agent="a",status="ok",tool="t"} 2.0' in text


def test_a_scrape_while_the_worker_adds_series_never_fails():
    """The HTTP thread collects while the worker thread inserts new label sets: each family is copied before
    it is read, so a scrape never sees a dict change size under it."""
    import threading

    m = Metrics(max_label_values=100_000)
    stop, errors = threading.Event(), []

    def scrape():
        while not stop.is_set():
            try:
                generate_latest(m.registry)
            except Exception as exc:  # pragma: no cover - the failure this test is for
                errors.append(exc)
                return

    t = threading.Thread(target=scrape)
    t.start()
    try:
        for i in range(20_000):
            m.tool(f"agent{i % 500}", f"tool{i}", "ok", 1)
            m.evaluation_score(f"agent{i % 500}", f"ev{i % 50}", 0.5)
    finally:
        stop.set()
        t.join()
    assert not errors
    assert m.registry.get_sample_value("agentwatch_tool_calls_total",
                                       {"agent": "agent7", "tool": "tool7", "status": "ok"}) == 1


def test_the_label_cache_is_one_bound_for_every_family(monkeypatch):
    """Label values as sent -> as exposed are cached in one dict for every metric (`_LABEL_CACHE_MAX`); when full
    it is cleared, and the values still land on the same series."""
    from agentwatch.sinks import metrics

    monkeypatch.setattr(metrics, "_LABEL_CACHE_MAX", 5)
    m = Metrics(max_label_values=3)
    for i in range(40):
        m.tool(f"agent{i % 4}", "search", "ok", 1)
        m.alert({"agent": f"agent{i % 4}", "kind": "tool_loop", "severity": "critical"})
        assert len(m.cap._keys) <= 5
    get = m.registry.get_sample_value
    assert get("agentwatch_tool_calls_total", {"agent": "agent0", "tool": "search", "status": "ok"}) == 10
    assert get("agentwatch_tool_calls_total", {"agent": OTHER, "tool": "search", "status": "ok"}) == 10
    assert get("agentwatch_alerts_total", {"agent": OTHER, "kind": "tool_loop", "severity": "critical"}) == 10
