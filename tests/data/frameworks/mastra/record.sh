#!/usr/bin/env bash
# Regenerates spans.json + expected.json for Mastra (@mastra/core + @mastra/observability + @mastra/otel-exporter).
# No network besides the npm registry; the model is ai/test's MockLanguageModelV4, in-process (no server, no sockets).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRATCH="${AW_FW_SCRATCH:-/tmp/aw-fw-mastra-node}"
mkdir -p "$SCRATCH"
cp "$HERE/package.json" "$HERE/record.mjs" "$SCRATCH/"
( cd "$SCRATCH" && npm install --no-audit --no-fund --loglevel=error )
cd "$SCRATCH"
# Mastra's own usage analytics (PostHog) off; nothing here talks to a network anyway.
MASTRA_TELEMETRY_DISABLED=1 node record.mjs "$HERE"
echo "fixture written to $HERE"
