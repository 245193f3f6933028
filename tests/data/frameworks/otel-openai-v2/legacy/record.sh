#!/usr/bin/env bash
# Regenerates spans.json + expected.json (+ logs.json) for opentelemetry-instrumentation-openai-v2 2.3b0, the newest
# release that emits the pre-1.37 GenAI conventions (gen_ai.system, content as log events), from scratch.
# Needs only PyPI (every package pinned in requirements.txt); the fake model server listens on 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-otel-openai-v2-legacy-venv}"
WORK="$(mktemp -d /tmp/aw-fw-otel-openai-v2-legacy.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT
"$VENV/bin/python" "$HERE/../../fake_openai_server.py" "$WORK/port" "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset OTEL_SEMCONV_STABILITY_OPT_IN   # 2.3b0 does not read it (no dual mode before 2.4b0)
# in 2.3b0 only the exact (case-insensitive) value 'true' enables content, and content goes to LOG EVENTS only
export OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="${AW_CAPTURE:-true}"
"$VENV/bin/python" "$HERE/record.py" "$PORT" "${AW_OUT:-$HERE}"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
