"""The worker's logic without Faust: records in, records out, state to checkpoint. Plain code over plain data.

    route(input records)      decode; DLQ; spans grouped by home partition -> one re-key message each
                              (or folded here when the home is owned and drained: stream/shortcut.py)
    to_pause(owned, behind)   input partitions read too far ahead of the slowest (watermark alignment)
    route_logs(log records)   evaluation scores, re-keyed like spans
    heartbeat(caught up)      watermarks of input partitions with nothing left to read (stream/clock.py)
    aggregate(re-key records) fold into the Engine; alerts, summaries, a copy per agent partition
    agents(per-agent records) AgentStage: drift, error types, daily budget
    tick()                    close / stall / idle on each task's home-partition clock
    checkpoint()              serialize every changed task, closed-task marker and baseline (`write_state` sends)
    assign(...)               after a rebalance: adopt the recovered state of the partitions now owned

Everything it writes goes to a `Sink` (the librdkafka producer in a worker, a list in the simulation).
The runtime (stream/app.py, or tests/stream/test_delivery_simulation.py) owns the order that makes delivery
exactly-once in effect: `checkpoint()` with the offsets processed so far chosen at once; every record
sent so far acknowledged; `write_state(...)`; acknowledged again; then the offsets committed. See
ARCHITECTURE.md "Delivery" for the invariant.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ..agents import AgentStage
from ..engine import Engine, EngineConfig, Output
from ..jsonbytes import dumps
from ..keep import Flagged, decode_rows, flagged_headers
from ..model import logs_source
from ..otlp.decode import RecordError, decode_record
from ..otlp.encode import to_traces
from ..otlp.logs import decode_evaluations
from ..policy import Policy
from ..settings import Settings
from ..sinks.metrics import Metrics
from .clock import WatermarkClock, heartbeat_watermark, too_far_ahead
from .shortcut import LocalShortcut
from .topology import (
    AGENTS_TOPIC,
    BASELINE_TABLE,
    HW_MARKER_KEY,
    INTERNAL_TOPIC,
    TABLE,
    agent_partition,
    changelog_topic,
    collector_partition,
    partition_for,
)
from .wire import decode_batch, encode_barrier, encode_evaluations, encode_spans

log = logging.getLogger("agentwatch.worker")

PARTITION_CACHE_MAX = 100_000
MAX_FUTURE_NS = 300 * 10**9  # how far past the wall clock a span's end may move a watermark
StateWrite = tuple[str, str, bytes | None, int]  # changelog topic, key, value (None: delete), partition


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka record, as the core sees it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None


def _cached(cache: dict[str, int], key: str, hash_fn: Callable[[str, int], int], partitions: int) -> int:
    """`hash_fn(key, partitions)` memoised in `cache` (murmur2 is Python code), cleared at PARTITION_CACHE_MAX."""
    p = cache.get(key)
    if p is None:
        if len(cache) >= PARTITION_CACHE_MAX:
            cache.clear()
        p = cache[key] = hash_fn(key, partitions)
    return p


class Sink(Protocol):
    def send(self, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None,
             headers: Sequence[tuple[str, bytes]] | None = None) -> None: ...


class WorkerCore:
    """One worker's state and stages. `input_partitions`: partitions of the spans topic (streams per clock)."""

    def __init__(self, settings: Settings, policy: Policy, metrics: Metrics, sink: Sink, *,
                 input_partitions: int, hw_markers: bool = False) -> None:
        self.settings = settings
        self.metrics = metrics
        self.sink = sink
        self.partitions = settings.partitions
        self.engine = Engine(policy, EngineConfig.from_settings(settings, keep=True), observer=metrics)
        self.agent_stage = AgentStage(policy)
        # In place: input partition p is also the home of its traces' tasks, and each owned partition's
        # clock hears from one stream (itself); otherwise from every input partition.
        self.in_place = settings.aggregate_in_place
        self._home = collector_partition if self.in_place else partition_for
        self.shortcut = LocalShortcut()
        self.clock = WatermarkClock(inputs=1 if self.in_place else input_partitions)
        self.tasks_changelog = changelog_topic(TABLE)
        self.baselines_changelog = changelog_topic(BASELINE_TABLE)
        self._persisted: set[str] = set()  # task IDs with a live entry (state or closed marker) in the table
        self._partition_cache: dict[str, int] = {}
        self._agent_partition_cache: dict[str, int] = {}
        self._hw_markers = hw_markers
        self._unmarked: set[tuple[str, int]] = set()  # changelog partitions written since their marker
        self.newest: dict[int, int] = {}  # input partition -> newest span end routed from it
        self._clock_sent = 0  # the input clock last sent to the per-agent partitions (agent silence)

    # -- partitions -------------------------------------------------------------------------------
    def partition(self, key: str) -> int:
        """The home partition of task `key` (re-key topic, task-state changelog)."""
        return _cached(self._partition_cache, key, self._home, self.partitions)

    def agent_partition(self, agent: str) -> int:
        """The partition of `agent` on the per-agent topic and the baselines changelog: murmur2 in every mode
        (as agentwatch.tasks, keyed by agent with Kafka's default partitioner), never a task's home."""
        return _cached(self._agent_partition_cache, agent, agent_partition, self.partitions)

    # -- route: input records -> spans by home partition --------------------------------------------
    def route(self, records: Sequence[Record], wall_ns: int) -> None:
        """Decode input records and send each destination partition ONE message: its spans (each tagged
        with its record's partition and offset) plus the per-input-partition watermarks of this batch.
        Spans homed on a drained partition this worker owns are folded here, without the hop.

        A watermark never runs more than MAX_FUTURE_NS past the wall clock: one span from a host whose
        clock is years ahead would otherwise close or stall every open task of the partition at once."""
        s = self.settings
        key_of = self.engine.task_key
        by_trace = self.engine.config.task_key == "trace"  # then a span's home is its trace's: found once per run
        by_partition: dict[int, list[Any]] = {p: [] for p in range(self.partitions)}
        watermarks: dict[int, int] = {}
        for msg in records:
            try:
                decoded = decode_record(msg.value or b"", max_bytes=s.max_record_bytes, encoding=s.spans_encoding)
            except RecordError as exc:
                self.metrics.record(exc.reason)
                self.dead_letter(msg, exc.reason, str(exc))
                continue
            except Exception as exc:  # a decoder bug: this record is set aside, the partition goes on
                log.error("decoder failed on a record", extra={"fields": {"traceback": traceback.format_exc()}})
                self.metrics.record("malformed")
                self.dead_letter(msg, "internal_error", f"{type(exc).__name__}: {exc}")
                continue
            self.metrics.record("ok")
            if decoded.errors:
                first = decoded.errors[0]
                why = f"{len(decoded.errors)} span error(s), the rest processed: {first}"
                self.dead_letter(msg, first.reason, why, partial=True)
            newest = watermarks.get(msg.partition, 0)
            src, offset = msg.partition, msg.offset
            trace, home = "", by_partition[0]
            for span in decoded.spans:
                span.src = src
                span.offset = offset
                if not by_trace:
                    home = by_partition[self.partition(key_of(span))]
                elif span.trace_id != trace:  # a record holds its traces' spans together
                    trace = span.trace_id
                    home = by_partition[self.partition(trace)]
                home.append(span)
                if span.end_ns > newest:
                    newest = span.end_ns
            watermarks[msg.partition] = newest
        if not watermarks:
            return  # every record of the batch went to the DLQ
        horizon = wall_ns + MAX_FUTURE_NS
        for ip, wm in watermarks.items():
            if wm > horizon:
                watermarks[ip] = horizon
        for ip, wm in watermarks.items():
            if wm > self.newest.get(ip, 0):
                self.newest[ip] = wm
        out = Output()
        carried = None if self.in_place else watermarks
        local = self.shortcut.local
        for p, spans in by_partition.items():
            if p in local:
                now = self.clock.read(partition=p)  # before this batch: see Engine.process
                self._hear(p, watermarks)
                if spans:
                    out.extend(self.engine.process(spans, now))
            elif spans or carried:
                self.sink.send(INTERNAL_TOPIC, encode_spans(spans, carried), partition=p)
                self.metrics.rekeyed(len(spans))
        self.publish(out)

    def _hear(self, p: int, watermarks: dict[int, int]) -> None:
        for source, wm in watermarks.items():
            if not self.in_place or source == p:
                self.clock.heard(p, source, wm)

    def heartbeat(self, caught_up: Iterable[int], wall_ns: int) -> None:
        """Input partitions whose reader has consumed everything there: their watermark follows the wall
        clock (`heartbeat_watermark`), so tasks close and stalls show while input is quiet."""
        marks = {ip: heartbeat_watermark(self.newest.get(ip, 0), wall_ns) for ip in caught_up}
        if not marks:
            return
        local = self.shortcut.local
        for p in range(self.partitions):
            wms = {ip: wm for ip, wm in marks.items() if not self.in_place or ip == p}
            if not wms:
                continue
            if p in local:
                self._hear(p, wms)
            else:
                self.sink.send(INTERNAL_TOPIC, encode_spans([], wms), partition=p)

    def to_pause(self, owned: Iterable[int], behind: Iterable[int]) -> set[int]:
        """The owned input partitions the reader should pause now (`clock.too_far_ahead`); `behind`: those with
        records left to read. Never any in place: there each partition's clock hears only itself."""
        skew_s = self.settings.max_input_skew_s
        if self.in_place or not skew_s:
            return set()
        return too_far_ahead(self.newest, owned, behind, int(skew_s * 1e9))

    def route_logs(self, records: Sequence[Record]) -> None:
        """Evaluation results from the logs topic, re-keyed like spans (by trace: the task key)."""
        for msg in records:
            try:
                evaluations = decode_evaluations(msg.value or b"", max_bytes=self.settings.max_record_bytes)
            except RecordError as exc:
                self.metrics.record(exc.reason)
                self.dead_letter(msg, exc.reason, str(exc))
                continue
            by_partition: dict[int, list[Any]] = {}
            src = logs_source(msg.partition)
            for ev in evaluations:
                ev.src, ev.offset = src, msg.offset
                by_partition.setdefault(self.partition(ev.trace_id), []).append(ev)
            for p, evs in by_partition.items():
                self.sink.send(INTERNAL_TOPIC, encode_evaluations(evs), partition=p)

    def send_barriers(self) -> None:
        """After a rebalance: a barrier to every owned re-key partition (stream/shortcut.py)."""
        token = self.shortcut.token
        for p in self.shortcut.take_barriers():
            self.sink.send(INTERNAL_TOPIC, encode_barrier(token), partition=p)

    def dead_letter(self, msg: Record, reason: str, error: str, partial: bool = False) -> None:
        self.metrics.dead_letter(reason)
        headers = [
            ("agentwatch.error", error.splitlines()[0][:500].encode() if error else b""),
            ("agentwatch.reason", reason.encode()),
            ("agentwatch.source.topic", str(msg.topic).encode()),
            ("agentwatch.source.partition", str(msg.partition).encode()),
            ("agentwatch.source.offset", str(msg.offset).encode()),
        ]
        if partial:
            headers.append(("agentwatch.partial", b"true"))
        log.warning("record sent to the dead-letter topic", extra={"fields": {
            "reason": reason, "error": error[:300], "topic": msg.topic, "partition": msg.partition,
            "offset": msg.offset}})
        self.sink.send(self.settings.dlq_topic, msg.value, key=msg.key, headers=headers)

    # -- aggregate: spans -> task state -> alerts, summaries ---------------------------------------
    def aggregate(self, records: Sequence[Record]) -> None:
        """Fold re-key messages into the Engine and publish what they produced. An exception from the Engine
        propagates: the runtime must stop without committing (the input is read again after a restart)."""
        out = Output()
        for msg in records:
            try:
                batch = decode_batch(msg.value or b"")
            except (ValueError, TypeError, IndexError, KeyError) as exc:  # written by another agentwatch version?
                self.dead_letter(msg, "internal_error", f"unreadable internal batch: {exc}")
                continue
            if batch.barrier:
                self.shortcut.seen(msg.partition, batch.barrier)
                continue
            now = self.clock.read(partition=msg.partition)  # before this batch: see Engine.process
            for source, wm in batch.watermarks:
                if wm:
                    self.clock.heard(msg.partition, source, wm)
            if batch.spans:
                out.extend(self.engine.process(batch.spans, now))
            elif batch.evaluations:
                out.extend(self.engine.add_evaluations(batch.evaluations))
        self.publish(out)

    def tick(self, wall_ns: int) -> None:
        """Close finished tasks, detect stalls and idle timeouts, each on its home partition's clock."""
        now = self.clock.read()
        by_partition = {p: self.clock.read(partition=p) for p in self.clock.owned}
        partition = self.partition
        self.publish(self.engine.tick(now, lambda task_id: by_partition.get(partition(task_id), now)))
        self.send_input_clock()
        self.metrics.lag.set(max(0.0, (wall_ns - now) / 1e9) if now else 0.0)
        self.metrics.active_tasks.set(len(self.engine.tasks))
        self.metrics.dormant_tasks.set(self.engine.dormant)
        self.metrics.keep_buffer.set(self.engine.kept_bytes)

    def send_input_clock(self) -> None:
        """Every per-agent partition hears how far the input is complete: the clock of agent silence
        (detectors/silence.py). Sent when it moved. It is the newest span end this worker has read (real
        spans only: while input is quiet it stands still), but never past this worker's task clock (the
        watermark, a minimum over every input partition whoever reads it): tasks that ended before that
        clock have all closed and sent their summaries. The newest read alone ran ahead of tasks another,
        slower worker still held open, and their agents looked silent (false `agent_silent`, two workers
        reading a backlog: benchmarks/pipeline.py)."""
        clock = min(max(self.newest.values(), default=0), self.clock.read())
        if clock > self._clock_sent:
            self._clock_sent = clock
            value = b"[[],[],%d]" % clock
            for p in range(self.partitions):
                self.sink.send(AGENTS_TOPIC, value, partition=p)

    def publish(self, out: Output) -> None:
        s, send = self.settings, self.sink.send
        for alert in out.alerts:
            send(s.alerts_topic, orjson.dumps(alert), key=alert["task_id"].encode())
        by_partition: dict[int, tuple[list[bytes], list[bytes]]] = {}
        for summary in out.summaries:
            agent, value = summary["agent"], orjson.dumps(summary)
            send(s.tasks_topic, value, key=agent.encode())
            by_partition.setdefault(self.agent_partition(agent), ([], []))[0].append(value)
        for late in out.late_scores:
            by_partition.setdefault(self.agent_partition(str(late["agent"])), ([], []))[1].append(orjson.dumps(late))
        for p, (summaries, late_scores) in by_partition.items():
            send(AGENTS_TOPIC, b"[[%b],[%b]]" % (b",".join(summaries), b",".join(late_scores)), partition=p)
        for flagged in out.flagged:
            self.publish_flagged(flagged)

    def publish_flagged(self, f: Flagged) -> None:
        """A flagged task's kept spans as one OTLP `TracesData` record (what the Collector writes, so `replay`
        and any OTLP consumer read it), keyed by task ID; why, and which alerts, in its headers (export.py)."""
        value = to_traces(decode_rows(f.rows)).SerializeToString()
        if len(value) > self.settings.max_record_bytes:  # the per-task bound should prevent it; never a stuck send
            self.metrics.tail_keep("dropped", "record_size", sum(map(len, f.rows)))
            log.warning("flagged task too large to publish", extra={"fields": {
                "task_id": f.task_id, "bytes": len(value), "max_record_bytes": self.settings.max_record_bytes}})
            return
        self.sink.send(self.settings.flagged_topic, value, key=f.task_id.encode(), headers=flagged_headers(f))

    # -- agents: summaries and late scores -> per-agent baselines -> drift alerts -------------------
    def agents(self, records: Sequence[Record]) -> None:
        """Each message: [[summary, ...], [late score, ...]] of agents homed on its partition, or
        [[], [], input clock ns] from a worker's tick (`send_input_clock`)."""
        stage = self.agent_stage
        alerts: list[dict[str, Any]] = []
        for msg in records:
            try:
                summaries, late_scores, *clock = orjson.loads(msg.value or b"")
                alerts += stage.observe_message(summaries, late_scores, msg.offset)
                if clock:
                    alerts += stage.observe_clock(int(clock[0]))
            except (ValueError, KeyError, TypeError) as exc:  # written by another agentwatch version?
                self.dead_letter(msg, "internal_error", f"unreadable per-agent batch: {exc}")
                continue
            for late in late_scores:
                self.metrics.evaluation_score(late["agent"], late["evaluation"], late["score"])
        for alert in alerts:
            self.metrics.alert(alert)
            self.sink.send(self.settings.alerts_topic, orjson.dumps(alert), key=alert["task_id"].encode())

    # -- checkpoint --------------------------------------------------------------------------------
    def checkpoint(self) -> list[StateWrite]:
        """What changed since the last checkpoint, serialized now: each changed open task's state, each closed
        task's marker (replacing its state), a tombstone per forgotten marker, each changed agent's baseline.
        Then the tasks idle for `hibernate_after_s` are frozen (dormant.py).

        Values are sized to fit (jsonbytes.py): they are held until the outputs are acknowledged, and orjson's
        own buffers held 16 KiB per task.

        Not sent yet: state must never become durable before the outputs it implies (a closed task's marker
        before its summary), so the runtime waits until every record sent so far is acknowledged, then
        sends these (`write_state`), waits again, and only then commits the input offsets chosen together
        with this call."""
        changed, closed, expired = self.engine.take_changes()
        topic, persisted = self.tasks_changelog, self._persisted
        writes: list[StateWrite] = []
        for task in changed:
            writes.append((topic, task.task_id, dumps(task.to_dict()), self.partition(task.task_id)))
            persisted.add(task.task_id)
        for task_id, marker in closed:
            writes.append((topic, task_id, dumps(marker.to_dict()), self.partition(task_id)))
            persisted.add(task_id)
        for task_id in expired:
            if task_id in persisted:
                persisted.discard(task_id)
                writes.append((topic, task_id, None, self.partition(task_id)))
        for agent, state in self.agent_stage.take_dirty():
            writes.append((self.baselines_changelog, agent, dumps(state), self.agent_partition(agent)))
        self.engine.hibernate()  # after take_changes: what it serializes must be live
        return writes

    def write_state(self, writes: Iterable[StateWrite]) -> None:
        for topic, key, value, partition in writes:
            self.sink.send(topic, value, key=key.encode(), partition=partition)
            if self._hw_markers:
                self._unmarked.add((topic, partition))

    def mark_high_watermarks(self) -> bool:
        """Embedded broker only (`HW_MARKER_KEY`), once the checkpoint's records are acknowledged: end each
        changelog partition written since with a marker alone in its batch. True if any was sent."""
        marked, self._unmarked = self._unmarked, set()
        for topic, partition in marked:
            self.sink.send(topic, None, key=HW_MARKER_KEY, partition=partition)
        return bool(marked)

    # -- rebalance ---------------------------------------------------------------------------------
    def revoke(self) -> None:
        self.shortcut.abandon()

    def assign(self, owned: set[int], owned_agents: set[int], tasks: Iterable[tuple[Any, bytes]],
               baselines: Iterable[tuple[Any, bytes]]) -> tuple[int, int]:
        """Re-key partitions `owned` and per-agent partitions `owned_agents` are now this worker's; `tasks`
        and `baselines` are the recovered tables (key, value). Returns (tasks adopted, tasks dropped)."""
        self.clock.assign(owned)
        self.shortcut.assign(owned)
        dropped = self.engine.drop(lambda key: self.partition(key) in owned)
        self._persisted &= set(self.engine.tasks) | set(self.engine.closed)
        adopted = 0
        for key, raw in tasks:
            task_id = key.decode() if isinstance(key, bytes) else key
            if self.partition(task_id) in owned and task_id not in self.engine.tasks:
                self.engine.adopt(task_id, orjson.loads(raw))
                self._persisted.add(task_id)
                adopted += 1
        self.agent_stage.drop(lambda agent: self.agent_partition(agent) in owned_agents)
        for key, raw in baselines:
            agent = key.decode() if isinstance(key, bytes) else key
            if self.agent_partition(agent) in owned_agents:
                self.agent_stage.adopt(agent, orjson.loads(raw))
        return adopted, dropped
