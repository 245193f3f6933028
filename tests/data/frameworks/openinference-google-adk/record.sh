#!/usr/bin/env bash
# Regenerates the openinference-google-adk fixtures (openinference-instrumentation-google-adk on Google ADK) from scratch.
# Needs only PyPI (pinned in requirements.txt); the fake Gemini API server (shared with ../google-adk, used from there
# unchanged: ../google-adk/fake_gemini_server.py) listens on 127.0.0.1 only.
#   ./spans.json            ADK's default telemetry schema (ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN unset = 2)
#   ./schema-v1/spans.json  ADK's legacy schema (ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1: one call_llm span per model call)
# Both: global SDK TracerProvider + GoogleADKInstrumentor().instrument(), every other knob at its default. See NOTES.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-openinference-google-adk-venv}"
WORK="$(mktemp -d /tmp/aw-fw-openinference-google-adk.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; fi; }
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export GOOGLE_API_KEY=dummy
unset GEMINI_API_KEY GOOGLE_GENAI_USE_VERTEXAI GOOGLE_CLOUD_PROJECT GOOGLE_GENAI_API_VERSION OTEL_SEMCONV_STABILITY_OPT_IN \
  ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS ADK_EXPERIMENTAL_TELEMETRY ADK_EXPERIMENTAL_TELEMETRY_FEATURES \
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN AW_ADK_NATIVE
# OpenInference captures inputs/outputs/messages by default; make sure no OPENINFERENCE_HIDE_* switch is set.
for v in $(env | sed -n 's/^\(OPENINFERENCE_HIDE_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

# record OUTDIR [VAR=value...]: one fresh fake server (its script starts over), two tasks, record.py run with the VARs
record() {
  local out="$1" log="$WORK/server-$(basename "$1").log"
  shift
  mkdir -p "$out"
  rm -f "$WORK/port"
  "$VENV/bin/python" "$HERE/../google-adk/fake_gemini_server.py" "$WORK/port" "$log" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  # google-genai's base-URL fallback when neither http_options nor ADK's Gemini(base_url=...) sets one
  env "$@" GOOGLE_GEMINI_BASE_URL="http://127.0.0.1:$(cat "$WORK/port")" "$VENV/bin/python" "$HERE/record.py" "$log" "$out"
  stop_server
  echo "server served $(wc -l < "$log") requests; fixture written to $out"
}

OUT="${AW_OUT:-$HERE}"
record "$OUT"
record "$OUT/schema-v1" ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1
