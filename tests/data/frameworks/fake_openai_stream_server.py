"""Streaming variant of fake_openai_server.py (shared by the fixtures whose client streams: strands, which
always asks `stream_options: {"include_usage": true}`, and openinference-llamaindex, whose FunctionAgent streams
without it by default).

The scripted replies and usage numbers are the shared fake's SCRIPT, imported (not copied), served in the
same order. A 200 reply to a `stream: true` request is sent as Server-Sent Events `chat.completion.chunk`s
(role, content or tool-call deltas, a finish_reason chunk, then `[DONE]`); as the real API does, the final
`choices: []` chunk carrying `usage` is sent only when `stream_options.include_usage` is true, so a plain
streaming request gets NO usage (the log line says `usage_sent`). An error reply is the same plain JSON error
with its HTTP status (the client raises before streaming). A request without `stream: true` gets the plain
completion, as the shared fake would.

usage: fake_openai_stream_server.py PORT_FILE LOG_FILE   (127.0.0.1, free port; one JSON line per request)
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_openai_server import SCRIPT


def chunks(reply, include_usage):
    """The chat.completion.chunk objects a streaming OpenAI endpoint sends for `reply`."""
    base = {"id": reply["id"], "object": "chat.completion.chunk", "created": reply["created"],
            "model": reply["model"], "system_fingerprint": reply["system_fingerprint"]}
    choice, out = reply["choices"][0], []

    def chunk(delta, finish=None):
        c = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            c["usage"] = None
        out.append(c)

    msg = choice["message"]
    chunk({"role": "assistant", "content": "" if msg.get("content") else None, "refusal": None})
    if msg.get("content"):
        words = msg["content"].split(" ")
        for i, w in enumerate(words):
            chunk({"content": w if i == 0 else " " + w})
    for i, tc in enumerate(msg.get("tool_calls") or []):
        chunk({"tool_calls": [{"index": i, "id": tc["id"], "type": "function",
                               "function": {"name": tc["function"]["name"], "arguments": ""}}]})
        args = tc["function"]["arguments"]
        half = len(args) // 2
        for part in (args[:half], args[half:]):
            chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
    chunk({}, choice["finish_reason"])
    if include_usage:
        out.append({**base, "choices": [], "usage": reply["usage"]})
    return out


class Handler(BaseHTTPRequestHandler):
    step = 0
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = json.loads(body or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            status, reply = 404, {"error": {"message": "not found", "type": "invalid_request_error"}}
        elif Handler.step >= len(SCRIPT):
            status, reply = 500, {"error": {"message": "fake script exhausted", "type": "server_error"}}
        else:
            status, reply = SCRIPT[Handler.step]
            Handler.step += 1
        stream = bool(request.get("stream")) and status == 200
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        usage_sent = status == 200 and (include_usage or not stream)
        with open(LOG, "a") as f:
            f.write(json.dumps({"step": Handler.step, "request": request, "status": status, "stream": stream,
                                "usage_sent": usage_sent, "reply": reply}) + "\n")
        if stream:
            data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n"
                            for c in chunks(reply, include_usage)) + b"data: [DONE]\n\n"
            ctype = "text/event-stream"
        else:
            data, ctype = json.dumps(reply).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_aw_{Handler.step}")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_stream_server: " + fmt % args + "\n")


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()
