"""`agentwatch replay`: the worker's core over files of recorded OTLP records, no broker needed.

File formats (detected per file from its first bytes):
- length-prefixed protobuf (`.otlp`): repeated [4-byte big-endian length][TracesData bytes];
- JSON: one OTLP JSON document (`{"resourceSpans": [...]}` or rotel's top-level array);
- JSONL: one `otlp_json` record per line.
Span times drive the clock: after each record the engine ticks at the newest span end seen; at end of
input `flush` judges every open task as if nothing more came (unless `flush=False`). Task summaries go
through the per-agent stage too (daily budget, drift, error types), as in the worker.
A bad record is reported on stderr (file, record number, reason) and skipped, like the worker's DLQ;
so is a record that makes the decoder or the engine fail (`internal_error`, with the traceback): one
record must not end a replay of many.
"""

from __future__ import annotations

import struct
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .agents import AgentStage
from .engine import Engine, Output
from .otlp.decode import RecordError, decode_record, first_line

_TICK_EVERY_NS = 10**9


def write_length_prefixed(records: list[bytes], out: IO[bytes]) -> None:
    """Write records in the replay binary format (the inverse of `read_records` for binary files)."""
    for rec in records:
        out.write(struct.pack(">I", len(rec)))
        out.write(rec)


def read_records(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    head = data.lstrip()[:1]
    if head == b"[":
        yield data
    elif head == b"{":
        lines = [ln for ln in data.splitlines() if ln.strip()]
        # One JSON document spread over lines, or JSONL (every line a document)?
        if len(lines) > 1 and all(ln.lstrip().startswith((b"{", b"[")) and ln.rstrip().endswith((b"}", b"]"))
                                  for ln in lines):
            yield from lines
        else:
            yield data
    else:
        pos = 0
        while pos < len(data):
            if pos + 4 > len(data):
                raise RecordError(f"{path}: truncated length prefix at byte {pos}")
            (n,) = struct.unpack_from(">I", data, pos)
            pos += 4
            if pos + n > len(data):
                raise RecordError(f"{path}: record at byte {pos - 4} claims {n} bytes, only {len(data) - pos} left")
            yield data[pos:pos + n]
            pos += n


def replay(paths: list[Path], engine: Engine, *, max_record_bytes: int, encoding: str = "auto",
           flush: bool = True, err: IO[str] | None = None) -> Iterator[Output]:
    """Yield the engine's output as the records of `paths` are applied in order."""
    err = err or sys.stderr
    agents = AgentStage(engine.policy)

    def with_agents(out: Output) -> Output:
        for summary in out.summaries:
            out.alerts.extend(agents.observe_summary(summary))
        for late in out.late_scores:
            out.alerts.extend(agents.observe_score(late))
        out.alerts.extend(agents.observe_clock(engine.clock_ns))
        return out

    last_tick = 0
    resources: dict[tuple[str, str, str, str], Any] = {}
    for path in paths:
        try:
            for n, rec in enumerate(read_records(path)):
                try:
                    decoded = decode_record(rec, max_bytes=max_record_bytes, encoding=encoding,
                                            resources=resources)
                    for e in decoded.errors:
                        print(f"{path}: record {n}: {e.reason}: {e}", file=err)
                    out = engine.process(decoded.spans)
                    if engine.clock_ns - last_tick >= _TICK_EVERY_NS:
                        last_tick = engine.clock_ns
                        out.extend(engine.tick(engine.clock_ns))
                    out = with_agents(out)
                except RecordError as exc:
                    print(f"{path}: record {n}: {exc.reason}: {exc}", file=err)
                    continue
                except Exception as exc:  # a bug, not bad input: report it and go on, as the DLQ would
                    print(f"{path}: record {n}: internal_error: {type(exc).__name__}: {first_line(exc)}", file=err)
                    print(traceback.format_exc(), end="", file=err)
                    continue
                yield out
        except RecordError as exc:
            print(f"{exc}", file=err)
    yield with_agents(engine.flush() if flush else engine.tick(engine.clock_ns))

