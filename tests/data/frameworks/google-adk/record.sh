#!/usr/bin/env bash
# Regenerates the google-adk fixtures (ADK's built-in OpenTelemetry tracing) from scratch.
# Needs only PyPI (pinned in requirements.txt); the fake Gemini API server listens on 127.0.0.1 only.
#   ./spans.json            default telemetry schema (ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN unset = 2, GenAI semconv
#                           aligned: invoke_workflow > invoke_agent > generate_content / execute_tool), content capture
#                           OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY (else no tool arguments)
#   ./schema-v1/spans.json  legacy schema (ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1: invocation > invoke_agent > call_llm >
#                           generate_content, execute_tool), all other knobs at their defaults. See NOTES.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-google-adk-venv}"
WORK="$(mktemp -d /tmp/aw-fw-google-adk.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; fi; }
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export GOOGLE_API_KEY=dummy
unset GEMINI_API_KEY GOOGLE_GENAI_USE_VERTEXAI GOOGLE_CLOUD_PROJECT GOOGLE_GENAI_API_VERSION OTEL_SEMCONV_STABILITY_OPT_IN \
  ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS ADK_EXPERIMENTAL_TELEMETRY ADK_EXPERIMENTAL_TELEMETRY_FEATURES

# record OUTDIR [VAR=value...]: one fresh fake server (its script starts over), two tasks, record.py run with the VARs
record() {
  local out="$1" log="$WORK/server-$(basename "$1").log"
  shift
  mkdir -p "$out"
  rm -f "$WORK/port"
  "$VENV/bin/python" "$HERE/fake_gemini_server.py" "$WORK/port" "$log" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  # google-genai's base-URL fallback when neither http_options nor ADK's Gemini(base_url=...) sets one
  env "$@" GOOGLE_GEMINI_BASE_URL="http://127.0.0.1:$(cat "$WORK/port")" "$VENV/bin/python" "$HERE/record.py" "$log" "$out"
  stop_server
  echo "server served $(wc -l < "$log") requests; fixture written to $out"
}

OUT="${AW_OUT:-$HERE}"
unset ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
record "$OUT" OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY
record "$OUT/schema-v1" ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1
