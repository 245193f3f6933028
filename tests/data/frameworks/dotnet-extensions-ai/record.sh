#!/usr/bin/env bash
# BUILDS (does not record) the Microsoft.Extensions.AI fixtures:
#   ./spans.json + expected.json         IChatClient .UseFunctionInvocation().UseOpenTelemetry() (Microsoft.Extensions.AI 10.9.0)
#   ./agent/spans.json + expected.json   Microsoft.Agents.AI 1.17.0 ChatClientAgent .AsBuilder().UseOpenTelemetry()
# There is no .NET SDK on this machine (`dotnet` not found; no NuGet feed reachable: see NOTES.md), so build.py
# constructs the spans these libraries emit, from their source, with the real OTel Python SDK (InMemorySpanExporter),
# replaying ../fake_openai_server.py's SCRIPT. No fake server is started: nothing talks HTTP.
# Needs only PyPI (pinned in requirements.txt). Output is deterministic.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-dotnet-extensions-ai-venv}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
"$VENV/bin/python" "$HERE/build.py" "${AW_OUT:-$HERE}"
echo "fixtures built (not recorded) in ${AW_OUT:-$HERE} and ${AW_OUT:-$HERE}/agent"
