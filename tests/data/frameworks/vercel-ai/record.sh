#!/usr/bin/env bash
# Regenerates spans.json + expected.json for the Vercel AI SDK (npm `ai` 7.x + @ai-sdk/otel) from scratch.
# No network besides the npm registry; the model is ai/test's MockLanguageModelV4, in-process (no server, no sockets).
#   ./spans.json          LegacyOpenTelemetry integration: ai.generateText / ai.*.doGenerate / ai.toolCall spans (what ai@4..6 core emitted)
#   ./semconv/spans.json  OpenTelemetry integration (GenAI semconv: invoke_agent / step / chat / execute_tool); see NOTES.md
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRATCH="${AW_FW_SCRATCH:-/tmp/aw-fw-vercel-ai-node}"
mkdir -p "$SCRATCH"
cp "$HERE/package.json" "$HERE/record.mjs" "$SCRATCH/"
( cd "$SCRATCH" && npm install --no-audit --no-fund --loglevel=error )
cd "$SCRATCH"
node record.mjs "$HERE" legacy
node record.mjs "$HERE/semconv" semconv
echo "fixture written to $HERE (and $HERE/semconv)"
