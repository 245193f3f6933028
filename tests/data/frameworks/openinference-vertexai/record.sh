#!/usr/bin/env bash
# Regenerates spans.json + expected.json for openinference-instrumentation-vertexai from scratch.
# Needs only PyPI (pinned in requirements.txt); the fake Vertex AI REST server (fake_vertex_server.py, plain http)
# listens on 127.0.0.1 only. No TLS: the GAPIC REST transport honours the http:// scheme in api_endpoint.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-openinference-vertexai-venv}"
WORK="$(mktemp -d /tmp/aw-fw-openinference-vertexai.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT
"$VENV/bin/python" "$HERE/fake_vertex_server.py" "$WORK/port" "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# record.py passes project, location, endpoint and AnonymousCredentials explicitly; keep ambient Google config out
unset GOOGLE_APPLICATION_CREDENTIALS GOOGLE_CLOUD_PROJECT GOOGLE_CLOUD_LOCATION GOOGLE_API_KEY GOOGLE_GENAI_USE_VERTEXAI
# OpenInference captures inputs/outputs/messages by default; make sure no OPENINFERENCE_HIDE_* switch is set.
for v in $(env | sed -n 's/^\(OPENINFERENCE_HIDE_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
"$VENV/bin/python" "$HERE/record.py" "$PORT" "$WORK/server.log" "${AW_OUT:-$HERE}"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
