#!/usr/bin/env bash
# Regenerates spans.json + expected.json for openinference-instrumentation-google-genai from scratch.
# Needs only PyPI (pinned in requirements.txt); the fake Gemini API server (shared with the google-adk fixture,
# ../google-adk/fake_gemini_server.py) listens on 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-openinference-google-genai-venv}"
WORK="$(mktemp -d /tmp/aw-fw-openinference-google-genai.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT
"$VENV/bin/python" "$HERE/../google-adk/fake_gemini_server.py" "$WORK/port" "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset GOOGLE_API_KEY GEMINI_API_KEY GOOGLE_GEMINI_BASE_URL GOOGLE_GENAI_USE_VERTEXAI  # record.py passes key + base_url
# OpenInference captures inputs/outputs/messages by default; make sure no OPENINFERENCE_HIDE_* switch is set.
for v in $(env | sed -n 's/^\(OPENINFERENCE_HIDE_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
"$VENV/bin/python" "$HERE/record.py" "$PORT" "${AW_OUT:-$HERE}"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
