"""The Faust app: a thin shell that moves bytes between Kafka and the pure core (`engine.Engine`).

    otlp_spans --route--> agentwatch-spans-by-task --aggregate--> agentwatch.alerts / agentwatch.tasks
    otlp_logs --route_logs--^  (one message per input record  (Engine per worker; state in the
        (decode; DLQ)           and destination partition)      `task_state` table, changelog-backed)
    agentwatch-summaries-by-agent --agents--> agentwatch.alerts (drift, error types, bursts)
      (summaries + late scores)                (AgentStage; `agent_baselines` table)

- `route` decodes each input record and re-keys its spans by task: all spans of a record bound for
  one partition travel as one message (never one per span or per task), so a trace split across
  input partitions meets on one partition of the internal topic. Spans homed on a partition this worker
  owns are folded into the Engine by `route` itself, without the hop, once everything already queued
  there is consumed (`stream/shortcut.py`). With input keyed by trace (`AGENTWATCH_INPUT_KEYED_BY_TRACE`)
  a task's home is the partition the Collector's exporter put its trace on: nearly every span is local.
- `aggregate` folds each message into the worker's Engine and publishes alerts and task summaries.
- Before each offset commit, every task changed since the last one is written once to the `task_state`
  changelog (closed tasks get a tombstone), and every record is acknowledged (`persist`, `_flush_all`).
  All writes go through one librdkafka producer (`stream/producer.py`).
- A 1 s timer closes finished tasks, detects stalls and idle timeouts on the watermark clock
  (`stream/clock.py`: the minimum event time over the active input partitions, per re-key partition).
- `agents` consumes the task summaries and late evaluation scores (a copy of what goes to
  agentwatch.tasks, batched per agent partition); each changed agent's baseline is written to
  `agent_baselines` at most every `BASELINE_FLUSH_S`.
- On rebalance the worker drops tasks it no longer owns and adopts the recovered ones it now owns.

Delivery is at-least-once: input offsets are committed after processing; alerts carry deterministic
IDs, and what fired is part of the task's persisted state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import faust
import orjson
from aiokafka.partitioner import murmur2
from faust.sensors import Sensor

from ..agents import AgentStage
from ..engine import Engine, EngineConfig, Output
from ..otlp.decode import RecordError, decode_record
from ..otlp.logs import decode_evaluations
from ..policy import Policy
from ..settings import Settings
from ..sinks.metrics import Metrics
from ..tasks import TaskState
from .clock import WatermarkClock
from .http import Health
from .kafka_admin import bootstrap_from_url, kafka_security_config
from .logs import logging_config
from .producer import OutputProducer
from .shortcut import LocalShortcut
from .wire import decode_batch, encode_barrier, encode_evaluations, encode_spans

log = logging.getLogger("agentwatch.worker")

INTERNAL_TOPIC = "agentwatch-spans-by-task"
# The per-agent stage's input: the summaries and late scores of one `_publish` bound for one partition
# as ONE message (consuming agentwatch.tasks itself cost a Faust event per summary: ~30% of a worker).
AGENTS_TOPIC = "agentwatch-summaries-by-agent"
TABLE = "task_state"
BASELINE_TABLE = "agent_baselines"
BASELINE_FLUSH_S = 5.0  # a baseline is ~65 KB of JSON: written per changed agent at most this often
TICK_S = 1.0
# Batching: one Faust event costs ~0.5 ms, so each stage takes what has arrived (up to N, waiting at most
# `within`) and handles it as one. A re-key message already carries up to ROUTE_BATCH records' spans for
# its partition: a few per batch keep an aggregate step short (~0.3 s), so the tick timer is not starved
# (200 per batch held 10k finished tasks open during a catch-up).
ROUTE_BATCH, ROUTE_WITHIN_S = 50, 0.1
AGGREGATE_BATCH, AGGREGATE_WITHIN_S = 10, 0.1
AGENTS_BATCH = 10
DRAIN_TIMEOUT_S, DRAIN_POLL_S = 60.0, 0.01  # local shortcut: wait for the barriers after a rebalance

# Timeouts for the demo and tests (fast group joins); production keeps Faust's defaults.
FAST_SETTINGS: dict[str, Any] = {
    "broker_session_timeout": 6.0, "broker_heartbeat_interval": 0.5, "broker_rebalance_timeout": 6.0,
    "broker_max_poll_interval": 30.0, "broker_commit_interval": 1.0,
}
# tansu (the embedded broker) reports a partition's high watermark as the base offset of its last batch
# + 1, so Faust's table recovery would stop short of the last batched changelog records. Against it only,
# each delivered flush ends every changelog partition written since the last one with this tombstone, alone
# in its batch (a delete of a key no task or agent has): the last batch is one record, the high watermark
# is right. One record per batch for every write did the same at ~25% of a worker's throughput.
HW_MARKER_KEY = b"\x00agentwatch.high-watermark"


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2, as the table's changelog uses)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


_cached_partition_for = functools.lru_cache(maxsize=4096)(partition_for)  # per summary: murmur2 is pure Python


def collector_partition(key: str, partitions: int) -> int:
    """The partition the OpenTelemetry Collector's Kafka exporter gives a record keyed by `key` (with
    `partition_traces_by_id` the key is the hex trace ID): franz-go with Sarama-compatible FNV-1a."""
    h = 0x811C9DC5
    for byte in key.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    signed = h - (1 << 32) if h & 0x80000000 else h  # Go: int32(hash) % n, then made non-negative
    return abs(signed) % partitions


def _credentials(s: Settings) -> Any:
    if not s.security_protocol or s.security_protocol.upper() == "PLAINTEXT":
        return None
    import ssl

    context = ssl.create_default_context(cafile=s.ssl_cafile or None)
    if s.security_protocol.upper().startswith("SASL"):
        return faust.SASLCredentials(username=s.sasl_username, password=s.sasl_password,
                                     mechanism=s.sasl_mechanism or "PLAIN",
                                     ssl_context=context if s.security_protocol.upper() == "SASL_SSL" else None)
    return faust.SSLCredentials(context)


class Worker:
    """One agentwatch worker: the Faust app, its topics and table, the Engine, metrics and health."""

    def __init__(self, settings: Settings, policy: Policy, metrics: Metrics, health: Health,
                 *, embedded_broker: bool = False, input_partitions: int = 0) -> None:
        self.settings = settings
        self.metrics = metrics
        self.health = health
        self.partitions = settings.partitions
        self.engine = Engine(policy, EngineConfig(
            task_key=settings.task_key, max_active_tasks=settings.max_active_tasks,
            close_grace_s=settings.close_grace_s, max_alerts_per_minute=settings.max_alerts_per_minute,
        ), observer=metrics)
        self.agent_stage = AgentStage(policy)
        # In place: input partition p is also the home of its traces' tasks, and each owned partition's
        # clock hears from one stream (itself); otherwise from every input partition (through the re-key
        # topic, or directly for spans of the input partitions this worker reads).
        self.in_place = settings.aggregate_in_place
        self._home = collector_partition if self.in_place else partition_for
        self.shortcut = LocalShortcut()
        self.clock = WatermarkClock(inputs=1 if self.in_place else input_partitions)
        self._persisted: set[str] = set()  # task IDs with a live entry in the table
        self._partition_cache: dict[str, int] = {}
        conf: dict[str, Any] = {}
        self._hw_markers = embedded_broker
        self._unmarked: set[tuple[str, int]] = set()  # changelog partitions written since their marker
        if embedded_broker:
            conf.update(FAST_SETTINGS)
        if settings.commit_interval_s > 0:
            conf["broker_commit_interval"] = settings.commit_interval_s
        self.out = OutputProducer(bootstrap_from_url(settings.brokers), kafka_security_config(settings))
        self.app = faust.App(
            "agentwatch", broker=settings.brokers, store="memory://", web_enabled=False,
            datadir=settings.data_dir, topic_partitions=settings.partitions, table_standby_replicas=0,
            consumer_auto_offset_reset="earliest", broker_credentials=_credentials(settings),
            key_serializer="raw", value_serializer="raw", logging_config=logging_config(settings.log_level), **conf,
        )
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        app = self.app
        # Faust reads these topics and recovers the tables; every write goes through `self.out`.
        internal = app.topic(INTERNAL_TOPIC, partitions=settings.partitions, internal=True, **raw)
        by_agent = app.topic(AGENTS_TOPIC, partitions=settings.partitions, internal=True, **raw)
        # Faust recovers these tables from their changelogs on assignment; we write the changelogs (`persist`).
        self.table = app.Table(TABLE, partitions=settings.partitions, use_partitioner=True, key_type=bytes,
                               value_type=bytes)
        self.baselines = app.Table(BASELINE_TABLE, partitions=settings.partitions, use_partitioner=True,
                                   key_type=bytes, value_type=bytes)
        self.table_changelog = self.table.changelog_topic.get_topic_name()
        self.baselines_changelog = self.baselines.changelog_topic.get_topic_name()
        app.agent(app.topic(settings.spans_topic, **raw), name="agentwatch.route")(self._route)
        if settings.logs_topic:
            app.agent(app.topic(settings.logs_topic, **raw), name="agentwatch.route_logs")(self._route_logs)
        app.agent(internal, name="agentwatch.aggregate")(self._aggregate)
        app.agent(by_agent, name="agentwatch.agents")(self._agents)
        app.timer(TICK_S, name="agentwatch.tick")(self._tick)
        app.timer(BASELINE_FLUSH_S, name="agentwatch.baselines")(self._flush_baselines)
        app.on_rebalance_complete.connect(self._on_rebalance_complete)
        app.sensors.add(_PersistBeforeCommit(self))
        # Faust awaits producer.flush() right before committing offsets (and when stopping): make that
        # wait for our producer too.
        app.producer.flush = functools.partial(self._flush_all, app.producer.flush)
        app.on_partitions_revoked.connect(self._on_partitions_revoked)

    # -- route: input records -> spans by task partition ---------------------------------------------
    def _partition(self, key: str) -> int:
        """The home partition of task `key` (re-key topic, task-state changelog)."""
        p = self._partition_cache.get(key)
        if p is None:
            if len(self._partition_cache) >= 100_000:
                self._partition_cache.clear()
            p = self._partition_cache[key] = self._home(key, self.partitions)
        return p

    def _agent_partition(self, agent: str) -> int:
        """The partition of `agent` on the per-agent topic and the baselines changelog: murmur2 in every
        mode (as agentwatch.tasks, produced keyed by agent with Kafka's default partitioner), never a
        task's home."""
        return _cached_partition_for(agent, self.partitions)

    async def _route(self, stream: Any) -> None:
        """Decode a batch of input records and send each destination partition ONE message: its spans
        plus the batch's per-source-partition watermarks (every destination hears every batch, through
        Kafka or, when local, directly).

        Spans homed on a partition this worker owns are folded into the Engine here, without the hop,
        once that partition is drained (`stream/shortcut.py`). In place (input keyed by trace), a
        partition's clock hears only its own input partition, so the re-key topic carries no clock.
        """
        s = self.settings
        key_of = self.engine.task_key
        shortcut = self.shortcut
        async for events in stream.take_events(ROUTE_BATCH, within=ROUTE_WITHIN_S):
            if shortcut.barriers_due:
                await self._drain()
            by_partition: dict[int, list[Any]] = {p: [] for p in range(self.partitions)}
            watermarks: dict[int, int] = {}
            for event in events:
                msg = event.message
                try:
                    decoded = decode_record(msg.value or b"", max_bytes=s.max_record_bytes, encoding=s.spans_encoding)
                except RecordError as exc:
                    self.metrics.record(exc.reason)
                    self._dead_letter(msg, exc.reason, str(exc))
                    continue
                self.metrics.record("ok")
                if decoded.errors:
                    first = decoded.errors[0]
                    why = f"{len(decoded.errors)} invalid span(s) skipped, the rest processed: {first}"
                    self._dead_letter(msg, first.reason, why, partial=True)
                newest = watermarks.get(msg.partition, 0)
                for span in decoded.spans:
                    by_partition[self._partition(key_of(span))].append(span)
                    if span.end_ns > newest:
                        newest = span.end_ns
                watermarks[msg.partition] = newest
            if not watermarks:
                continue  # every record of the batch went to the DLQ
            out = Output()
            carried = None if self.in_place else watermarks
            for p, spans in by_partition.items():
                if p in shortcut.local:
                    now = self.clock.read(partition=p)  # before this batch: see Engine.process
                    for source, wm in watermarks.items():
                        if not self.in_place or source == p:
                            self.clock.heard(p, source, wm)
                    if spans:
                        out.extend(self.engine.process(spans, now))
                elif spans or carried:
                    self.out.send(INTERNAL_TOPIC, encode_spans(spans, carried), partition=p)
                    self.metrics.rekeyed(len(spans))
            self._publish(out)
            self.out.poll()

    async def _drain(self) -> None:
        """After a rebalance: send each owned re-key partition a barrier and wait until `aggregate` has
        consumed them all (or a rebalance begins, or DRAIN_TIMEOUT_S passes: Kafka only until the next)."""
        shortcut = self.shortcut
        token = shortcut.token
        for p in shortcut.take_barriers():
            self.out.send(INTERNAL_TOPIC, encode_barrier(token), partition=p)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while shortcut.token == token and shortcut.pending:
            if self.app.rebalancing or time.monotonic() > deadline:
                if not self.app.rebalancing:
                    log.warning("re-key partitions not drained in time: every span takes the re-key topic until "
                                "the next rebalance", extra={"fields": {"partitions": sorted(shortcut.pending)}})
                shortcut.abandon()
                return
            self.out.poll()
            await asyncio.sleep(DRAIN_POLL_S)

    async def _route_logs(self, stream: Any) -> None:
        """Evaluation results from the logs topic, re-keyed like spans (by trace: the task key)."""
        async for event in stream.events():
            msg = event.message
            try:
                evaluations = decode_evaluations(msg.value or b"", max_bytes=self.settings.max_record_bytes)
            except RecordError as exc:
                self.metrics.record(exc.reason)
                self._dead_letter(msg, exc.reason, str(exc))
                continue
            by_partition: dict[int, list[Any]] = {}
            for ev in evaluations:
                by_partition.setdefault(self._partition(ev.trace_id), []).append(ev)
            for p, evs in by_partition.items():
                self.out.send(INTERNAL_TOPIC, encode_evaluations(evs), partition=p)

    def _dead_letter(self, msg: Any, reason: str, error: str, partial: bool = False) -> None:
        self.metrics.dead_letter(reason)
        headers = [
            ("agentwatch.error", error.splitlines()[0][:500].encode()),
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
        self.out.send(self.settings.dlq_topic, msg.value, key=msg.key, headers=headers)

    # -- aggregate: spans -> task state -> alerts, summaries ---------------------------------------
    async def _aggregate(self, stream: Any) -> None:
        """Fold a few internal messages into the Engine and publish what they produced."""
        async for events in stream.take_events(AGGREGATE_BATCH, within=AGGREGATE_WITHIN_S):
            out = Output()
            for event in events:
                msg = event.message
                try:
                    batch = decode_batch(msg.value)
                except (ValueError, TypeError) as exc:  # written by another agentwatch version?
                    log.error("unreadable internal batch skipped", extra={"fields": {"error": str(exc)[:300]}})
                    continue
                if batch.barrier:
                    self.shortcut.seen(msg.partition, batch.barrier)
                    continue
                now = self.clock.read(partition=msg.partition)  # before this batch: see Engine.process
                for source, wm in batch.watermarks:
                    if wm:
                        self.clock.heard(msg.partition, source, wm)
                out.extend(self.engine.process(batch.spans, now) if batch.spans
                           else self.engine.add_evaluations(batch.evaluations))
            self._publish(out)

    async def _tick(self) -> None:
        self.health.beat()
        wall = time.time_ns()
        now = self.clock.read(wall)
        by_partition = {p: self.clock.read(wall, partition=p) for p in self.clock.owned}
        self._publish(self.engine.tick(now, lambda task_id: by_partition.get(self._partition(task_id), now)))
        self.out.poll()
        self.metrics.lag.set(max(0.0, (wall - now) / 1e9))
        self.metrics.active_tasks.set(len(self.engine.tasks))

    def _publish(self, out: Output) -> None:
        s, send = self.settings, self.out.send
        for alert in out.alerts:
            send(s.alerts_topic, orjson.dumps(alert), key=alert["task_id"].encode())
        by_partition: dict[int, tuple[list[bytes], list[bytes]]] = {}
        for summary in out.summaries:
            agent, value = summary["agent"], orjson.dumps(summary)
            send(s.tasks_topic, value, key=agent.encode())
            by_partition.setdefault(self._agent_partition(agent), ([], []))[0].append(value)
        for late in out.late_scores:
            by_partition.setdefault(self._agent_partition(str(late["agent"])), ([], []))[1].append(orjson.dumps(late))
        for p, (summaries, late_scores) in by_partition.items():
            send(AGENTS_TOPIC, b"[[%b],[%b]]" % (b",".join(summaries), b",".join(late_scores)), partition=p)

    def persist(self) -> None:
        """Write changed tasks to the table's changelog and tombstone closed ones: once per offset commit.

        Called from `_PersistBeforeCommit` when Faust is about to choose the offsets to commit; Faust then
        awaits its producer's flush, which waits for ours (`_flush_all`), and only then commits. So every
        output and state write covering an event is durable before that event's offset is: at-least-once,
        with one changelog record per changed task per commit interval. A task opened and closed between
        two commits is never written.
        """
        changed, removed = self.engine.take_changes()
        topic, persisted = self.table_changelog, self._persisted
        for task in changed:
            task_id = task.task_id
            self._write_changelog(topic, task_id.encode(), orjson.dumps(task.to_dict()), self._partition(task_id))
            persisted.add(task_id)
        for task_id in removed:
            if task_id in persisted:
                persisted.discard(task_id)
                self._write_changelog(topic, task_id.encode(), None, self._partition(task_id))

    def _write_changelog(self, topic: str, key: bytes, value: bytes | None, partition: int) -> None:
        self.out.send(topic, value, key=key, partition=partition)
        if self._hw_markers:
            self._unmarked.add((topic, partition))

    async def _flush_all(self, faust_flush: Any) -> None:
        await faust_flush()
        await self.out.wait_delivered()
        if self._unmarked:  # embedded broker only (`HW_MARKER_KEY`): the queue is empty, each is its own batch
            marked, self._unmarked = self._unmarked, set()
            for topic, partition in marked:
                self.out.send(topic, None, key=HW_MARKER_KEY, partition=partition)
            await self.out.wait_delivered()

    # -- agents: summaries and late scores -> per-agent baselines -> drift alerts -------------------
    async def _agents(self, stream: Any) -> None:
        """Each message: [[summary, ...], [late score, ...]] of agents homed on its partition."""
        stage = self.agent_stage
        async for values in stream.take(AGENTS_BATCH, within=AGGREGATE_WITHIN_S):
            alerts: list[dict[str, Any]] = []
            for value in values:
                try:
                    summaries, late_scores = orjson.loads(value)
                    for summary in summaries:
                        alerts += stage.observe_summary(summary)
                    for late in late_scores:
                        alerts += stage.observe_score(late)
                        self.metrics.evaluation_score(late["agent"], late["evaluation"], late["score"])
                except (ValueError, KeyError, TypeError) as exc:  # written by another agentwatch version?
                    log.error("unreadable per-agent batch skipped", extra={"fields": {"error": str(exc)[:300]}})
            self._send_alerts(alerts)

    def _send_alerts(self, alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            self.metrics.alert(alert)
            self.out.send(self.settings.alerts_topic, orjson.dumps(alert), key=alert["task_id"].encode())

    async def _flush_baselines(self) -> None:
        for agent, state in self.agent_stage.take_dirty():
            self._write_changelog(self.baselines_changelog, agent.encode(), orjson.dumps(state),
                                  self._agent_partition(agent))

    # -- rebalance ---------------------------------------------------------------------------------
    def _owned(self, topic: str = INTERNAL_TOPIC) -> set[int]:
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic}

    async def _on_partitions_revoked(self, sender: Any, revoked: Any, **_: Any) -> None:
        self.shortcut.abandon()
        self.health.ready = False
        self.health.reason = "rebalancing"

    async def _on_rebalance_complete(self, sender: Any = None, **_: Any) -> None:
        fetch_wait = set_fetch_max_wait(getattr(getattr(self.app.consumer, "_thread", None), "_consumer", None),
                                        self.settings.fetch_max_wait_ms)
        owned = self._owned()
        self.clock.assign(owned)
        self.shortcut.assign(owned)
        dropped = self.engine.drop(lambda key: self._partition(key) in owned)
        self._persisted &= set(self.engine.tasks)
        adopted = 0
        for key, raw in list(self.table.items()):
            task_id = key.decode() if isinstance(key, bytes) else key
            if self._partition(task_id) in owned and task_id not in self.engine.tasks:
                self.engine.adopt(TaskState.from_dict(orjson.loads(raw)))
                self._persisted.add(task_id)
                adopted += 1
        owned_agents = self._owned(AGENTS_TOPIC)
        self.agent_stage.drop(lambda agent: self._agent_partition(agent) in owned_agents)
        for key, raw in list(self.baselines.items()):
            agent = key.decode() if isinstance(key, bytes) else key
            if self._agent_partition(agent) in owned_agents:
                self.agent_stage.adopt(agent, orjson.loads(raw))
        self.health.ready = bool(owned)
        self.health.reason = f"ready: {len(owned)} partition(s) of {INTERNAL_TOPIC}" if owned else "no partitions"
        log.info("rebalance complete", extra={"fields": {
            "partitions": sorted(owned), "tasks_adopted": adopted, "tasks_dropped": dropped,
            "active_tasks": len(self.engine.tasks), "fetch_max_wait_ms": fetch_wait}})


def set_fetch_max_wait(consumer: Any, ms: int) -> int | None:
    """Faust builds its aiokafka consumer with fetch_max_wait_ms=1500, not a setting. aiokafka keeps one
    fetch in flight per broker, for the partitions with nothing buffered; while the broker holds it (up to
    this long when they have nothing new), input partitions drained meanwhile wait for the next one. The
    route stage starved 20-40% of the time at 1500 ms (benchmarks/pipeline.py: 14k -> 16-17k spans/s at
    20-100 ms). The fetcher reads the value for each request it builds. Returns the value now in force."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
        log.warning("cannot set the consumer's fetch max wait (aiokafka internals changed?): fetches may "
                    "wait up to 1.5 s", extra={"fields": {"consumer": type(consumer).__name__}})
        return None
    fetcher._fetch_max_wait_ms = ms
    return int(fetcher._fetch_max_wait_ms)


class _PersistBeforeCommit(Sensor):
    """Faust calls this just before committing offsets (then flushes the producer, then commits)."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def on_commit_initiated(self, consumer: Any) -> Any:
        self.worker.persist()
        return None


def topics_to_create(s: Settings) -> dict[str, int]:
    """Topics agentwatch creates when missing (the Collector's topic too, so a fresh cluster works)."""
    topics = {s.spans_topic: s.partitions, INTERNAL_TOPIC: s.partitions, AGENTS_TOPIC: s.partitions,
              s.alerts_topic: s.partitions, s.tasks_topic: s.partitions, s.dlq_topic: s.partitions}
    if s.logs_topic:
        topics[s.logs_topic] = s.partitions
    return topics

