"""Evaluation scores from the logs signal: OTLP `LogsData` -> `Evaluation` records.

Only `gen_ai.evaluation.result` events are read (the event name in `LogRecord.event_name`, or the
older `event.name` attribute); every other log record is skipped at the cost of a name comparison.
The evaluated span's trace ID ties the score to its task. A result whose score is not a finite number
within +-MAX_SCORE, or whose time is past 2**63 ns, is dropped (there is no per-record error channel).
"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from opentelemetry.proto.logs.v1.logs_pb2 import LogsData

from ..model import Evaluation
from . import vocab as v
from .decode import RecordTooLarge, UndecodableRecord
from .normalize import MAX_LABEL, MAX_NS, as_number, as_text, is_score

_EVENT_NAME_ATTR = "event.name"


def decode_evaluations(data: bytes, *, max_bytes: int) -> list[Evaluation]:
    """A `LogsData` record -> its evaluation results. Raises RecordError like the spans decoder."""
    if len(data) > max_bytes:
        raise RecordTooLarge(f"record of {len(data)} bytes exceeds AGENTWATCH_MAX_RECORD_BYTES={max_bytes}")
    try:
        logs = LogsData.FromString(data)
    except DecodeError as exc:
        raise UndecodableRecord(f"not an OTLP LogsData protobuf: {exc}") from None
    out: list[Evaluation] = []
    for rl in logs.resource_logs:
        service = next((kv.value.string_value for kv in rl.resource.attributes if kv.key == v.RESOURCE_SERVICE), "")
        if len(service) > MAX_LABEL:
            service = service[:MAX_LABEL]
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                event = rec.event_name
                name = score = None
                for kv in rec.attributes:
                    key = kv.key
                    if key == v.EVALUATION_NAME:
                        name = as_text(kv.value)
                    elif key == v.EVALUATION_SCORE:
                        score = as_number(kv.value)
                    elif key == _EVENT_NAME_ATTR and not event:
                        event = kv.value.string_value
                if (event != v.EVALUATION_EVENT or not name or score is None or not is_score(score)
                        or len(rec.trace_id) != 16):
                    continue
                ts = rec.time_unix_nano or rec.observed_time_unix_nano
                if ts >= MAX_NS:
                    continue
                out.append(Evaluation(rec.trace_id.hex(), rec.span_id.hex() if rec.span_id else "", name,
                                      float(score), ts, service))
    return out
