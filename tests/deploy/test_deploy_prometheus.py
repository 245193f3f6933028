"""Prometheus rules (promtool check/test, mutation checks) and the generated Grafana dashboard."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import pytest
import yaml
from deploy_helpers import CHART, ROOT, RULES, RULES_TEST, run_promtool

# CONTRACT.md §3: metric -> labels (histograms expand to _bucket/_sum/_count).
CONTRACT_METRICS = {
    "agentwatch_records_total": {"status"},
    "agentwatch_spans_total": {"kind"},
    "agentwatch_gen_ai_tokens_total": {"agent", "model", "token_type"},
    "agentwatch_gen_ai_cost_usd_total": {"agent", "model"},
    "agentwatch_gen_ai_calls_total": {"agent", "model", "provider", "status"},
    "agentwatch_tool_calls_total": {"agent", "tool", "status"},
    "agentwatch_tasks_total": {"agent", "outcome"},
    "agentwatch_task_tokens": {"agent"},
    "agentwatch_task_cost_usd": {"agent"},
    "agentwatch_task_duration_seconds": {"agent"},
    "agentwatch_task_tool_calls": {"agent"},
    "agentwatch_alerts_total": {"agent", "kind", "severity"},
    "agentwatch_active_tasks": set(),
    "agentwatch_evaluation_score": {"agent", "evaluation"},
    "agentwatch_dlq_total": {"reason"},
    "agentwatch_label_overflow_total": {"label"},
    "agentwatch_processing_lag_seconds": set(),
}
HISTOGRAMS = {"agentwatch_task_tokens", "agentwatch_task_cost_usd", "agentwatch_task_duration_seconds",
              "agentwatch_task_tool_calls", "agentwatch_evaluation_score"}
# Labels added by the scrape (target labels), not by agentwatch.
TARGET_LABELS = {"namespace", "instance", "job", "le"}


def _generate_module():
    spec = importlib.util.spec_from_file_location("aw_dashboard_generate", ROOT / "helm/dashboards/generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


GEN = _generate_module()


def _metric_selectors(expr: str):
    """(metric, {label names}) for every agentwatch_* selector in a PromQL expression."""
    for m in re.finditer(r"\b(agentwatch_[a-z_]+)(\{([^}]*)\})?", expr):
        labels = set(re.findall(r"([a-z_]+)\s*[!=]~?", m.group(3) or ""))
        yield m.group(1), labels


def _contract_name(metric: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = metric.removesuffix(suffix)
        if base != metric and base in HISTOGRAMS:
            return base
    return metric


def _by_labels(expr: str) -> set[str]:
    return {label.strip() for group in re.findall(r"by \(([^)]*)\)", expr) for label in group.split(",")}


def test_promtool_check_rules():
    proc = run_promtool("check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_test_rules():
    proc = run_promtool("test", "rules", str(RULES_TEST))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unit_tests_cover_every_alert():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    firing = {t["alertname"] for group in tests for t in group.get("alert_rule_test", []) if t["exp_alerts"]}
    silent = {t["alertname"] for group in tests for t in group.get("alert_rule_test", []) if not t["exp_alerts"]}
    assert alerts <= firing, f"no firing test for {alerts - firing}"
    assert alerts <= silent, f"no not-firing test for {alerts - silent}"


# A wrong expression must make the unit tests fail.
MUTATIONS = [
    ("> 300", "> 3000"),
    ("== 0", "== 1"),
    ("[10m])) > 0", "[10m])) > 100"),
    ("rate1h * 86400", "rate1h * 3600"),
    ("and on (namespace)", "or on (namespace)"),
    ("absent(up{", "absent(upp{"),
    ("for: 15m", "for: 2h"),
    ("vector(500)", "vector(5000)"),
    ("[30m])) > 0", "[30m])) > 1000"),
    ("sum by (namespace, agent) (increase(agentwatch_gen_ai_cost_usd_total[1d]))",
     "sum by (namespace, agent) (increase(agentwatch_gen_ai_cost_usd_total[1h]))"),
]


@pytest.mark.parametrize(("old", "new"), MUTATIONS)
def test_unit_tests_catch_wrong_expression(old, new, tmp_path):
    source = RULES.read_text()
    assert old in source
    (tmp_path / "agentwatch.rules.yml").write_text(source.replace(old, new))
    (tmp_path / "t.yml").write_text(RULES_TEST.read_text())
    proc = run_promtool("test", "rules", str(tmp_path / "t.yml"))
    assert proc.returncode != 0, f"unit tests still pass with {old!r} -> {new!r}"


def test_rules_use_contract_metrics():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            for metric, labels in _metric_selectors(rule["expr"]):
                name = _contract_name(metric)
                assert name in CONTRACT_METRICS, metric
                assert labels <= CONTRACT_METRICS[name] | TARGET_LABELS, (metric, labels)


def test_dashboard_json_is_current():
    committed = (CHART / "dashboards" / "agentwatch.json").read_text()
    assert committed == GEN.render(), "run: python helm/dashboards/generate.py"


def test_dashboard_shape():
    dash = json.loads(GEN.render())
    names = {v["name"] for v in dash["templating"]["list"]}
    assert {"agent", "namespace"} <= names
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == ["Fleet overview", "Per-agent detail"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and all(t["refId"] for t in panel["targets"])


def test_dashboard_queries_follow_contract():
    queries = GEN.dashboard_queries()
    assert len(queries) >= 20
    for title, expr in queries:
        assert "$" not in expr, (title, expr)
        selectors = list(_metric_selectors(expr))
        assert selectors or expr.startswith("sum(up{"), title
        for metric, labels in selectors:
            name = _contract_name(metric)
            assert name in CONTRACT_METRICS, (title, metric)
            assert labels <= CONTRACT_METRICS[name] | TARGET_LABELS, (title, metric, labels)
        allowed = set().union(TARGET_LABELS, *(CONTRACT_METRICS[_contract_name(m)] for m, _ in selectors))
        assert _by_labels(expr) <= allowed, (title, expr)
    text = " ".join(e for _, e in queries)
    assert "histogram_quantile" in text and 'kind="tool_loop"' in text and "agentwatch_evaluation_score" in text


def test_dashboard_queries_parse(tmp_path):
    """promtool parses PromQL when checking rules: wrap each query in a recording rule."""
    rules = [{"record": f"agentwatch:dashboard_query:{i}", "expr": expr}
             for i, (_, expr) in enumerate(GEN.dashboard_queries())]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = run_promtool("check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout
