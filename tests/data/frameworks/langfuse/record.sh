#!/usr/bin/env bash
# Regenerates spans.json + expected.json for the Langfuse Python SDK (langfuse, OTel-based v3+) from scratch:
# the default recording (context managers) here, the @observe-decorator variant in observe/.
# Needs only PyPI (every package pinned in requirements.txt); the fake model server listens on 127.0.0.1 only,
# and Langfuse's own exporter is replaced by an in-memory one (host points at the dead port 127.0.0.1:1).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AW_FW_VENV:-/tmp/aw-fw-langfuse-venv}"
WORK="$(mktemp -d /tmp/aw-fw-langfuse.XXXXXX)"
OUT="${AW_OUT:-$HERE}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

SERVER_PID=""
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; SERVER_PID=""; }
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none
export LANGFUSE_MEDIA_UPLOAD_ENABLED=false          # no media in this task; keeps Langfuse's upload thread idle
unset LANGFUSE_BASE_URL LANGFUSE_HOST LANGFUSE_TRACING_ENABLED LANGFUSE_PUBLIC_KEY LANGFUSE_SECRET_KEY \
      LANGFUSE_OBSERVE_DECORATOR_IO_CAPTURE_ENABLED LANGFUSE_SAMPLE_RATE LANGFUSE_TRACING_ENVIRONMENT LANGFUSE_RELEASE \
      RENDER_GIT_COMMIT CI_COMMIT_SHA CIRCLE_SHA1 SOURCE_VERSION TRAVIS_COMMIT GIT_COMMIT GITHUB_SHA BITBUCKET_COMMIT \
      BUILD_SOURCEVERSION DRONE_COMMIT_SHA   # CI commit variables Langfuse would copy into langfuse.release

record() {  # record MODE OUTDIR: a fresh fake server per run (it serves its scripted replies in order)
    local mode="$1" dir="$2"
    rm -f "$WORK/port" "$WORK/server.log"
    "$VENV/bin/python" "$HERE/../fake_openai_server.py" "$WORK/port" "$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
    mkdir -p "$dir"
    timeout 300 "$VENV/bin/python" "$HERE/record.py" "$(cat "$WORK/port")" "$dir" "$mode"
    echo "$mode: server served $(wc -l < "$WORK/server.log") requests; fixture written to $dir"
    stop_server
}
record context "$OUT"
record observe "$OUT/observe"
