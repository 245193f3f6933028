"""Scripted fake of the OpenAI Responses API (streaming SSE) for the codex-cli fixture (stdlib only, 127.0.0.1).

Codex talks `wire_api = "responses"`: each turn is POST {base_url}/responses with `"stream": true`, answered
with an SSE stream of response.created / response.output_item.done / response.completed (usage included).
Replies are chosen from the request (not from a counter) so that any extra request Codex makes cannot shift
the script: the city comes from the user prompt, the step from whether the input already holds a
function_call_output.
  Paris: function_call get_weather {"city":"Paris"}  ->  then the final assistant message
  Tokyo: function_call get_weather {"city":"Tokyo"}  ->  then HTTP 500
The name of the tool is taken from the request's `tools` list (the MCP tool Codex exposes for get_weather).
Writes its port to argv[1]; logs every request and reply as a JSON line to argv[2].
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "gpt-5-codex-fake"
ANSWER = "It is 18 C and cloudy in Paris."


def usage(inp, cached, out, reasoning, total=None):
    return {"input_tokens": inp, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": inp + out if total is None else total}


USAGE = {
    ("Paris", 1): usage(1234, 200, 567, 89),
    ("Paris", 2): usage(2345, 1200, 678, 45),
    ("Tokyo", 1): usage(1111, 100, 222, 33),
}


def _texts(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "text" and isinstance(v, str):
                yield v
            else:
                yield from _texts(v)
    elif isinstance(obj, list):
        for x in obj:
            yield from _texts(x)


def _tool_name(req):
    """(namespace, name) of the get_weather tool: Codex groups an MCP server's tools in a `namespace` tool."""
    for t in req.get("tools") or []:
        if t.get("name") == "get_weather":
            return None, "get_weather"
        for sub in t.get("tools") or []:
            if sub.get("name") == "get_weather":
                return t.get("name"), "get_weather"
    return None, "get_weather"


def plan(req):
    """(status, sse_events | error_body, tally entry) for one /responses request."""
    items = req.get("input") or []
    user = " ".join(t for it in items if isinstance(it, dict) and it.get("role") == "user" for t in _texts(it))
    city = "Tokyo" if "Tokyo" in user else "Paris"
    done_tool = any(isinstance(it, dict) and it.get("type") == "function_call_output" for it in items)
    step = 2 if done_tool else 1
    if city == "Tokyo" and step == 2:
        return 500, {"error": {"message": "The server had an error while processing your request.",
                               "type": "server_error", "param": None, "code": None}}, (city, step)
    rid = f"resp_aw_{city.lower()}_{step}"
    u = USAGE[(city, step)]
    created = {"type": "response.created", "response": {"id": rid, "object": "response", "model": MODEL,
                                                          "status": "in_progress"}}
    if step == 1:
        namespace, name = _tool_name(req)
        item = {"type": "function_call", "id": f"fc_aw_{city.lower()}", "call_id": f"call_aw_{city.lower()}",
                "name": name, "arguments": json.dumps({"city": city}), "status": "completed"}
        if namespace:
            item["namespace"] = namespace
    else:
        item = {"type": "message", "id": "msg_aw_paris", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": ANSWER, "annotations": []}]}
    events = [
        created,
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"id": rid, "object": "response", "model": MODEL,
                                                    "status": "completed", "output": [item], "usage": u}},
    ]
    return 200, events, (city, step)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _log(self, entry):
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def do_GET(self):
        self._log({"method": "GET", "path": self.path, "status": 404})
        self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0].rstrip("/")
        if not path.endswith("/responses"):
            self._log({"method": "POST", "path": self.path, "status": 404})
            return self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        req = json.loads(body or b"{}")
        status, reply, key = plan(req)
        self._log({"method": "POST", "path": self.path, "key": list(key), "status": status,
                   "traceparent": self.headers.get("traceparent"), "request": req, "reply": reply})
        if status != 200:
            return self._send_json(status, reply)
        data = "".join(f"event: {ev['type']}\ndata: {json.dumps(ev)}\n\n" for ev in reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_aw_{key[0].lower()}_{key[1]}")
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_responses: " + fmt % args + "\n")


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()
