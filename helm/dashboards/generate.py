"""Generate the agentwatch Grafana dashboard (helm/agentwatch/dashboards/agentwatch.json).

    python helm/dashboards/generate.py          # rewrite the JSON
    python helm/dashboards/generate.py --check  # exit 1 if the committed JSON is stale

Needs grafana-foundation-sdk==1769699379!11.6.0 (the Grafana 11.6 build). Metric names and labels follow
CONTRACT.md §3. `dashboard_queries()` gives every panel's PromQL with variables substituted, so tests can
parse (or run) them against Prometheus.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

OUT = Path(__file__).resolve().parents[1] / "agentwatch" / "dashboards" / "agentwatch.json"
UID = "agentwatch-overview"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
# What dashboard_queries() puts in place of Grafana variables: "All" is ".*" for both selectors.
SUBSTITUTIONS = {"$namespace": ".*", "$agent": ".*", "$__rate_interval": "5m"}

N = 'namespace=~"$namespace"'
NA = f'{N}, agent=~"$agent"'
RI = "[$__rate_interval]"


@dataclass(frozen=True)
class Panel:
    title: str
    targets: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"  # timeseries | stat
    width: int = 8
    description: str = ""


def _quantiles(metric: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"histogram_quantile({q}, sum by (agent, le) (rate({metric}_bucket{{{NA}}}{RI})))",
         f"p{int(q * 100)} {{{{agent}}}}")
        for q in (0.5, 0.95, 0.99)
    )


FLEET = (
    Panel("Token burn rate by agent and model",
          ((f"sum by (agent, model) (rate(agentwatch_gen_ai_tokens_total{{{NA}}}{RI}))", "{{agent}} / {{model}}"),),
          unit="short", description="Tokens per second, all token types."),
    Panel("Cost rate by agent and model (USD/hour)",
          ((f"sum by (agent, model) (rate(agentwatch_gen_ai_cost_usd_total{{{NA}}}{RI})) * 3600",
            "{{agent}} / {{model}}"),),
          unit="currencyUSD"),
    Panel("Spend, last 24h",
          ((f"sum by (agent) (increase(agentwatch_gen_ai_cost_usd_total{{{NA}}}[24h]))", "{{agent}}"),),
          unit="currencyUSD", kind="stat"),
    Panel("Alert rate by kind (per minute)",
          ((f"sum by (kind, severity) (rate(agentwatch_alerts_total{{{NA}}}{RI})) * 60", "{{kind}} ({{severity}})"),),
          unit="short"),
    Panel("Tasks by outcome (per second)",
          ((f"sum by (outcome) (rate(agentwatch_tasks_total{{{NA}}}{RI}))", "{{outcome}}"),), unit="short"),
    Panel("Active tasks",
          ((f"sum(agentwatch_active_tasks{{{N}}})", "open tasks"),), unit="short", kind="stat", width=4),
    Panel("Workers up",
          ((f'sum(up{{job=~".*agentwatch.*", {N}}})', "workers"),), unit="short", kind="stat", width=4),
    Panel("Processing lag",
          ((f"max by (instance) (agentwatch_processing_lag_seconds{{{N}}})", "{{instance}}"),), unit="s", width=6,
          description="Now minus the newest processed span end time; grows on an idle topic too."),
    Panel("Records by status (per second)",
          ((f"sum by (status) (rate(agentwatch_records_total{{{N}}}{RI}))", "{{status}}"),), unit="short", width=6),
    Panel("DLQ rate by reason (per second)",
          ((f"sum by (reason) (rate(agentwatch_dlq_total{{{N}}}{RI}))", "{{reason}}"),), unit="short", width=6),
    Panel("Label overflow (values folded into __other__, per second)",
          ((f"sum by (label) (rate(agentwatch_label_overflow_total{{{N}}}{RI}))", "{{label}}"),),
          unit="short", width=6),
)

AGENT = (
    Panel("Task cost quantiles", _quantiles("agentwatch_task_cost_usd"), unit="currencyUSD"),
    Panel("Task duration quantiles", _quantiles("agentwatch_task_duration_seconds"), unit="s"),
    Panel("Task tokens quantiles", _quantiles("agentwatch_task_tokens"), unit="short"),
    Panel("Tool calls per task quantiles", _quantiles("agentwatch_task_tool_calls"), unit="short"),
    Panel("Tool call success ratio by tool",
          ((f'sum by (tool) (rate(agentwatch_tool_calls_total{{{NA}, status="ok"}}{RI}))'
            f" / sum by (tool) (rate(agentwatch_tool_calls_total{{{NA}}}{RI}))", "{{tool}}"),),
          unit="percentunit"),
    Panel("LLM call error ratio by model",
          ((f'sum by (model) (rate(agentwatch_gen_ai_calls_total{{{NA}, status="error"}}{RI}))'
            f" / sum by (model) (rate(agentwatch_gen_ai_calls_total{{{NA}}}{RI}))", "{{model}}"),),
          unit="percentunit"),
    Panel("Tool-loop alerts",
          ((f'sum by (agent, severity) (increase(agentwatch_alerts_total{{{NA}, kind="tool_loop"}}{RI}))',
            "{{agent}} ({{severity}})"),),
          unit="short"),
    Panel("Evaluation scores (mean)",
          ((f"sum by (agent, evaluation) (rate(agentwatch_evaluation_score_sum{{{NA}}}{RI}))"
            f" / sum by (agent, evaluation) (rate(agentwatch_evaluation_score_count{{{NA}}}{RI}))",
            "{{agent}} / {{evaluation}}"),),
          unit="short"),
    Panel("Token rate by type",
          ((f"sum by (agent, token_type) (rate(agentwatch_gen_ai_tokens_total{{{NA}}}{RI}))",
            "{{agent}} / {{token_type}}"),),
          unit="short"),
)

ROWS = (("Fleet overview", FLEET), ("Per-agent detail", AGENT))


def _panel(p: Panel, panel_id: int):
    builder = (stat.Panel() if p.kind == "stat" else timeseries.Panel().fill_opacity(10))
    builder = builder.id(panel_id).title(p.title).datasource(DS).unit(p.unit).span(p.width).height(8)
    if p.description:
        builder = builder.description(p.description)
    for i, (expr, legend) in enumerate(p.targets):
        builder = builder.with_target(
            prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DS).ref_id(chr(ord("A") + i))
        )
    return builder


def _variables() -> list:
    all_option = VariableOption(selected=True, text="All", value="$__all")
    return [
        db.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        db.QueryVariable("namespace").label("Namespace").datasource(DS)
        .query("label_values(agentwatch_records_total, namespace)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True).include_all(True).all_value(".*").current(all_option),
        db.QueryVariable("agent").label("Agent").datasource(DS)
        .query('label_values(agentwatch_tasks_total{namespace=~"$namespace"}, agent)')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True).include_all(True).all_value(".*").current(all_option),
    ]


def build() -> dict:
    """The dashboard as a JSON-ready dict."""
    d = (
        db.Dashboard("agentwatch")
        .uid(UID)
        .description("AI agent tokens, cost, tasks and alerts from agentwatch (fleet overview and per-agent detail)")
        .tags(["agentwatch", "genai", "opentelemetry"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time("now-6h", "now")
        .refresh("30s")
        .timezone("browser")
        .variables(_variables())
    )
    panel_id = 0
    for title, panels in ROWS:
        panel_id += 1
        d = d.with_row(db.Row(title).id(panel_id))
        for p in panels:
            panel_id += 1
            d = d.with_panel(_panel(p, panel_id))
    return json.loads(json.dumps(d.build(), cls=JSONEncoder))


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target, Grafana variables replaced by SUBSTITUTIONS."""
    out = []
    for _, panels in ROWS:
        for p in panels:
            for expr, _legend in p.targets:
                for var, value in SUBSTITUTIONS.items():
                    expr = expr.replace(var, value)
                out.append((p.title, expr))
    return out


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python helm/dashboards/generate.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
