"""Configuration: `AGENTWATCH_*` environment variables -> one validated, frozen `Settings`.

Every option, its default and its validation live here (contract §5, plus the extensions documented
in README.md). A bad value fails start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

PREFIX = "AGENTWATCH_"


# How a true/false variable may be spelled (any case); empty is false.
BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False,
              "": False}


class SettingsError(ValueError):
    """An environment variable with a value agentwatch cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    brokers: str = "kafka://127.0.0.1:9092"
    spans_topic: str = "otlp_spans"
    spans_encoding: str = "auto"              # auto | otlp_proto | otlp_json
    logs_topic: str = ""                      # optional; empty = off
    alerts_topic: str = "agentwatch.alerts"
    tasks_topic: str = "agentwatch.tasks"
    dlq_topic: str = "agentwatch.dlq"
    flagged_topic: str = "agentwatch.flagged"  # extension: the spans of tasks that alerted (tail-keep)
    task_key: str = "trace"                   # trace | conversation
    input_keyed_by_trace: bool = False
    policy: str = ""                          # path to the policy YAML; empty = built-in defaults
    metrics_port: int = 9464
    metrics_host: str = "0.0.0.0"             # extension: where /metrics, /healthz, /readyz listen
    max_active_tasks: int = 10_000            # per worker
    max_record_bytes: int = 1_048_576
    max_label_values: int = 200
    log_level: str = "INFO"
    # extensions (README "Configuration")
    partitions: int = 8                       # partitions for topics agentwatch creates
    close_grace_s: float = 2.0
    max_alerts_per_minute: int = 60
    broker_wait_s: float = 30.0               # how long `run` waits for the broker before giving up
    commit_interval_s: float = 0.0            # offset commits (and task-state writes); 0 = Faust's 2.8 s
    fetch_max_wait_ms: int = 100              # how long the broker may hold a fetch (Faust's fixed 1500 starves input)
    max_input_skew_s: float = 30.0            # event time an input partition may run ahead of the slowest; 0 = off
    tail_keep: bool = True                    # extension: keep open tasks' spans; publish those that alert
    keep_max_spans: int = 1000                # per task (first and last spans kept beyond it)
    keep_max_task_bytes: int = 262_144        # per task, compact rows (the OTLP record is at most ~2x)
    keep_max_worker_bytes: int = 67_108_864   # per worker, over every open task
    hibernate_after_s: float = 30.0           # extension: open tasks idle this long are held compressed; 0 = never
    data_dir: str = "/tmp/agentwatch"         # Faust's local data directory
    security_protocol: str = ""
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""
    ssl_certfile: str = ""                    # extension: mTLS client certificate (PEM)
    ssl_keyfile: str = ""                     # extension: its private key (PEM)
    ssl_key_password: str = ""                # extension: the key's passphrase, if it has one
    ssl_check_hostname: bool = True           # extension: false = verify the chain but not the broker's name

    def validate(self) -> Settings:
        if self.spans_encoding not in ("auto", "otlp_proto", "otlp_json"):
            raise SettingsError(f"{PREFIX}SPANS_ENCODING must be auto, otlp_proto or otlp_json, "
                                f"got {self.spans_encoding!r}")
        if self.task_key not in ("trace", "conversation"):
            raise SettingsError(f"{PREFIX}TASK_KEY must be trace or conversation, got {self.task_key!r}")
        for name in ("metrics_port", "max_active_tasks", "max_record_bytes", "max_label_values", "partitions",
                     "max_alerts_per_minute", "fetch_max_wait_ms", "keep_max_spans", "keep_max_task_bytes",
                     "keep_max_worker_bytes"):
            if getattr(self, name) < (0 if name == "metrics_port" else 1):
                raise SettingsError(f"{PREFIX}{name.upper()} must be positive, got {getattr(self, name)}")
        if self.keep_max_spans < 2:
            raise SettingsError(f"{PREFIX}KEEP_MAX_SPANS must be at least 2 (a first and a last span), "
                                f"got {self.keep_max_spans}")
        if not self.hibernate_after_s >= 0:  # NaN too
            raise SettingsError(f"{PREFIX}HIBERNATE_AFTER_S must be 0 (off) or more, got {self.hibernate_after_s}")
        if not self.max_input_skew_s >= 0:  # NaN too
            raise SettingsError(f"{PREFIX}MAX_INPUT_SKEW_S must be 0 (off) or more, got {self.max_input_skew_s}")
        if not self.brokers:
            raise SettingsError(f"{PREFIX}BROKERS is empty")
        from .stream.kafka_clients import kafka_security_config  # the one place Kafka security is validated

        try:
            kafka_security_config(self)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        return self

    @property
    def aggregate_in_place(self) -> bool:
        """Input already keyed by trace and tasks are traces: no re-key hop needed."""
        return self.input_keyed_by_trace and self.task_key == "trace"


def _convert(raw: str, default: Any, var: str) -> Any:
    if isinstance(default, bool):
        low = raw.strip().lower()
        if low in BOOL_WORDS:
            return BOOL_WORDS[low]
        raise SettingsError(f"{var} must be true or false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{var} must be a whole number, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{var} must be a number, got {raw!r}") from None
    return raw


def from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `AGENTWATCH_*` variables (default: the process environment), then `overrides`."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(Settings):
        var = PREFIX + f.name.upper()
        if var in env:
            values[f.name] = _convert(env[var], f.default, var)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values).validate()
