"""Secure Kafka end to end: a worker, `doctor` and `alerts` over TLS, mTLS, SASL (PLAIN, SCRAM-SHA-256/512)
and SASL_SSL; wrong CA, missing client certificate, name mismatch and wrong password each stop `run`,
`doctor` and `alerts` with one line and exit 2, without a retry storm; the password is never printed.

The brokers are tansu behind the TLS front (stunnel) and the SASL front (sasl_proxy.py) of secure_helpers.py;
the clients under test (librdkafka for the producer, admin and CLI consumers, aiokafka inside Faust) do
their half of each handshake for real. Each kind of broker gets its own tansu: the worker's consumer group
and internal topics are named after the app, so two workers must not share one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from secure_helpers import PASSWORD, Pki, SecureKafka

from agentwatch.demo.synth import Step, Task, emit_task, encode, make_provider, tracer_for
from agentwatch.local.broker import child_env, free_port
from agentwatch.local.worker import LocalWorker
from agentwatch.stream.kafka_clients import consumer, kafka_security_config

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("stunnel4") is None and shutil.which("stunnel") is None,
                                                  reason="stunnel4 is not installed (make setup installs it)")]

KINDS = {
    "ssl": {"tls": True},
    "mtls": {"tls": True, "mtls": True},
    "sasl_plaintext": {"sasl": True},
    "sasl_ssl": {"tls": True, "sasl": True},
    "wrongname": {"tls": True, "server_cert": "wrongname"},  # the broker's certificate names kafka.internal
}
POLICY = "agents:\n  - match: \"*\"\n    task_tokens: 1000\n"
OUTPUTS: list[tuple[str, str]] = []  # (what, text) of every run below, for the secret grep at the end


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def brokers(pki: Pki) -> Iterator[dict[str, SecureKafka]]:
    started: dict[str, SecureKafka] = {}
    try:
        for kind, opts in KINDS.items():
            started[kind] = SecureKafka(pki, **opts).start()
        yield started
    finally:
        for k in started.values():
            k.stop()


def cli(args: list[str], env: dict[str, str], timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    full = child_env(drop_prefixes=("AGENTWATCH_",))
    full.update(env)
    proc = subprocess.run([sys.executable, "-m", "agentwatch.cli", *args], env=full, capture_output=True,
                          text=True, timeout=timeout_s)
    OUTPUTS.append((f"agentwatch {' '.join(args)}", proc.stdout + proc.stderr))
    return proc


def refusals(kafka: SecureKafka) -> int:
    """Logins the SASL front refused so far, or handshakes the TLS front refused (its log)."""
    text = kafka.logs()
    return text.count("refused user=") + text.count("SSL_accept: ")


def produce_task(kafka: SecureKafka, env: dict[str, str], topic: str) -> str:
    """One real SDK task of 6,000 tokens (over the 1,000 budget) as one OTLP record; returns its trace ID."""
    from confluent_kafka import Producer

    provider = make_provider("secure-bot", {"k8s.namespace.name": "secure"})
    trace_id, _ = emit_task(tracer_for(provider, "otel"), Task("secure-bot", [
        Step("llm", input_tokens=5000, output_tokens=1000), Step("tool", tool="search", args={"q": "x"})]),
        time.time_ns() - 5_000_000_000)
    value = encode(list(provider.memory_exporter.get_finished_spans()))
    p = Producer({"bootstrap.servers": kafka.bootstrap, **kafka_security_config(env)})
    p.produce(topic, value)
    assert p.flush(30) == 0
    return trace_id


def read_summary(kafka: SecureKafka, env: dict[str, str], topic: str, trace_id: str, deadline: float) -> dict:
    c = consumer(kafka.bootstrap, kafka_security_config(env), **{"group.id": f"t-{uuid.uuid4().hex}",
                                                                   "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                doc = orjson.loads(m.value())
                if doc.get("trace_id") == trace_id:
                    return doc
        raise AssertionError(f"no summary for {trace_id} on {topic}")
    finally:
        c.close()


def env_for(kafka: SecureKafka, tmp_path: Path, **overrides: str) -> dict[str, str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return {**kafka.env(**overrides), "AGENTWATCH_POLICY": str(policy), "AGENTWATCH_PARTITIONS": "2",
            "AGENTWATCH_BROKER_WAIT_S": "60"}


@pytest.mark.parametrize(("kind", "overrides"), [
    ("ssl", {}),
    ("mtls", {}),
    ("sasl_plaintext", {"sasl_mechanism": "SCRAM-SHA-256"}),
    ("sasl_ssl", {}),  # SCRAM-SHA-512
    ("wrongname", {"ssl_check_hostname": "false"}),
])
def test_worker_doctor_and_alerts_work(brokers: dict[str, SecureKafka], tmp_path: Path, kind: str,
                                       overrides: dict[str, str]) -> None:
    kafka = brokers[kind]
    env = env_for(kafka, tmp_path, **overrides)
    worker = LocalWorker(kafka.url, env)
    worker.start()
    try:
        trace_id = produce_task(kafka, env, "otlp_spans")
        deadline = time.monotonic() + 60
        summary = read_summary(kafka, env, "agentwatch.tasks", trace_id, deadline)
        assert summary["tokens"]["total"] == 6000
        while True:  # the alerts CLI reads the budget alert over the same connection
            alerts = cli(["alerts", "--no-follow", "--from-beginning", "--json", "--timeout", "10"], env)
            assert alerts.returncode == 0, alerts.stderr
            if trace_id in alerts.stdout:
                break
            assert time.monotonic() < deadline, alerts.stdout + alerts.stderr
            time.sleep(1)
        found = [json.loads(line) for line in alerts.stdout.splitlines() if trace_id in line]
        assert found[0]["kind"] == "token_budget"
        doctor = cli(["doctor", "--json", "--timeout", "10"], {**env, "AGENTWATCH_METRICS_PORT": str(free_port())})
        checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert checks["broker"]["status"] == "PASS", checks["broker"]
        assert all(c["status"] != "FAIL" for c in checks.values()), checks
        OUTPUTS.append((f"{kind} /metrics", worker.metrics()))
    finally:
        worker.stop(timeout_s=20)
        OUTPUTS.append((f"{kind} worker log", worker.log_path.read_text() if worker.log_path.exists() else ""))
    OUTPUTS.append((f"{kind} broker fronts", kafka.logs()))


@pytest.mark.parametrize(("kind", "overrides", "why"), [
    ("sasl_ssl", {"sasl_password": "wrong-" + PASSWORD[::-1]}, "SASL authentication failed"),
    ("sasl_plaintext", {"sasl_mechanism": "PLAIN", "sasl_password": "wrong-" + PASSWORD[::-1]},
     "SASL authentication failed"),
    ("sasl_plaintext", {"sasl_username": "nobody"}, "SASL authentication failed"),
    ("ssl", {"ssl_cafile": "other-ca.pem"}, "TLS handshake failed"),
    ("mtls", {"ssl_certfile": "", "ssl_keyfile": ""}, "TLS handshake failed"),
    ("wrongname", {}, "TLS handshake failed"),  # hostname verification is on by default
])
@pytest.mark.parametrize("command", ["run", "doctor", "alerts"])
def test_refused_security_stops_at_once(brokers: dict[str, SecureKafka], pki: Pki, tmp_path: Path, kind: str,
                                        overrides: dict[str, str], why: str, command: str) -> None:
    kafka = brokers[kind]
    overrides = {k: (pki.path(v) if k.endswith("file") and v else v) for k, v in overrides.items()}
    env = env_for(kafka, tmp_path, **overrides)
    before = refusals(kafka)
    args = {"run": ["run", "--embedded-broker"], "doctor": ["doctor", "--timeout", "20"],
            "alerts": ["alerts", "--no-follow", "--timeout", "20"]}[command]
    t0 = time.monotonic()
    proc = cli(args, {**env, "AGENTWATCH_METRICS_PORT": str(free_port())})
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = (proc.stdout if command == "doctor" else proc.stderr).strip().splitlines()
    line = next(x for x in out if why in x)
    assert f"Kafka broker at {kafka.bootstrap}: {why}" in line, out
    if command != "doctor":  # run and alerts: that one line is all they print
        assert out == [line], out
    # No retry storm: the process stops after the first refusals instead of waiting out the 20-60 s deadline.
    # Those first refusals are librdkafka's parallel first connections (bootstrap and broker, per client):
    # 5-7 seen here, depending on how far each got before the process closed it; a storm is dozens.
    assert elapsed < 20, elapsed
    assert refusals(kafka) - before <= 8, kafka.logs()[-2000:]


def test_bad_settings_stop_doctor_and_run_with_exit_2(brokers: dict[str, SecureKafka], tmp_path: Path) -> None:
    env = env_for(brokers["ssl"], tmp_path, ssl_certfile="/nonexistent/client.pem", ssl_keyfile="/nonexistent/k")
    for args in (["run"], ["doctor"], ["alerts", "--no-follow"]):
        proc = cli(args, env)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "AGENTWATCH_SSL_CAFILE" not in proc.stdout + proc.stderr
        assert "AGENTWATCH_SSL_CERTFILE=/nonexistent/client.pem: no such file" in proc.stdout + proc.stderr


def test_no_output_contains_the_password() -> None:
    """Runs last in this module: every output above (CLI stdout/stderr of working and failing runs, worker
    logs with Faust's, aiokafka's and librdkafka's lines, /metrics, the fronts' logs) is searched."""
    kinds = {what.split(" ", 1)[0] for what, _ in OUTPUTS if what.endswith("worker log")}
    assert {"ssl", "mtls", "sasl_plaintext", "sasl_ssl"} <= kinds, kinds  # the working runs were recorded
    assert any("run --embedded-broker" in what for what, _ in OUTPUTS)  # and the failing ones
    for secret in (PASSWORD, PASSWORD[::-1]):
        leaked = [what for what, text in OUTPUTS if secret in text]
        assert not leaked, leaked
    assert os.environ.get("AGENTWATCH_SASL_PASSWORD") is None
