#!/usr/bin/env bash
# Regenerates spans.json + expected.json for openinference-instrumentation-llama-index (FunctionAgent) from scratch:
# the default (FunctionAgent streaming=True) here, and FunctionAgent(streaming=False) in non-streaming/.
# Needs only PyPI (pinned in requirements.txt); the fake model server listens on 127.0.0.1 only.
# llama-index's FunctionAgent streams by default, so this fixture uses its own streaming fake
# (../fake_openai_stream_server.py), which serves the shared fake's scripted replies.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-openinference-llamaindex-venv}"
WORK="$(mktemp -d /tmp/aw-fw-openinference-llamaindex.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; SERVER_PID=""; }
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_API_BASE OPENAI_ORG_ID OPENAI_PROJECT_ID
# llama-index then uses the tiktoken encoding it ships (its memory buffer needs one; fetching it would leave loopback)
unset TIKTOKEN_CACHE_DIR

# one fresh fake server per recording (its script is consumed in order)
record() {  # record STREAMING OUTDIR
  mkdir -p "$WORK/$1"
  "$VENV/bin/python" "$HERE/../fake_openai_stream_server.py" "$WORK/$1/port" "$WORK/$1/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/$1/port" ] && break; sleep 0.1; done
  "$VENV/bin/python" "$HERE/record.py" "$(cat "$WORK/$1/port")" "$2" "$WORK/$1/server.log" "$1"
  echo "server served $(wc -l < "$WORK/$1/server.log") requests; fixture written to $2"
  stop_server
}
OUT="${AW_OUT:-$HERE}"
mkdir -p "$OUT/non-streaming"
record 1 "$OUT"
record 0 "$OUT/non-streaming"
