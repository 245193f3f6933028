"""Tiny loopback OTLP/HTTP receiver (stdlib only): POST /v1/traces, /v1/logs, /v1/metrics, protobuf or JSON.

Each request body is saved as-is under argv[2] (NNNN-<signal>.<pb|json>, in arrival order) and answered with
an empty success; record.py turns them into OTLP/JSON documents afterwards. Writes its port to argv[1].
"""
import gzip
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNT = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding", "") == "gzip":
            body = gzip.decompress(body)
        path = self.path.split("?")[0].rstrip("/")
        signal = path.rsplit("/", 1)[-1] if path.startswith("/v1/") else None
        if signal not in ("traces", "logs", "metrics"):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        ctype = self.headers.get("Content-Type", "")
        ext = "json" if "json" in ctype else "pb"
        with LOCK:
            COUNT[0] += 1
            name = f"{COUNT[0]:04d}-{signal}.{ext}"
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(body)
        data = b"{}" if ext == "json" else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if ext == "json" else "application/x-protobuf")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("otlp_receiver: " + fmt % args + "\n")


if __name__ == "__main__":
    port_file, OUT = sys.argv[1], sys.argv[2]
    os.makedirs(OUT, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()
