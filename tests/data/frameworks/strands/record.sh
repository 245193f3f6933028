#!/usr/bin/env bash
# Regenerates spans.json + expected.json for Strands Agents (built-in OTel tracing) from scratch.
# Needs only PyPI (pinned in requirements.txt); the fake model server listens on 127.0.0.1 only.
# Strands' OpenAIModel streams (stream=true, stream_options.include_usage=true), so this fixture uses its
# the shared streaming fake (../fake_openai_stream_server.py), which serves the shared fake's scripted replies.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-strands-venv}"
WORK="$(mktemp -d /tmp/aw-fw-strands.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT
"$VENV/bin/python" "$HERE/../fake_openai_stream_server.py" "$WORK/port" "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# record with the default conventions; AW_SEMCONV=gen_ai_latest_experimental shows the other mode (NOTES.md)
if [ -n "${AW_SEMCONV:-}" ]; then export OTEL_SEMCONV_STABILITY_OPT_IN="$AW_SEMCONV"; else unset OTEL_SEMCONV_STABILITY_OPT_IN; fi
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT LANGFUSE_BASE_URL  # would switch Strands to Langfuse mode
"$VENV/bin/python" "$HERE/record.py" "$PORT" "$WORK/server.log" "${AW_OUT:-$HERE}"
echo "server served $(wc -l < "$WORK/server.log") requests; fixture written to ${AW_OUT:-$HERE}"
