"""A real OpenTelemetry collector for the demo and tests: rotel (PyPI `rotel`) with its Kafka exporter.

Agents send OTLP (gRPC or HTTP) to rotel on loopback ports; rotel writes one Kafka record per batch to the
traces topic (`otlp_proto` value = `TracesData` bytes, or with fmt="json" a top-level JSON array of
ResourceSpans), with an empty key and no headers: exactly what agentwatch reads from a production Collector
without `partition_traces_by_id`.

Traps handled here:
- rotel drops (logs, but reports success to the sender) any batch over the Kafka message limit (1 MB by
  default), and its default batch is 8192 spans: `--traces-batch-max-size 1024` and
  `--logs-batch-max-size 1024` are always passed.
- rotel also drops (logs "Too many batch items split", reports success) a single incoming OTLP request that
  holds more than 2 x the batch size: with 1024, any request over 2048 spans. The OTel SDKs send at most 512
  per request by default; a Collector forwarding into rotel must keep its batches under that.
- a second rotel refuses to start on the default pid file /tmp/rotel-agent.pid: every instance gets its own
  `--pid-file` (and `--log-file`) in a temp dir.
- ROTEL_* variables in the environment would reconfigure the child silently; they are removed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Literal

from agentwatch.local.broker import (
    LOOPBACK,
    BinaryNotFound,
    ManagedProcess,
    child_env,
    free_port,
    package_file,
)

__all__ = ["ROTEL_BATCH_MAX_SIZE", "Rotel", "rotel_binary"]

#: Spans (and log records) per rotel batch, hence per Kafka record. Keeps records well under 1 MB.
ROTEL_BATCH_MAX_SIZE = 1024

_FORMATS = {"proto": "protobuf", "protobuf": "protobuf", "json": "json"}


def rotel_binary() -> str:
    """Path of the rotel-agent binary inside the installed `rotel` package."""
    path = package_file("rotel", "rotel-agent")
    if path is None or not os.access(path, os.X_OK):
        raise BinaryNotFound(
            "the rotel collector is not installed: install the demo extra: pip install 'agentwatch[demo]'"
        )
    return str(path)


class Rotel(ManagedProcess):
    """rotel with OTLP gRPC + HTTP receivers on free loopback ports and the Kafka exporter to `bootstrap`.

    `with Rotel(broker.bootstrap) as r: exporter(endpoint=r.otlp_http_endpoint + "/v1/traces")`.
    """

    name = "rotel"

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = "otlp_spans",
        logs_topic: str = "otlp_logs",
        metrics_topic: str = "otlp_metrics",
        fmt: Literal["proto", "json"] = "proto",
        extra_args: Sequence[str] = (),
        start_timeout_s: float = 30.0,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if fmt not in _FORMATS:
            raise ValueError(f"fmt={fmt!r}: expected 'proto' or 'json'")
        self._binary = rotel_binary()
        super().__init__(start_timeout_s=start_timeout_s, log_dir=log_dir)
        self.bootstrap = bootstrap
        self.topic = topic
        self.logs_topic = logs_topic
        self.metrics_topic = metrics_topic
        self.fmt = fmt
        self.extra_args = list(extra_args)
        self.pid_file = self._dir / "rotel.pid"
        self.http_port = 0
        self.grpc_port = 0
        self._pick_ports()

    @property
    def otlp_http_endpoint(self) -> str:
        """Base URL for OTLP/HTTP exporters, e.g. "http://127.0.0.1:PORT" (traces go to + "/v1/traces")."""
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def otlp_grpc_endpoint(self) -> str:
        """Endpoint for OTLP/gRPC exporters (plaintext), e.g. "http://127.0.0.1:PORT"."""
        return f"http://{LOOPBACK}:{self.grpc_port}"

    def _pick_ports(self) -> bool:
        self.http_port = free_port()
        self.grpc_port = free_port()
        while self.grpc_port == self.http_port:
            self.grpc_port = free_port()
        return True

    def _argv(self) -> list[str]:
        ours = [
            ("--pid-file", str(self.pid_file)),
            ("--log-file", str(self._dir / "rotel-daemon.log")),
            ("--otlp-grpc-endpoint", f"{LOOPBACK}:{self.grpc_port}"),
            ("--otlp-http-endpoint", f"{LOOPBACK}:{self.http_port}"),
            ("--traces-batch-max-size", str(ROTEL_BATCH_MAX_SIZE)),
            ("--logs-batch-max-size", str(ROTEL_BATCH_MAX_SIZE)),
            ("--exporter", "kafka"),
            ("--kafka-exporter-brokers", self.bootstrap),
            ("--kafka-exporter-traces-topic", self.topic),
            ("--kafka-exporter-logs-topic", self.logs_topic),
            ("--kafka-exporter-metrics-topic", self.metrics_topic),
            ("--kafka-exporter-format", _FORMATS[self.fmt]),
        ]
        # rotel rejects a flag given twice, so a flag in extra_args replaces ours instead of clashing.
        overridden = {a.split("=", 1)[0] for a in self.extra_args if a.startswith("--")}
        argv = [self._binary, "start"]
        for flag, value in ours:
            if flag not in overridden:
                argv += [flag, value]
        return argv + self.extra_args

    def _env(self) -> Mapping[str, str]:
        env = child_env(drop_prefixes=("ROTEL_",))
        env["NO_COLOR"] = "1"  # plain text in the log file
        return env

    def _ready(self) -> bool:
        return self._listening_on(self.http_port, self.grpc_port)

    def __repr__(self) -> str:
        return f"Rotel(http={self.otlp_http_endpoint}, kafka={self.bootstrap}/{self.topic}, running={self.running})"
