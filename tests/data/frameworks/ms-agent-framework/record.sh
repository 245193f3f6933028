#!/usr/bin/env bash
# Regenerates the Microsoft Agent Framework fixtures (its built-in agent_framework.observability spans) from scratch:
#   ./spans.json + expected.json            MAF's default conventions (OTEL_SEMCONV_STABILITY_OPT_IN unset = "latest")
#   ./semconv-v1.36/spans.json + expected.json   OTEL_SEMCONV_STABILITY_OPT_IN="" (the v1.36.0 baseline; see NOTES.md)
# Needs only PyPI (pinned in requirements.txt); the shared fake model server listens on 127.0.0.1 only
# (one fresh server per recording: it serves its scripted replies in order).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-ms-agent-framework-venv}"
WORK="$(mktemp -d /tmp/aw-fw-ms-agent-framework.XXXXXX)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; fi; }
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# keep MAF from adding exporters of its own or reading settings from elsewhere (record.py never calls configure_otel_providers)
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ENABLE_CONSOLE_EXPORTERS VS_CODE_EXTENSION_PORT
export ENABLE_INSTRUMENTATION=true ENABLE_SENSITIVE_DATA=true

record() {  # record OUTDIR [semconv value; absent = unset]
  local out="$1" run="$WORK/run$RANDOM"
  mkdir -p "$out" "$run"
  "$VENV/bin/python" "$HERE/../fake_openai_server.py" "$run/port" "$run/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$run/port" ] && break; sleep 0.1; done
  if [ $# -ge 2 ]; then export OTEL_SEMCONV_STABILITY_OPT_IN="$2"; else unset OTEL_SEMCONV_STABILITY_OPT_IN; fi
  "$VENV/bin/python" "$HERE/record.py" "$(cat "$run/port")" "$run/server.log" "$out"
  echo "server served $(wc -l < "$run/server.log") requests; fixture written to $out"
  stop_server
}
record "${AW_OUT:-$HERE}"
record "${AW_OUT:-$HERE}/semconv-v1.36" ""
