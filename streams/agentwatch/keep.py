"""Tail-keep: an open task's spans, kept in compact form, so that a task which closes having alerted (or
scored low) can be published whole to `agentwatch.flagged` and exported as a regression set (export.py).
Tasks that close clean keep nothing: their buffers are freed at close.

A kept span is one row: its normalized fields as JSON, its resource inline (`encode_rows`, ~300 bytes;
the span's prompts and tool arguments were never kept, only the arguments' hash). Rows are made once,
when the span is folded, and persisted with the task's state as they are (`orjson.Fragment`), so a
restarted or rebalanced worker publishes the same spans.

Bounds (each tested in tests/test_keep.py):
- per task, `max_spans` and `max_bytes` (of rows): once the buffer reaches half of either, its first spans
  (the head) are frozen; every later span joins the tail, whose oldest spans are dropped while the buffer
  is over a bound. So the first and the last spans are kept; `cut` counts those left out (truncated).
- per worker, over every open task (`Engine`, `keep_max_worker_bytes`): over it the least recently
  updated tasks' buffers are dropped first and counted; those tasks keep nothing more.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from .jsonbytes import dumps
from .model import SPAN_FIELDS, Resource, Span, span_from_row

_FIELDS_OF = operator.attrgetter(*SPAN_FIELDS)  # one C call for every field (a getattr loop: 1.5x the time)


def encode_rows(spans: Iterable[Span]) -> Iterator[bytes]:
    """Each span's row: the JSON array of its resource's four fields, then SPAN_FIELDS. A run of spans of one
    resource (a task's, in one batch) encodes it once: the row is that prefix joined to the fields' array,
    a right-sized copy (rows are held while the task is open, jsonbytes.py)."""
    res, head = None, b""
    for s in spans:
        if s.resource is not res:
            res = s.resource
            head = orjson.dumps(res.as_tuple())[:-1] + b","
        yield head + memoryview(orjson.dumps(_FIELDS_OF(s)))[1:]


def decode_rows(rows: Iterable[bytes]) -> list[Span]:
    """The spans of `encode_rows` rows (one Resource object per distinct resource)."""
    resources: dict[tuple[Any, ...], Resource] = {}
    out = []
    for raw in rows:
        row = orjson.loads(raw)
        key = tuple(row[:4])
        res = resources.get(key)
        if res is None:
            res = resources[key] = Resource(*key)
        out.append(span_from_row(res, row, 4))
    return out


class KeptSpans:
    """One open task's buffer: the head (first spans, frozen at half a bound), then the tail."""

    __slots__ = ("cut", "head", "nbytes", "rows")

    def __init__(self) -> None:
        self.rows: list[bytes] = []
        self.nbytes = 0
        self.head = -1  # spans in the frozen head; -1 while it still grows
        self.cut = 0    # spans left out between head and tail

    def add(self, spans: Iterable[Span], max_spans: int, max_bytes: int) -> int:
        """Keep `spans` within the bounds; returns the change of `nbytes`."""
        rows, before, head = self.rows, self.nbytes, self.head
        nbytes = before
        for row in encode_rows(spans):
            n = len(row)
            if head < 0 and (len(rows) >= max_spans // 2 or nbytes + n > max_bytes // 2):
                head = len(rows)
            rows.append(row)
            nbytes += n
            if head >= 0:
                while len(rows) > max_spans or nbytes > max_bytes:  # the head alone is within both
                    nbytes -= len(rows.pop(head))
                    self.cut += 1
        self.nbytes, self.head = nbytes, head
        return nbytes - before

    def to_doc(self) -> list[Any]:
        """For the task's persisted state: the rows go in as the JSON they already are."""
        return [self.head, self.cut, orjson.Fragment(b"[" + b",".join(self.rows) + b"]")]

    @classmethod
    def from_doc(cls, doc: list[Any]) -> KeptSpans:
        k = cls()
        k.head, k.cut = doc[0], doc[1]
        k.rows = [dumps(row) for row in doc[2]]
        k.nbytes = sum(map(len, k.rows))
        return k


@dataclass(slots=True)
class Flagged:
    """A closed task to publish to `agentwatch.flagged`: why, which alerts, and its kept spans."""

    task_id: str
    trace_id: str
    agent: str
    end_ns: int
    reasons: list[str]        # alert | low_score
    alert_kinds: list[str]
    alert_ids: list[str]
    rows: list[bytes]
    cut: int                  # spans left out by the per-task bound (0: complete)


def low_scores(scores: dict[str, list[float]], keep_below: tuple[tuple[str, float], ...]) -> bool:
    """Whether a task's mean score of any evaluation named in the policy's `keep_below` is under its threshold."""
    for name, threshold in keep_below:
        acc = scores.get(name)
        if acc and acc[1] and acc[0] / acc[1] < threshold:
            return True
    return False


MAX_HEADER_ALERTS = 100  # alert kinds and IDs listed in a flagged record's headers


def flagged_headers(f: Flagged) -> list[tuple[str, bytes]]:
    """The headers of an `agentwatch.flagged` record (README: "Tail-keep"); `from_headers` reads them back."""
    return [
        ("agentwatch.task_id", f.task_id.encode()),
        ("agentwatch.trace_id", f.trace_id.encode()),
        ("agentwatch.agent", f.agent.encode()),
        ("agentwatch.end_ns", str(f.end_ns).encode()),
        ("agentwatch.reasons", ",".join(f.reasons).encode()),
        ("agentwatch.alert_kinds", ",".join(f.alert_kinds[:MAX_HEADER_ALERTS]).encode()),
        ("agentwatch.alert_ids", ",".join(f.alert_ids[:MAX_HEADER_ALERTS]).encode()),
        ("agentwatch.spans", str(len(f.rows)).encode()),
        ("agentwatch.truncated", str(f.cut).encode()),
    ]


def from_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, Any]:
    """A flagged record's headers as {task_id, trace_id, agent, end_ns, reasons, alert_kinds, alert_ids, spans,
    truncated}; ValueError if one is missing or malformed."""
    raw = {k.removeprefix("agentwatch."): (v or b"").decode("utf-8", "replace") for k, v in headers
           if k.startswith("agentwatch.")}
    try:
        out: dict[str, Any] = {k: raw[k] for k in ("task_id", "trace_id", "agent")}
        for k in ("end_ns", "spans", "truncated"):
            out[k] = int(raw[k])
        for k in ("reasons", "alert_kinds", "alert_ids"):
            out[k] = [x for x in raw[k].split(",") if x]
    except KeyError as exc:
        raise ValueError(f"header agentwatch.{exc.args[0]} missing") from None
    return out
