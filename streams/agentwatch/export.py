"""`agentwatch export`: the tasks on `agentwatch.flagged` (tail-keep) -> a regression set.

    agentwatch export --out incidents.otlp --since 7d [--until T] [--kind tool_loop] [--agent 'support-*']
    agentwatch replay incidents.otlp --expect incidents.otlp.expected.json   # exit 1 if a past alert is gone

Formats: `otlp` (default) is replay's binary format: length-prefixed `TracesData`, one record per task, the
bytes as the worker flagged them. `otlp-json` is one OTLP/JSON request per line: each line is the body of
a `POST /v1/traces` to any OTLP endpoint (Langfuse, Phoenix and Opik ingest OTLP), and `replay` reads it
too. Beside the file, `<out>.expected.json` lists per task its agent and the alert IDs and kinds it raised
live: what `replay --expect` checks. A task flagged twice (a record re-sent after a worker restart) is
exported once (its last record). Time filters compare the task's end (event time).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import orjson

from .keep import from_headers

EXPECTED_SCHEMA = "agentwatch.expected/v1"
FORMATS = ("otlp", "otlp-json")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now_ns: int) -> int:
    """`7d`, `24h`, `30m`, `90s` before `now_ns`, or an ISO 8601 / RFC 3339 time (UTC unless it says)."""
    m = _RELATIVE.match(text.strip())
    if m:
        return now_ns - int(float(m.group(1)) * _UNIT_S[m.group(2)] * 1e9)
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (7d, 24h, 30m, 90s) nor an RFC 3339 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1e9)


@dataclass(frozen=True)
class Selection:
    since_ns: int = 0
    until_ns: int = 2**63
    kinds: frozenset[str] = frozenset()     # any of these alert kinds (empty: all)
    agents: tuple[str, ...] = ()            # agent-name globs (empty: all)

    def wants(self, meta: dict[str, Any]) -> bool:
        if not self.since_ns <= meta["end_ns"] < self.until_ns:
            return False
        if self.kinds and not self.kinds & set(meta["alert_kinds"]):
            return False
        return not self.agents or any(fnmatchcase(meta["agent"], g) for g in self.agents)


@dataclass
class Export:
    tasks: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)  # task ID -> (headers, value)
    unreadable: int = 0

    def add(self, headers: Iterable[tuple[str, bytes | None]], value: bytes, sel: Selection) -> None:
        try:
            meta = from_headers(headers)
        except ValueError:
            self.unreadable += 1
            return
        if sel.wants(meta):
            self.tasks.pop(meta["task_id"], None)  # the last copy, in the order read
            self.tasks[meta["task_id"]] = (meta, value)


def write(export: Export, out: Path, fmt: str) -> Path:
    """Write the records in `fmt` to `out`, and the expected alerts beside it; returns the expected file."""
    from .otlp.decode import decode_record
    from .otlp.encode import to_otlp_json
    from .replay import write_length_prefixed

    values = [value for _, value in export.tasks.values()]
    with out.open("wb") as f:
        if fmt == "otlp":
            write_length_prefixed(values, f)
        else:
            for value in values:
                f.write(orjson.dumps(to_otlp_json(decode_record(value, max_bytes=len(value) + 1).spans)) + b"\n")
    expected = out.with_name(out.name + ".expected.json")
    expected.write_bytes(orjson.dumps({"schema": EXPECTED_SCHEMA, "tasks": [
        {k: meta[k] for k in ("task_id", "trace_id", "agent", "reasons", "alert_kinds", "alert_ids", "truncated")}
        for meta, _ in export.tasks.values()]}, option=orjson.OPT_INDENT_2))
    return expected


def export_flagged(bootstrap: str, topic: str, out: Path, fmt: str = "otlp", sel: Selection | None = None, *,
                   security: Mapping[str, str] | None = None, timeout_s: float = 10.0,
                   warn: Callable[[str], None] = print) -> tuple[Export, Path]:
    """Read `topic` to its end and write the selected flagged tasks to `out`; returns them and the expected file.
    Raises `kafka_clients.TopicUnavailable` if the broker or the topic is not there."""
    from .stream.kafka_clients import read_topic

    export, sel = Export(), sel or Selection()
    read_topic(bootstrap, topic, lambda m: export.add(m.headers() or [], m.value() or b"", sel),
               group="agentwatch-export-cli", from_beginning=True, follow=False, timeout_s=timeout_s,
               security=security, warn=warn)
    return export, write(export, out, fmt)


def missing_alerts(expected: dict[str, Any], produced: set[str]) -> tuple[list[dict[str, Any]], int]:
    """The expected alerts `produced` lacks ({task_id, agent, kind, alert_id} each), and how many truncated tasks
    were not checked (their middle spans were left out live, so their totals cannot be reproduced)."""
    missing, skipped = [], 0
    for task in expected.get("tasks", []):
        if task.get("truncated"):
            skipped += 1
            continue
        for kind, aid in zip(task["alert_kinds"], task["alert_ids"], strict=False):
            if aid not in produced:
                missing.append({"task_id": task["task_id"], "agent": task["agent"], "kind": kind, "alert_id": aid})
    return missing, skipped


def cli_main(args: argparse.Namespace) -> int:
    from .stream.kafka_admin import CliStartError, cli_broker
    from .stream.kafka_clients import TopicUnavailable

    def warn(msg: str) -> None:
        print(f"agentwatch export: {msg}", file=sys.stderr, flush=True)

    now = time.time_ns()
    try:
        sel = Selection(since_ns=parse_time(args.since, now) if args.since else 0,
                        until_ns=parse_time(args.until, now) if args.until else 2**63,
                        kinds=frozenset(args.kind or ()), agents=tuple(args.agent or ()))
    except ValueError as exc:
        warn(str(exc))
        return 2
    try:
        settings, bootstrap, security = cli_broker(args.brokers, max(args.timeout, 0.1))
    except CliStartError as exc:
        warn(str(exc))
        return exc.code
    try:
        export, expected = export_flagged(bootstrap, args.topic or settings.flagged_topic, args.out, args.format, sel,
                                          security=security, timeout_s=args.timeout, warn=warn)
    except TopicUnavailable as exc:
        warn(str(exc))
        return 1
    if export.unreadable:
        warn(f"skipped {export.unreadable} record(s) without agentwatch headers")
    truncated = sum(1 for meta, _ in export.tasks.values() if meta["truncated"])
    print(f"agentwatch export: {len(export.tasks)} task(s) to {args.out} ({args.format}); expected alerts in "
          f"{expected}" + (f"; {truncated} truncated live (not checked by replay --expect)" if truncated else ""),
          file=sys.stderr)
    return 0
