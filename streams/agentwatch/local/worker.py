"""A worker as a child process on this machine (demo, end-to-end tests, benchmarks): `agentwatch run
--embedded-broker` with its settings in the environment, ready when GET /readyz answers 200."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Mapping

from .broker import LOOPBACK, ManagedProcess, child_env, free_port, http_ok


class LocalWorker(ManagedProcess):
    name = "worker"

    def __init__(self, brokers_url: str, env: Mapping[str, str] | None = None, *, metrics_port: int | None = None,
                 start_timeout_s: float = 90.0, log_dir: str | None = None) -> None:
        super().__init__(start_timeout_s=start_timeout_s, log_dir=log_dir)
        self.brokers_url = brokers_url
        self.extra_env = dict(env or {})
        self.metrics_port = metrics_port or free_port()
        self.data_dir = self._dir / "data"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.metrics_port}/metrics"

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", "agentwatch.cli", "run", "--embedded-broker"]

    def _env(self) -> Mapping[str, str]:
        env = child_env(drop_prefixes=("AGENTWATCH_",))
        env.update({"AGENTWATCH_BROKERS": self.brokers_url, "AGENTWATCH_METRICS_PORT": str(self.metrics_port),
                    "AGENTWATCH_METRICS_HOST": LOOPBACK,
                    "AGENTWATCH_DATA_DIR": str(self.data_dir), "AGENTWATCH_BROKER_WAIT_S": "20"})
        env.update(self.extra_env)
        return env

    def _ready(self) -> bool:
        return http_ok(f"http://{LOOPBACK}:{self.metrics_port}/readyz")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as r:
            return r.read().decode()
