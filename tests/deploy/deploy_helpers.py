"""Shared helpers for the deployment tests (chart, rules, dashboard, collector config)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "agentwatch"
RULES = ROOT / "helm" / "prometheus" / "agentwatch.rules.yml"
RULES_TEST = ROOT / "helm" / "prometheus" / "agentwatch.rules.test.yml"
COLLECTOR = ROOT / "collector-config"

# Values turning every optional resource on; HPA and KEDA are mutually exclusive, so two variants.
ALL_ON = {
    "kafka": {"brokers": "kafka://b1.kafka:9093;kafka://b2.kafka:9093", "securityProtocol": "SASL_SSL",
              "saslMechanism": "SCRAM-SHA-512", "existingSecret": "kafka-creds", "caKey": "ca.crt",
              "clientCert": {"existingSecret": "agentwatch-kafka-user", "certKey": "user.crt", "keyKey": "user.key",
                             "keyPasswordKey": "user.password"}},
    "networkPolicy": {"enabled": True, "metricsFrom": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
    "config": {"logsTopic": "otlp_logs", "inputKeyedByTrace": True, "logLevel": "DEBUG"},
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "podDisruptionBudget": {"enabled": True},
    "dashboard": {"enabled": True},
    "notify": {"enabled": True, "alertmanagerUrl": "http://alertmanager-operated.monitoring:9093",
               "traceUrl": "https://tempo.example/trace/{trace_id}"},
}
VARIANTS = {
    "default": {},
    "all-on-hpa": {**ALL_ON, "autoscaling": {"enabled": True}},
    "all-on-keda": {**ALL_ON, "keda": {"enabled": True}},
}


def render(values: dict | None = None, name: str = "agentwatch", namespace: str = "observability") -> dict[str, str]:
    """{template path: text}, NOTES.txt included."""
    with helm.Chart.load(CHART) as chart:
        return chart.render(values or {}, name=name, namespace=namespace)


def manifests(values: dict | None = None, **kw) -> list[dict]:
    """Rendered Kubernetes objects (NOTES.txt dropped, empty documents skipped)."""
    docs = []
    for path, text in sorted(render(values, **kw).items()):
        if path.endswith("NOTES.txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)
