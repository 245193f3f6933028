"""Scripted fake Vertex AI generateContent REST endpoint: stdlib only, plain HTTP on 127.0.0.1, free port.

Adapted from ../google-adk/fake_gemini_server.py for Vertex's REST path:
POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
(:streamGenerateContent?alt=sse is answered as one SSE event; the recording does not stream).
Each call gets the next scripted reply, in order: task 1 = functionCall get_weather(Paris), then a text answer;
task 2 = functionCall get_weather(Tokyo), then HTTP 500 (INTERNAL).
usageMetadata follows Gemini's convention: thoughtsTokenCount is NOT part of candidatesTokenCount, and
totalTokenCount = promptTokenCount + candidatesTokenCount + thoughtsTokenCount (cachedContentTokenCount is a
subset of promptTokenCount).
The port is written to the file given as argv[1]; every request/reply is logged as a JSON line to argv[2],
so the recorder tallies what the server returned.
"""
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "gemini-2.5-flash"
PATH = re.compile(r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
                  r"/publishers/google/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$")


def usage(prompt, candidates, thoughts, cached):
    return {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts,
            "cachedContentTokenCount": cached, "totalTokenCount": prompt + candidates + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": cached}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": candidates}]}


def reply(n, part, u):
    return 200, {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": u,
        "modelVersion": MODEL,
        "createTime": "2026-01-01T00:00:00.000000Z",
        "responseId": f"aw-vertex-resp-{n}",
    }


def call(city):
    return {"functionCall": {"name": "get_weather", "args": {"city": city}}}


SCRIPT = [
    # task 1: function call -> final answer
    reply(1, call("Paris"), usage(1234, 56, 89, 200)),
    reply(2, {"text": "It is 18 C and cloudy in Paris."}, usage(2345, 67, 45, 1200)),
    # task 2: function call -> the model call fails with HTTP 500
    reply(3, call("Tokyo"), usage(1111, 22, 33, 100)),
    (500, {"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}),
]


class Handler(BaseHTTPRequestHandler):
    step = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.partition("?")[0]
        m = PATH.match(path)
        if not m:
            status, data = 404, {"error": {"code": 404, "message": f"not found: {path}", "status": "NOT_FOUND"}}
        elif Handler.step >= len(SCRIPT):
            status, data = 500, {"error": {"code": 500, "message": "fake script exhausted", "status": "INTERNAL"}}
        else:
            status, data = SCRIPT[Handler.step]
            Handler.step += 1
        stream = bool(m) and m["method"] == "streamGenerateContent" and status == 200
        with open(LOG, "a") as f:
            f.write(json.dumps({"step": Handler.step, "path": self.path, "request": json.loads(body or b"{}"),
                                "status": status, "reply": data}) + "\n")
        if stream:
            out, ctype = f"data: {json.dumps(data)}\r\n\r\n".encode(), "text/event-stream"
        else:
            out, ctype = json.dumps(data).encode(), "application/json; charset=UTF-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_vertex: " + fmt % args + "\n")


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()
