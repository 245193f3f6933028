#!/usr/bin/env bash
# Regenerates spans.json + expected.json for openinference-instrumentation-crewai (+ openinference-instrumentation-openai
# for the model calls) from scratch. Needs only PyPI (pinned in requirements.txt); the fake model server listens on
# 127.0.0.1 only, and record.py refuses any non-loopback lookup or connection.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-openinference-crewai-venv}"
WORK="$(mktemp -d /tmp/aw-fw-openinference-crewai.XXXXXX)"
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
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_API_BASE OPENAI_ORG_ID OPENAI_PROJECT_ID
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
# CrewAI's own anonymous telemetry and its CrewAI-AMP trace upload: both off. NOT OTEL_SDK_DISABLED: the OTel SDK
# reads it too and would turn the recorder's own TracerProvider into one that records nothing.
export CREWAI_DISABLE_TELEMETRY=true CREWAI_DISABLE_TRACKING=true CREWAI_TRACING_ENABLED=false
unset OTEL_SDK_DISABLED
# CrewAI writes its settings / first-run markers under $HOME (~/.local/share, ~/.config): keep them in $WORK
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config"
mkdir -p "$HOME"
"$VENV/bin/python" "$HERE/record.py" "$PORT" "${AW_OUT:-$HERE}" "$WORK/server.log"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
