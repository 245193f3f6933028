"""Scripted fake OpenAI Chat Completions server (stdlib only, 127.0.0.1, free port), shared by the fixtures
that drive the official `openai` client (otel-openai-v2, openinference-openai, openllmetry-openai, openlit-openai).

Each POST /v1/chat/completions gets the next scripted reply, in order.
The port is written to the file given as argv[1]; every request/reply is logged as a
JSON line to argv[2] so the recording can be checked against what the server returned.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "gpt-4o-mini"


def usage(p, c, cached, reasoning, total=None):
    return {
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c if total is None else total,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def completion(n, message, finish, u):
    return 200, {
        "id": f"chatcmpl-aw-{n}",
        "object": "chat.completion",
        "created": 1767225600 + n,
        "model": MODEL,
        "system_fingerprint": "fp_awfake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": u,
    }


def tool_call_msg(call_id, city):
    return {"role": "assistant", "content": None, "refusal": None,
            "tool_calls": [{"id": call_id, "type": "function",
                            "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}]}


SCRIPT = [
    # trace 1: tool call -> final answer
    completion(1, tool_call_msg("call_aw_paris", "Paris"), "tool_calls", usage(1234, 567, 200, 89)),
    completion(2, {"role": "assistant", "content": "It is 18 C and cloudy in Paris.", "refusal": None},
               "stop", usage(2345, 678, 1200, 45)),
    # trace 2: tool call -> model call fails with HTTP 500
    completion(3, tool_call_msg("call_aw_tokyo", "Tokyo"), "tool_calls", usage(1111, 222, 100, 33)),
    (500, {"error": {"message": "The server had an error while processing your request.",
                     "type": "server_error", "param": None, "code": None}}),
]


class Handler(BaseHTTPRequestHandler):
    step = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            status, reply = 404, {"error": {"message": "not found", "type": "invalid_request_error"}}
        elif Handler.step >= len(SCRIPT):
            status, reply = 500, {"error": {"message": "fake script exhausted", "type": "server_error"}}
        else:
            status, reply = SCRIPT[Handler.step]
            Handler.step += 1
        with open(LOG, "a") as f:
            f.write(json.dumps({"step": Handler.step, "request": json.loads(body or b"{}"),
                                "status": status, "reply": reply}) + "\n")
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_aw_{Handler.step}")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_server: " + fmt % args + "\n")


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()
