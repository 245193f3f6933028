"""/metrics, /healthz and /readyz on one port, in a daemon thread (independent of the event loop, so
a busy or stuck loop still answers liveness honestly: /healthz checks the loop's heartbeat)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class Health:
    """Liveness = the event loop beat recently; readiness = partitions assigned and state recovered."""

    def __init__(self, stale_after_s: float = 30.0) -> None:
        self.stale_after_s = stale_after_s
        self.last_beat = time.monotonic()
        self.ready = False
        self.reason = "starting"

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def live(self) -> tuple[bool, str]:
        age = time.monotonic() - self.last_beat
        return age < self.stale_after_s, f"event loop last beat {age:.1f}s ago"


def serve(port: int, registry: CollectorRegistry, health: Health, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/metrics":
                # `?name[]=agentwatch_spans_total&...` renders only those series (prometheus_client's
                # own handler does the same): a cheap probe for scripts, the full registry otherwise.
                names = parse_qs(query).get("name[]")
                source = registry.restricted_registry(names) if names else registry
                self._send(200, generate_latest(source), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok, why = health.live()
                self._send(200 if ok else 503, (why + "\n").encode())
            elif path == "/readyz":
                self._send(200 if health.ready else 503, (health.reason + "\n").encode())
            else:
                self._send(404, b"try /metrics, /healthz or /readyz\n")

        def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="agentwatch-http", daemon=True).start()
    return server
