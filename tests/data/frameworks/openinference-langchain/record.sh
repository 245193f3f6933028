#!/usr/bin/env bash
# Regenerates spans.json + expected.json for openinference-instrumentation-langchain (LangGraph ReAct agent) from scratch.
# Needs only PyPI (pinned in requirements.txt); the fake model server listens on 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-openinference-langchain-venv}"
WORK="$(mktemp -d /tmp/aw-fw-openinference-langchain.XXXXXX)"
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
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_ORG_ID OPENAI_PROJECT_ID
# no LangSmith export: the instrumentation never needs it; keep it off even if set in the environment
export LANGSMITH_TRACING=false LANGCHAIN_TRACING_V2=false
"$VENV/bin/python" "$HERE/record.py" "$PORT" "${AW_OUT:-$HERE}" "$WORK/server.log"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
