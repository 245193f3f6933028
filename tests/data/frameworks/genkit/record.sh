#!/usr/bin/env bash
# Regenerates spans.json + expected.json for Firebase Genkit (JS) from scratch.
# No network besides the npm registry; the fake model runs in-process (no server, no sockets).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRATCH="${AW_FW_SCRATCH:-/tmp/aw-fw-genkit-node}"
mkdir -p "$SCRATCH"
cp "$HERE/package.json" "$HERE/record.mjs" "$SCRATCH/"
( cd "$SCRATCH" && npm install --no-audit --no-fund --loglevel=error )
# no GENKIT_ENV needed (dev mode only changes Genkit's own exporter to SimpleSpanProcessor)
cd "$SCRATCH"
OTEL_SERVICE_NAME=aw-fw-genkit OTEL_NODE_RESOURCE_DETECTORS=env,process \
  node record.mjs "$HERE"
echo "fixture written to $HERE"
