"""Minimal MCP stdio server (stdlib only) exposing one tool, get_weather(city), for the codex-cli fixture.

Newline-delimited JSON-RPC 2.0 on stdin/stdout, as MCP's stdio transport specifies. Every tools/call is
appended as a JSON line to the file named by $AW_MCP_LOG, so the recorder can tally tool calls.
"""
import json
import os
import sys

WEATHER = {"Paris": {"temp_c": 18, "conditions": "cloudy"}, "Tokyo": {"temp_c": 24, "conditions": "sunny"}}
TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "annotations": {"readOnlyHint": True, "openWorldHint": False, "destructiveHint": False},
}


def reply(msg_id, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        method, msg_id = msg.get("method"), msg.get("id")
        if msg_id is None:  # notification
            continue
        if method == "initialize":
            version = (msg.get("params") or {}).get("protocolVersion") or "2025-06-18"
            reply(msg_id, {"protocolVersion": version, "capabilities": {"tools": {"listChanged": False}},
                           "serverInfo": {"name": "weather", "version": "1.0.0"}})
        elif method == "tools/list":
            reply(msg_id, {"tools": [TOOL]})
        elif method == "tools/call":
            params = msg.get("params") or {}
            args = params.get("arguments") or {}
            city = args.get("city", "")
            result = {"city": city, **WEATHER.get(city, {"temp_c": None, "conditions": "unknown"})}
            if os.environ.get("AW_MCP_LOG"):
                with open(os.environ["AW_MCP_LOG"], "a") as f:
                    f.write(json.dumps({"name": params.get("name"), "arguments": args, "result": result}) + "\n")
            reply(msg_id, {"content": [{"type": "text", "text": json.dumps(result)}], "isError": False})
        elif method == "ping":
            reply(msg_id, {})
        else:
            reply(msg_id, error={"code": -32601, "message": f"method not found: {method}"})


if __name__ == "__main__":
    main()
