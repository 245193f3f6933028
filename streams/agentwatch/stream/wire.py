"""The internal topic's value: the compact spans (or evaluation scores) of one route batch bound for
one partition.

orjson of [4, resources, spans, watermarks], each span a flat list of its fields, the resource by index:
a few µs a span both ways, and a batch's spans for one partition travel as one Kafka message (never one
per span). Each span carries its source input partition and offset (`Span.src`, `Span.offset`): what
lets a task skip a record it already absorbed. `watermarks` is [[source partition, newest span end
there], ...]: the event-time progress of the input partitions the batch came from (`stream/clock.py`);
a heartbeat is a batch with no spans. Evaluation scores from the logs topic travel as
[2, [[trace_id, span_id, name, score, ts_ns, service, src, offset]...]]; a barrier of the local shortcut
(`stream/shortcut.py`) as [3, token].
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from ..model import SPAN_FIELDS as _FIELDS
from ..model import Evaluation, Resource, Span, span_from_row

_VERSION = 4  # span batches; 1 was without src and offset
_EVALUATIONS = 2
_BARRIER = 3


class Batch(NamedTuple):
    """One internal message: spans with their source watermarks, or evaluations, or a barrier token."""
    spans: list[Span]
    evaluations: list[Evaluation]
    watermarks: list[list[int]]
    barrier: str = ""


def encode_spans(spans: list[Span], watermarks: dict[int, int] | None = None) -> bytes:
    index: dict[int, int] = {}
    resources: list[tuple[str, str, str, str]] = []
    rows = []
    for s in spans:
        ri = index.get(id(s.resource))
        if ri is None:
            ri = index[id(s.resource)] = len(resources)
            resources.append(s.resource.as_tuple())
        rows.append([ri, *[getattr(s, f) for f in _FIELDS]])
    return orjson.dumps([_VERSION, resources, rows, list((watermarks or {}).items())])


def encode_evaluations(evaluations: list[Evaluation]) -> bytes:
    return orjson.dumps([_EVALUATIONS, [[e.trace_id, e.span_id, e.name, e.score, e.ts_ns, e.service, e.src,
                                         e.offset] for e in evaluations]])


def encode_barrier(token: str) -> bytes:
    return orjson.dumps([_BARRIER, token])


def decode_batch(data: bytes) -> Batch:
    doc = orjson.loads(data)
    if doc[0] == _EVALUATIONS:
        return Batch([], [Evaluation(*row) for row in doc[1]], [])
    if doc[0] == _BARRIER:
        return Batch([], [], [], str(doc[1]))
    return Batch(_spans(doc), [], doc[3])


def _spans(doc: list) -> list[Span]:
    version, resources, rows, _ = doc
    if version != _VERSION:
        raise ValueError(f"internal batch version {version} (this worker reads {_VERSION})")
    res = [Resource(*r) for r in resources]
    return [span_from_row(res[row[0]], row, 1) for row in rows]
