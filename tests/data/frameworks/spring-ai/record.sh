#!/usr/bin/env bash
# BUILDS (does not record) spans.json + expected.json for Spring AI 2.0.1 (ChatClient + ToolCallingAdvisor + OpenAI,
# Micrometer Observation -> micrometer-tracing-bridge-otel). Spring AI runs on the JVM and cannot run on this machine
# (Java 17 is here, but no Maven repository is reachable: see NOTES.md), so build.py constructs the spans it emits,
# from its source, with the real OTel Python SDK (InMemorySpanExporter), replaying ../fake_openai_server.py's SCRIPT.
# No fake server is started: nothing talks HTTP. Needs only PyPI (pinned in requirements.txt). Output is deterministic.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-spring-ai-venv}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
"$VENV/bin/python" "$HERE/build.py" "${AW_OUT:-$HERE}"
echo "fixture built (not recorded) in ${AW_OUT:-$HERE}"
