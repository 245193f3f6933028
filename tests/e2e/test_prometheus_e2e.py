"""A real Prometheus (Debian's) scrapes a real worker; every dashboard panel's query returns data.

The traffic is chosen so every panel has something to show: the four-agent scenario, an LLM call that
fails, an evaluation score, and more agents than AGENTWATCH_MAX_LABEL_VALUES (label overflow).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from test_worker_e2e import Stack, _start_stack, _summaries_for

from agentwatch.demo.synth import Step, Task, scenario_tasks
from agentwatch.local.broker import LOOPBACK, ManagedProcess, free_port, http_ok

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus is not installed (make setup)"),
]
ROOT = Path(__file__).resolve().parents[2]


class Prometheus(ManagedProcess):
    name = "prometheus"

    def __init__(self, target: str) -> None:
        super().__init__(start_timeout_s=30)
        self.port = free_port()
        config = self._dir / "prometheus.yml"
        config.write_text(f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
                          f"scrape_configs:\n  - job_name: agentwatch\n    static_configs:\n"
                          f"      - targets: ['{target}']\n")
        self.config = config

    def _argv(self) -> list[str]:
        return ["prometheus", f"--config.file={self.config}", f"--storage.tsdb.path={self._dir / 'tsdb'}",
                f"--web.listen-address={LOOPBACK}:{self.port}"]

    def _env(self) -> Mapping[str, str]:
        import os
        return dict(os.environ)

    def _ready(self) -> bool:
        return http_ok(f"http://{LOOPBACK}:{self.port}/-/ready")

    def query(self, expr: str) -> list:
        url = f"http://{LOOPBACK}:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return doc["data"]["result"]


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Prometheus]]:
    for stack in _start_stack(tmp_path_factory, AGENTWATCH_MAX_LABEL_VALUES="4"):
        with Prometheus(f"{LOOPBACK}:{stack.worker.metrics_port}") as prom:
            yield stack, prom


def _dashboard_queries() -> list[tuple[str, str]]:
    sys.path.insert(0, str(ROOT / "helm" / "dashboards"))
    from generate import dashboard_queries

    return dashboard_queries()


def test_every_dashboard_query_returns_data(scraped):
    stack, prom = scraped
    now = time.time_ns()
    tasks = scenario_tasks(now - 200 * 10**9)
    tasks.append((Task("judge-bot", [Step("llm", input_tokens=50, output_tokens=5, error_type="RateLimitError")],
                       evaluations={"relevance": 0.7}), now - 20 * 10**9))
    tasks += [(Task(f"extra-{i}", [Step("tool", tool=f"t{i}", args={"i": i})]), now - 10 * 10**9) for i in range(3)]
    ids = stack.emit(tasks)
    stack.produce([(b"{not json", 0)])  # one for the DLQ panel
    _summaries_for(stack, ids, timeout_s=60)
    queries = _dashboard_queries()
    assert len(queries) >= 20
    deadline = time.monotonic() + 45  # rates need two scrapes after the data arrived
    empty = queries
    while time.monotonic() < deadline:
        empty = [(title, expr) for title, expr in queries if not prom.query(expr)]
        if not empty:
            break
        time.sleep(2)
    alerts = [line for line in stack.worker.metrics().splitlines() if line.startswith("agentwatch_alerts_total")]
    assert not empty, f"{alerts}\npanels without data:\n" + "\n".join(f"{t}: {e}" for t, e in empty)
