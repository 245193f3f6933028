"""The Helm chart: strict lint, rendering, Kubernetes schemas, values schema, PrometheusRule groups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import helm_python as helm
import pytest
import yaml
from deploy_helpers import CHART, RULES, RULES_TEST, VARIANTS, by_kind, manifests, render, run_promtool

KUBE_VERSIONS = ["1.29.0", "1.32.0"]
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}


def _env(deploy: dict) -> dict[str, dict]:
    return {e["name"]: e for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}


def _container(deploy: dict) -> dict:
    return deploy["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_lint_strict(variant, kube):
    report = helm.lint(CHART, VARIANTS[variant], strict=True, kube_version=f"v{kube}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_kubernetes_validate_strict(variant, kube, tmp_path):
    docs = manifests(VARIANTS[variant])
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    exe = Path(sys.executable).with_name("kubernetes-validate")
    proc = subprocess.run([str(exe), "--strict", "-k", kube, str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Every core object passed against its schema; only the CRDs (checked elsewhere) may be unknown.
    for doc in docs:
        ref = f"{doc['kind'].lower()}/{doc['metadata']['name']}"
        if doc["kind"] in CRD_KINDS:
            assert f"kind {doc['kind']}" in proc.stdout
        else:
            assert f"passed for resource {ref} against version" in proc.stdout, proc.stdout


def test_defaults():
    docs = manifests()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap", "ConfigMap", "Deployment", "Service", "ServiceAccount"]
    (deploy,) = by_kind(docs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    c = _container(deploy)
    assert c["image"] == "ghcr.io/agentwatch/agentwatch:0.1.0"
    assert c["args"] == ["run"]
    assert deploy["spec"]["replicas"] == 2
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["ports"] == [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == deploy["spec"]["selector"][
        "matchLabels"]
    env = _env(deploy)
    assert env["AGENTWATCH_DATA_DIR"]["value"] == "/data"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["data"] == "/data" and "emptyDir" in volumes["data"]
    assert env["AGENTWATCH_POLICY"]["value"] == mounts["policy"] + "/policy.yaml"
    assert env["AGENTWATCH_BROKERS"]["value"] == "kafka://kafka:9092"
    assert env["AGENTWATCH_MAX_RECORD_BYTES"]["value"] == "1048576"  # no float formatting
    assert env["AGENTWATCH_TASK_KEY"]["value"] == "trace"
    assert env["AGENTWATCH_INPUT_KEYED_BY_TRACE"]["value"] == "false"
    assert env["AGENTWATCH_METRICS_PORT"]["value"] == "9464"
    assert env["AGENTWATCH_TAIL_KEEP"]["value"] == "true"
    assert env["AGENTWATCH_KEEP_MAX_WORKER_BYTES"]["value"] == "67108864"  # no float formatting
    assert env["AGENTWATCH_HIBERNATE_AFTER_S"]["value"] == "30"
    assert "AGENTWATCH_LOGS_TOPIC" not in env  # "" = off
    assert not any(k.startswith("AGENTWATCH_SASL") for k in env)
    policy_cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-policy"))
    policy = yaml.safe_load(policy_cm["data"]["policy.yaml"])
    assert policy["agents"][0]["match"] == "*"
    (svc,) = by_kind(docs, "Service")
    assert svc["spec"]["ports"][0]["targetPort"] == "metrics"


def test_every_contract_env_var_settable():
    values = {"config": {"spansTopic": "s", "spansEncoding": "otlp_json", "logsTopic": "l", "alertsTopic": "a",
                         "tasksTopic": "t", "dlqTopic": "d", "taskKey": "conversation", "maxActiveTasks": 7,
                         "maxRecordBytes": 2097152, "maxLabelValues": 50, "logLevel": "WARNING",
                         "metricsPort": 9500, "flaggedTopic": "f", "tailKeep": False, "keepMaxWorkerBytes": 1024,
                         "hibernateAfterS": 2.5}}
    env = {k: v.get("value") for k, v in _env(by_kind(manifests(values), "Deployment")[0]).items()}
    assert {k: env[k] for k in env if k != "AGENTWATCH_POLICY"} == {
        "AGENTWATCH_BROKERS": "kafka://kafka:9092", "AGENTWATCH_DATA_DIR": "/data",
        "AGENTWATCH_METRICS_PORT": "9500", "AGENTWATCH_SPANS_TOPIC": "s", "AGENTWATCH_SPANS_ENCODING": "otlp_json",
        "AGENTWATCH_LOGS_TOPIC": "l", "AGENTWATCH_ALERTS_TOPIC": "a", "AGENTWATCH_TASKS_TOPIC": "t",
        "AGENTWATCH_DLQ_TOPIC": "d", "AGENTWATCH_TASK_KEY": "conversation", "AGENTWATCH_MAX_ACTIVE_TASKS": "7",
        "AGENTWATCH_MAX_RECORD_BYTES": "2097152", "AGENTWATCH_MAX_LABEL_VALUES": "50",
        "AGENTWATCH_LOG_LEVEL": "WARNING", "AGENTWATCH_INPUT_KEYED_BY_TRACE": "false",
        "AGENTWATCH_FLAGGED_TOPIC": "f", "AGENTWATCH_TAIL_KEEP": "false", "AGENTWATCH_KEEP_MAX_WORKER_BYTES": "1024",
        "AGENTWATCH_HIBERNATE_AFTER_S": "2.5",
    }


@pytest.mark.parametrize("variant", ["all-on-hpa", "all-on-keda"])
def test_all_options(variant):
    docs = manifests(VARIANTS[variant])
    kinds = {d["kind"] for d in docs}
    assert {"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget", "ConfigMap"} <= kinds
    (deploy,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "agentwatch"]
    assert "replicas" not in deploy["spec"]  # the autoscaler owns it
    env = _env(deploy)
    assert env["AGENTWATCH_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["AGENTWATCH_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["AGENTWATCH_SASL_USERNAME"]["valueFrom"]["secretKeyRef"] == {"name": "kafka-creds", "key": "username"}
    assert env["AGENTWATCH_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "kafka-creds", "key": "password"}
    assert env["AGENTWATCH_INPUT_KEYED_BY_TRACE"]["value"] == "true"
    ca_mount = next(m for m in _container(deploy)["volumeMounts"] if m["name"] == "kafka-ca")
    assert env["AGENTWATCH_SSL_CAFILE"]["value"] == ca_mount["mountPath"] + "/ca.crt"
    ca_vol = next(v for v in deploy["spec"]["template"]["spec"]["volumes"] if v["name"] == "kafka-ca")
    assert ca_vol["secret"] == {"secretName": "kafka-creds", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    (sm,) = by_kind(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    if variant == "all-on-hpa":
        (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
        assert hpa["spec"]["scaleTargetRef"]["name"] == deploy["metadata"]["name"]
        assert not by_kind(docs, "ScaledObject")
    else:
        assert not by_kind(docs, "HorizontalPodAutoscaler")
        (so,) = by_kind(docs, "ScaledObject")
        (ta,) = by_kind(docs, "TriggerAuthentication")
        trigger = so["spec"]["triggers"][0]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"] == {
            "bootstrapServers": "b1.kafka:9093,b2.kafka:9093", "consumerGroup": "agentwatch",
            "topic": "otlp_spans", "lagThreshold": "1000", "offsetResetPolicy": "latest",
            "sasl": "scram_sha512", "tls": "enable"}
        assert trigger["authenticationRef"]["name"] == ta["metadata"]["name"]
        refs = {r["parameter"]: (r["name"], r["key"]) for r in ta["spec"]["secretTargetRef"]}
        assert refs == {"username": ("kafka-creds", "username"), "password": ("kafka-creds", "password"),
                        "ca": ("kafka-creds", "ca.crt"), "cert": ("agentwatch-kafka-user", "user.crt"),
                        "key": ("agentwatch-kafka-user", "user.key"),
                        "keyPassword": ("agentwatch-kafka-user", "user.password")}


def test_policy_change_rolls_pods():
    def checksum(values):
        deploy = by_kind(manifests(values), "Deployment")[0]
        return deploy["spec"]["template"]["metadata"]["annotations"]["checksum/policy"]

    base = checksum({})
    changed = checksum({"policy": {"agents": [{"match": "*", "task_tokens": 1000}]}})
    assert base != changed
    assert checksum({"replicaCount": 5}) == base


def test_policy_null_uses_builtin_defaults():
    docs = manifests({"policy": None})
    assert not [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-policy")]
    assert "AGENTWATCH_POLICY" not in _env(by_kind(docs, "Deployment")[0])


def test_dashboard_configmap():
    (cm,) = [d for d in by_kind(manifests(), "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    committed = json.loads((CHART / "dashboards" / "agentwatch.json").read_text())
    assert json.loads(cm["data"]["agentwatch.json"]) == committed
    assert not [d for d in by_kind(manifests({"dashboard": {"enabled": False}}), "ConfigMap")
                if d["metadata"]["name"].endswith("-dashboard")]


def test_notes_name_topics_and_metrics():
    notes = render()["agentwatch/templates/NOTES.txt"]
    for text in ("agentwatch.alerts", "agentwatch.tasks", "agentwatch.dlq", "/metrics", ":9464"):
        assert text in notes


@pytest.mark.parametrize(("values", "field"), [
    ({"replicaCount": 0}, "/replicaCount"),
    ({"replicaCount": "3"}, "/replicaCount"),
    ({"config": {"taskKey": "span"}}, "/config/taskKey"),
    ({"config": {"maxRecordBytes": -1}}, "/config/maxRecordBytes"),
    ({"config": {"hibernateAfterS": -1}}, "/config/hibernateAfterS"),
    ({"config": {"metricsPort": 70000}}, "/config/metricsPort"),
    ({"kafka": {"brokers": "kafka:9092"}}, "/kafka/brokers"),
    ({"kafka": {"securityProtocol": "SASL"}}, "/kafka/securityProtocol"),
    ({"policy": {"agents": [{"match": "*", "task_tokns": 5}]}}, "/policy/agents/0"),
    ({"replicas": 2}, "replicas"),
])
def test_schema_rejects_bad_values(values, field):
    with helm.Chart.load(CHART) as chart:
        with pytest.raises(helm.HelmValuesError) as err:
            chart.validate_schema(values)
        assert field in str(err.value)
        with pytest.raises(helm.HelmValuesError):
            chart.render(values, name="agentwatch")


@pytest.mark.parametrize(("values", "message"), [
    ({"autoscaling": {"enabled": True}, "keda": {"enabled": True}}, "mutually exclusive"),
    ({"kafka": {"securityProtocol": "SASL_SSL"}}, "kafka.existingSecret is required"),
    ({"kafka": {"clientCert": {"existingSecret": "c"}}}, "kafka.clientCert and kafka.checkHostname=false need"),
    ({"kafka": {"securityProtocol": "SASL_PLAINTEXT", "saslMechanism": "PLAIN", "existingSecret": "s",
                "checkHostname": False}}, "kafka.clientCert and kafka.checkHostname=false need"),
    ({"config": {"taskKey": "conversation", "inputKeyedByTrace": True}}, "inputKeyedByTrace"),
    ({"notify": {"enabled": True}}, "notify.alertmanagerUrl is required"),
])
def test_inconsistent_values_fail_clearly(values, message):
    with pytest.raises(helm.HelmError) as err:
        render(values)
    assert message in str(err.value)


def test_chart_rules_copy_matches_source():
    copy = CHART / "files" / "agentwatch.rules.yml"
    assert copy.read_text() == RULES.read_text(), f"run: cp {RULES} {copy}"


def _rule_spec(values: dict) -> dict:
    (rule,) = by_kind(manifests({"prometheusRule": {"enabled": True}, **values}), "PrometheusRule")
    return rule["spec"]


def test_prometheusrule_groups_pass_promtool(tmp_path):
    spec = _rule_spec({})
    assert spec == yaml.safe_load(RULES.read_text())
    rules = tmp_path / "agentwatch.rules.yml"
    rules.write_text(yaml.safe_dump(spec))
    proc = run_promtool("check", "rules", str(rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the unit tests pass against the rendered groups too
    (tmp_path / "t.yml").write_text(RULES_TEST.read_text())
    proc = run_promtool("test", "rules", str(tmp_path / "t.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheusrule_budget_value(tmp_path):
    spec = _rule_spec({"prometheusRule": {"enabled": True, "dailyBudgetUsd": 120.5}})
    budget = [r for g in spec["groups"] for r in g["rules"] if r.get("record") == "agentwatch:daily_budget_usd"]
    assert [r["expr"] for r in budget] == ["vector(120.5)"]
    rules = tmp_path / "r.yml"
    rules.write_text(yaml.safe_dump(spec))
    assert run_promtool("check", "rules", str(rules)).returncode == 0


def test_policy_configmap_loads_in_worker(tmp_path):
    """The chart's policy ConfigMap is a file the worker's own loader accepts."""
    from agentwatch.policy import load_policy

    (cm,) = [d for d in by_kind(manifests(), "ConfigMap") if d["metadata"]["name"].endswith("-policy")]
    path = tmp_path / "policy.yaml"
    path.write_text(cm["data"]["policy.yaml"])
    policy = load_policy(path)
    assert policy.rule_for("any-agent").task_tokens == 200000


def test_mtls_from_an_existing_secret():
    """mTLS as the README shows it: client certificate, key and passphrase from a Secret, hostname check off."""
    values = {"kafka": {"brokers": "kafka://kafka.internal:9093", "securityProtocol": "SSL",
                        "existingSecret": "kafka-ca", "caKey": "ca.crt", "checkHostname": False,
                        "clientCert": {"existingSecret": "agentwatch-tls", "keyPasswordKey": "key-password"}}}
    (deploy,) = by_kind(manifests(values), "Deployment")
    env = _env(deploy)
    assert env["AGENTWATCH_SSL_CERTFILE"]["value"] == "/etc/agentwatch/kafka-client/tls.crt"
    assert env["AGENTWATCH_SSL_KEYFILE"]["value"] == "/etc/agentwatch/kafka-client/tls.key"
    assert env["AGENTWATCH_SSL_KEY_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "agentwatch-tls",
                                                                               "key": "key-password"}
    assert env["AGENTWATCH_SSL_CHECK_HOSTNAME"]["value"] == "false"
    assert "AGENTWATCH_SASL_PASSWORD" not in env
    volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kafka-client"]["secret"] == {"secretName": "agentwatch-tls", "defaultMode": 0o440, "items": [
        {"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}]}
    mounts = {m["name"]: m for m in _container(deploy)["volumeMounts"]}
    assert mounts["kafka-client"] == {"name": "kafka-client", "mountPath": "/etc/agentwatch/kafka-client",
                                      "readOnly": True}
    # Defaults: hostname verification on, no client certificate.
    env = _env(by_kind(manifests(), "Deployment")[0])
    assert not {"AGENTWATCH_SSL_CHECK_HOSTNAME", "AGENTWATCH_SSL_CERTFILE", "AGENTWATCH_SSL_KEYFILE"} & set(env)


def test_network_policy_admits_only_the_scrape_and_the_brokers():
    assert not by_kind(manifests(), "NetworkPolicy")  # off by default
    scraper = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    (np,) = by_kind(manifests({"kafka": {"brokers": "kafka://b1:9093;kafka://b2:9093;kafka://b3"},
                               "networkPolicy": {"enabled": True, "metricsFrom": [scraper]}}), "NetworkPolicy")
    spec = np["spec"]
    assert spec["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "agentwatch",
                                                  "app.kubernetes.io/instance": "agentwatch"}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [scraper]}]
    kafka, dns = spec["egress"]
    assert kafka == {"ports": [{"port": 9093, "protocol": "TCP"}, {"port": 9092, "protocol": "TCP"}]}
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    brokers = [{"podSelector": {"matchLabels": {"strimzi.io/kind": "Kafka"}}}]
    extra = {"to": [{"podSelector": {"matchLabels": {"app": "alertmanager"}}}], "ports": [{"port": 9093}]}
    (np,) = by_kind(manifests({"networkPolicy": {"enabled": True, "kafkaTo": brokers, "kafkaPorts": [9094],
                                                 "dns": False, "extraEgress": [extra]}}), "NetworkPolicy")
    assert np["spec"]["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
    assert np["spec"]["egress"] == [{"ports": [{"port": 9094, "protocol": "TCP"}], "to": brokers}, extra]


def test_notify_deployment_posts_to_alertmanager_with_the_workers_kafka_settings():
    docs = manifests(VARIANTS["all-on-hpa"])
    worker, notify = (next(d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == n)
                      for n in ("agentwatch", "agentwatch-notify"))
    c = _container(notify)
    assert c["args"] == ["notify"] and "ports" not in c and c["securityContext"]["readOnlyRootFilesystem"] is True
    env = _env(notify)
    assert env["AGENTWATCH_ALERTMANAGER_URL"]["value"] == "http://alertmanager-operated.monitoring:9093"
    assert env["AGENTWATCH_TRACE_URL"]["value"] == "https://tempo.example/trace/{trace_id}"
    assert (env["AGENTWATCH_NOTIFY_RESOLVE_S"]["value"], env["AGENTWATCH_NOTIFY_MAX_AGE_S"]["value"]) == ("300", "3600")
    worker_env = _env(worker)
    for name in ("AGENTWATCH_BROKERS", "AGENTWATCH_SECURITY_PROTOCOL", "AGENTWATCH_SASL_PASSWORD",
                 "AGENTWATCH_SSL_CAFILE", "AGENTWATCH_SSL_CERTFILE"):
        assert env[name] == worker_env[name], name
    mounts = {m["name"] for m in c["volumeMounts"]}
    assert {"kafka-ca", "kafka-client"} <= mounts
    # the worker's selectors (Service, PDB, autoscaler) must not pick up notify pods
    worker_sel = worker["spec"]["selector"]["matchLabels"]
    pod_labels = notify["spec"]["template"]["metadata"]["labels"]
    assert not worker_sel.items() <= pod_labels.items()
    assert notify["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert not [d for d in by_kind(manifests(), "Deployment") if d["metadata"]["name"] == "agentwatch-notify"]
