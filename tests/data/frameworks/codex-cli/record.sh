#!/usr/bin/env bash
# Regenerates spans.json + logs.json + expected.json for the OpenAI Codex CLI (npm @openai/codex, native binary).
# Needs the npm registry (codex, pinned in package.json) and PyPI (protobuf decoding, requirements.txt);
# the fake Responses API, the OTLP receiver and the MCP tool server all run on 127.0.0.1 / stdio only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_PREFIX="${AW_FW_SCRATCH:-/tmp/aw-fw-codex-cli-node}"
VENV="${AW_FW_VENV:-/tmp/aw-fw-codex-cli-venv}"
WORK="$(mktemp -d /tmp/aw-fw-codex-cli.XXXXXX)"
mkdir -p "$NODE_PREFIX"
cp "$HERE/package.json" "$NODE_PREFIX/"
( cd "$NODE_PREFIX" && npm install --no-audit --no-fund --loglevel=error )
CODEX="$NODE_PREFIX/node_modules/.bin/codex"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
RECEIVER_PID=""
cleanup() {
  for pid in $SERVER_PID $RECEIVER_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -z "${AW_KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
"$VENV/bin/python" "$HERE/fake_responses_server.py" "$WORK/port" "$WORK/server.log" 2>"$WORK/server.err" &
SERVER_PID=$!
"$VENV/bin/python" "$HERE/otlp_receiver.py" "$WORK/otlp_port" "$WORK/otlp" 2>"$WORK/receiver.err" &
RECEIVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && [ -s "$WORK/otlp_port" ] && break; sleep 0.1; done

"$VENV/bin/python" "$HERE/record.py" "$CODEX" "$(cat "$WORK/port")" "$(cat "$WORK/otlp_port")" "$WORK/otlp" \
  "$WORK/server.log" "$WORK/mcp.log" "$WORK" "${AW_OUT:-$HERE}"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
