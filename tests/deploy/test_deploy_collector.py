"""Collector configurations: otelcol-contrib.yaml (kafka exporter keys, sizes) and rotel.args (real flags)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import rotel
import yaml
from deploy_helpers import CHART, COLLECTOR
from rotel_flags import ROTEL_FLAGS, flag_value, rotel_argv

# exporter/kafkaexporter config keys (v0.124.0+); the top-level topic/encoding are deprecated/removed.
KAFKA_EXPORTER_KEYS = {
    "brokers", "client_id", "protocol_version", "resolve_canonical_bootstrap_servers_only", "traces", "logs",
    "metrics", "partition_traces_by_id", "partition_metrics_by_resource_attributes",
    "partition_logs_by_resource_attributes", "tls", "auth", "metadata", "producer", "timeout",
    "retry_on_failure", "sending_queue", "topic_from_attribute", "include_metadata_keys", "record_headers",
}
PRODUCER_KEYS = {"max_message_bytes", "required_acks", "compression", "compression_params", "flush_max_messages",
                 "linger", "allow_auto_topic_creation"}
# Generous size of one GenAI span in OTLP proto without captured message content (typical: 300-700 B).
SPAN_BYTES_ESTIMATE = 1800
ROTEL_AGENT = Path(rotel.__file__).with_name("rotel-agent")


@pytest.fixture(scope="module")
def otelcol() -> dict:
    return yaml.safe_load((COLLECTOR / "otelcol-contrib.yaml").read_text())


@pytest.fixture(scope="module")
def max_record_bytes() -> int:
    return yaml.safe_load((CHART / "values.yaml").read_text())["config"]["maxRecordBytes"]


def test_kafka_exporter_keys(otelcol):
    kafka = otelcol["exporters"]["kafka"]
    assert set(kafka) <= KAFKA_EXPORTER_KEYS, set(kafka) - KAFKA_EXPORTER_KEYS
    assert "topic" not in kafka and "encoding" not in kafka
    assert kafka["traces"] == {"topic": "otlp_spans", "encoding": "otlp_proto"}
    assert kafka["logs"] == {"topic": "otlp_logs", "encoding": "otlp_proto"}
    assert kafka["partition_traces_by_id"] is True
    assert kafka["brokers"]
    assert set(kafka["producer"]) <= PRODUCER_KEYS
    assert kafka["producer"]["compression"] in ("zstd", "lz4")


def test_record_size_bounds(otelcol, max_record_bytes):
    max_bytes = otelcol["exporters"]["kafka"]["producer"]["max_message_bytes"]
    batch = otelcol["processors"]["batch"]
    assert batch["send_batch_size"] <= batch["send_batch_max_size"]
    assert batch["send_batch_max_size"] * SPAN_BYTES_ESTIMATE < max_bytes
    assert max_bytes <= max_record_bytes  # agentwatch must accept every record the Collector can send


def test_pipelines(otelcol):
    pipelines = otelcol["service"]["pipelines"]
    for signal_name in ("traces", "logs"):
        p = pipelines[signal_name]
        assert p["receivers"] == ["otlp"] and p["exporters"] == ["kafka"]
        assert "batch" in p["processors"]
        assert all(name in otelcol["processors"] for name in p["processors"])
    protocols = otelcol["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317") and protocols["http"]["endpoint"].endswith(":4318")


@pytest.fixture(scope="module")
def rotel_help() -> str:
    proc = subprocess.run([str(ROTEL_AGENT), "start", "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_rotel_flags_exist(rotel_help):
    names = [f for f in ROTEL_FLAGS if f.startswith("--")]
    assert names
    for name in names:
        assert f"{name} " in rotel_help or f"{name}\n" in rotel_help, f"rotel-agent start has no {name}"


def test_rotel_flags_match_collector(otelcol, max_record_bytes):
    kafka = otelcol["exporters"]["kafka"]
    assert flag_value("--exporter") == "kafka"
    assert flag_value("--kafka-exporter-traces-topic") == kafka["traces"]["topic"]
    assert flag_value("--kafka-exporter-logs-topic") == kafka["logs"]["topic"]
    assert flag_value("--kafka-exporter-format") == "protobuf"
    assert flag_value("--traces-batch-max-size") == "1024"  # mandatory: larger batches are silently dropped
    assert int(flag_value("--kafka-exporter-max-message-bytes")) <= max_record_bytes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rotel_accepts_flags(tmp_path):
    """The real binary parses the flags (clap exits 2 at once on an unknown flag or bad value)."""
    argv = rotel_argv("127.0.0.1:1", f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}",
                      pid_file=str(tmp_path / "rotel.pid"), log_file=str(tmp_path / "rotel.log"))
    proc = subprocess.Popen([str(ROTEL_AGENT), "start", *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        time.sleep(1.5)
        assert proc.poll() is None, proc.communicate()[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_worker_can_decompress_producer_codec(otelcol):
    """Faust consumes through aiokafka, which needs cramjam for zstd/lz4 (aiokafka[zstd,lz4])."""
    from aiokafka import codec

    available = {"zstd": codec.has_zstd(), "lz4": codec.has_lz4(), "gzip": codec.has_gzip(),
                 "snappy": codec.has_snappy(), "none": True}
    for name in (otelcol["exporters"]["kafka"]["producer"]["compression"],
                 flag_value("--kafka-exporter-compression")):
        assert available[name], f"aiokafka cannot decompress {name}: install cramjam (aiokafka[zstd,lz4])"
