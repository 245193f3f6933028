#!/usr/bin/env bash
# Regenerates spans.json + expected.json for OpenLLMetry (traceloop-sdk + opentelemetry-instrumentation-openai) from scratch.
# Needs only PyPI (every package pinned in requirements.txt); the fake model server listens on 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-openllmetry-openai-venv}"
WORK="$(mktemp -d /tmp/aw-fw-openllmetry-openai.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT
"$VENV/bin/python" "$HERE/../fake_openai_server.py" "$WORK/port" "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export TRACELOOP_TRACE_CONTENT="${AW_CAPTURE:-true}"   # capture prompts, completions, tool args (entity.input)
export TRACELOOP_METRICS_ENABLED=false TRACELOOP_LOGGING_ENABLED=false
"$VENV/bin/python" "$HERE/record.py" "$PORT" "${AW_OUT:-$HERE}"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
