#!/usr/bin/env bash
# Regenerates spans.json + expected.json for Semantic Kernel Python (its experimental GenAI OTel diagnostics) from scratch.
# Needs only PyPI (pinned in requirements.txt); the shared fake model server listens on 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-semantic-kernel-venv}"
WORK="$(mktemp -d /tmp/aw-fw-semantic-kernel.XXXXXX)"
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
# SK reads these once, when its telemetry modules are imported; _SENSITIVE alone would also enable the spans
export SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS=true
export SEMANTICKERNEL_EXPERIMENTAL_GENAI_ENABLE_OTEL_DIAGNOSTICS_SENSITIVE="${AW_SENSITIVE:-true}"
"$VENV/bin/python" "$HERE/record.py" "$PORT" "$WORK/server.log" "${AW_OUT:-$HERE}"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
