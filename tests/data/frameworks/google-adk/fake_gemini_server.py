"""Scripted fake Gemini Developer API (generativelanguage) server: stdlib only, 127.0.0.1, free port.
Shared by the google-adk and openinference-google-genai fixtures (the latter runs it from ../google-adk/).

Each POST /v1beta/models/{model}:generateContent (google-genai 2.x; 3.x defaults to /v1/...), or
:streamGenerateContent?alt=sse (sent as one SSE event; neither recording streams), gets the next scripted reply,
in order: task 1 = functionCall get_weather(Paris), then a text answer; task 2 = functionCall get_weather(Tokyo),
then HTTP 500 (INTERNAL).
usageMetadata follows Gemini's convention: thoughtsTokenCount is NOT part of candidatesTokenCount, and
totalTokenCount = promptTokenCount + candidatesTokenCount + thoughtsTokenCount (cachedContentTokenCount is a
subset of promptTokenCount).
The port is written to the file given as argv[1]; every request/reply is logged as a JSON line to argv[2],
so the recorders tally what the server returned.
"""
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "gemini-2.5-flash"
# google-genai 2.x (what google-adk 2.13 pins) calls /v1beta/...; google-genai 3.x defaults to /v1/...
PATH = re.compile(r"^/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+)"
                  r":(?P<method>generateContent|streamGenerateContent)$")


def usage(prompt, candidates, thoughts, cached):
    return {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts,
            "cachedContentTokenCount": cached, "totalTokenCount": prompt + candidates + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": cached}]}


def reply(n, part, u):
    return 200, {
        "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": u,
        "modelVersion": MODEL,
        "responseId": f"aw-gemini-resp-{n}",
    }


def call(city):
    return {"functionCall": {"name": "get_weather", "args": {"city": city}}}


SCRIPT = [
    # task 1: function call -> final answer
    reply(1, call("Paris"), usage(1234, 56, 89, 200)),
    reply(2, {"text": "It is 18 C and cloudy in Paris."}, usage(2345, 67, 45, 1200)),
    # task 2: function call -> the model call fails with HTTP 500
    reply(3, call("Tokyo"), usage(1111, 22, 33, 100)),
    (500, {"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in "
                     "https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}}),
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
        sys.stderr.write("fake_gemini: " + fmt % args + "\n")


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()
