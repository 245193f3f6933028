"""The worker's HTTP endpoints: /metrics (whole, or only the series asked for), /healthz, /readyz."""

import urllib.error
import urllib.request

import pytest

from agentwatch.local.broker import free_port
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.http import Health, serve


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def endpoint() -> tuple[int, Metrics, Health]:
    metrics, health, port = Metrics(10), Health(), free_port()
    server = serve(port, metrics.registry, health, host="127.0.0.1")
    yield port, metrics, health
    server.shutdown()
    server.server_close()


def test_metrics_whole_or_restricted_by_name(endpoint: tuple[int, Metrics, Health]) -> None:
    port, metrics, _ = endpoint
    metrics.record("ok")
    metrics.active_tasks.set(3)
    code, whole = _get(port, "/metrics")
    assert code == 200 and 'agentwatch_records_total{status="ok"} 1.0' in whole
    assert "agentwatch_active_tasks 3.0" in whole
    code, some = _get(port, "/metrics?name[]=agentwatch_records_total")
    assert code == 200 and 'agentwatch_records_total{status="ok"} 1.0' in some
    assert "agentwatch_active_tasks" not in some


def test_health_and_readiness(endpoint: tuple[int, Metrics, Health]) -> None:
    port, _, health = endpoint
    assert _get(port, "/healthz")[0] == 200
    assert _get(port, "/readyz") == (503, "starting\n")
    health.ready, health.reason = True, "ready: 4 partition(s)"
    assert _get(port, "/readyz") == (200, "ready: 4 partition(s)\n")
    assert _get(port, "/nope")[0] == 404
