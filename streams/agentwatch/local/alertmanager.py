"""Debian's `prometheus-alertmanager` as a child process on this machine (demo, end-to-end tests), a
webhook receiver it delivers to (the far end of `agentwatch notify`, without a pager), and `agentwatch
notify` itself as a child process feeding it."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .broker import LOOPBACK, BinaryNotFound, ManagedProcess, child_env, free_port, http_ok

BINARY = "prometheus-alertmanager"


def alertmanager_installed() -> bool:
    return shutil.which(BINARY) is not None


class Webhook:
    """An HTTP server on loopback that keeps the JSON bodies Alertmanager posts (and hands each to
    `on_body`, if given). Stop it with `close()`."""

    def __init__(self, on_body: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                if on_body is not None:
                    on_body(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, name="webhook", daemon=True).start()

    def alerts(self, status: str) -> list[dict[str, Any]]:
        """Every alert delivered with `status` (firing | resolved), in delivery order."""
        return [a for b in self.bodies for a in b["alerts"] if a["status"] == status]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager(ManagedProcess):
    """One Alertmanager (no cluster) routing everything to `webhook`, grouped by alertname, with 1 s waits so
    a notification shows at once."""

    name = "alertmanager"

    def __init__(self, webhook: str, directory: Path | None = None) -> None:
        if not alertmanager_installed():
            raise BinaryNotFound(f"{BINARY} is not installed (Debian: apt-get install prometheus-alertmanager)")
        super().__init__(start_timeout_s=30, log_dir=directory)
        self.port = free_port()
        self.config = self._dir / "alertmanager.yml"
        self.config.write_text(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: true\n")

    def _argv(self) -> list[str]:
        return [BINARY, f"--config.file={self.config}", f"--storage.path={self._dir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.port}", "--cluster.listen-address="]

    def _ready(self) -> bool:
        return http_ok(f"{self.url}/-/ready")

    def _pick_ports(self) -> bool:
        self.port = free_port()
        return True

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


class Notify(ManagedProcess):
    """`agentwatch notify` from `topic` on the broker at `brokers_url` to the Alertmanager at `alertmanager_url`;
    `extra` adds command-line options. Its log is `notify.log` in `directory`."""

    name = "notify"

    def __init__(self, alertmanager_url: str, brokers_url: str, topic: str, *extra: str,
                 directory: Path | None = None) -> None:
        super().__init__(start_timeout_s=10, log_dir=directory)
        self.argv = [sys.executable, "-m", "agentwatch.cli", "notify", "--alertmanager", alertmanager_url,
                     "--brokers", brokers_url, "--topic", topic, *extra]

    def _argv(self) -> list[str]:
        return self.argv

    def _env(self) -> Mapping[str, str]:
        return child_env(drop_prefixes=("AGENTWATCH_",))

    def _ready(self) -> bool:
        return True  # no endpoint to probe: started and not exited at once is all there is to wait for
