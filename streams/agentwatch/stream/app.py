"""The Faust adapter: moves records between Kafka and `stream/core.WorkerCore`, and runs the checkpoint.

Faust consumes the topics (one consumer group, partitions split between replicas) and recovers the two
tables from their changelogs on assignment. Everything else is the core's (stream/core.py). What this
module adds is the runtime:

- **Batching**: each stage takes what has arrived (up to N events, at most `within`) and hands it to the
  core as one batch: one Faust event costs ~0.5 ms.
- **Checkpoint** (stream/checkpoint.py, the delivery guarantee): Faust calls our sensor's
  `on_commit_initiated` right before it chooses the offsets to commit (no await between) ->
  `Checkpointer.take()`. Faust then awaits `producer.flush()`, which we chain to `Checkpointer.complete()`
  (outputs acknowledged, state written and acknowledged) -> only then does Faust commit those offsets.
- **Failure**: a stage that raises stops the process at once (`_fatal`), before Faust acks the batch:
  nothing past the last commit is committed, and the input is read again after the restart (the core
  skips what its state already absorbed).
- **Heartbeats**: once a second, the input partitions this worker has read to their end get a heartbeat
  watermark (`_caught_up`), so the clock moves while input is quiet.
- **Alignment**: after each route batch and each tick, input partitions read too far ahead in event time of
  the slowest one with records left are paused, the others resumed (`WorkerCore.to_pause`, `_align`).
- **Rebalance**: the core drops what it lost and adopts the recovered tables; the local shortcut's
  barriers are awaited before `route` folds spans itself again (`_drain`).

Library internals this module touches (checked at start, each failing loudly if moved): aiokafka's
fetcher `_fetch_max_wait_ms` (`set_fetch_max_wait`), Faust's consumer thread and its aiokafka consumer
(`fetch_pauser`), `app.producer.flush` (chained), Faust's table
changelog topic names (must match `topology.changelog_topic`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import faust
from aiokafka.errors import IllegalStateError
from aiokafka.structs import TopicPartition
from faust.sensors import Sensor

from ..policy import Policy
from ..settings import Settings
from ..sinks.metrics import Metrics
from .checkpoint import Checkpointer
from .clock import behind, caught_up
from .core import Record, WorkerCore
from .http import Health
from .kafka_clients import bootstrap_from_url, kafka_security_config, tls_context
from .logs import logging_config
from .producer import OutputProducer
from .topology import AGENTS_TOPIC, APP_ID, BASELINE_TABLE, INTERNAL_TOPIC, TABLE, changelog_topic

log = logging.getLogger("agentwatch.worker")

TICK_S = 1.0
# Batching: a re-key message already carries up to ROUTE_BATCH records' spans for its partition: a few per
# batch keep an aggregate step short (~0.3 s), so the tick timer is not starved (200 per batch held 10k
# finished tasks open during a catch-up).
ROUTE_BATCH, ROUTE_WITHIN_S = 50, 0.1
AGGREGATE_BATCH, AGGREGATE_WITHIN_S = 10, 0.1
AGENTS_BATCH = 10
DRAIN_TIMEOUT_S, DRAIN_POLL_S = 60.0, 0.01  # local shortcut: wait for the barriers after a rebalance
# An input partition counts as read to its end only after this long without a record from it: tansu
# reports a high watermark short of the end when its last batch holds several records.
QUIET_S = 1.0
EXIT_STAGE_FAILED = 70

# Timeouts for the demo and tests (fast group joins); production keeps Faust's defaults.
FAST_SETTINGS: dict[str, Any] = {
    "broker_session_timeout": 6.0, "broker_heartbeat_interval": 0.5, "broker_rebalance_timeout": 6.0,
    "broker_max_poll_interval": 30.0, "broker_commit_interval": 1.0,
}


def faust_credentials(security: Mapping[str, str]) -> Any:
    """Faust (aiokafka) credentials from the normalised librdkafka keys of `kafka_security_config`."""
    protocol = security.get("security.protocol", "plaintext")
    if protocol == "plaintext":
        return None
    context = tls_context(security) if protocol in ("ssl", "sasl_ssl") else None
    if protocol == "ssl":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=security.get("sasl.username"), password=security.get("sasl.password"),
                                 mechanism=security["sasl.mechanism"], ssl_context=context)


def _fatal(stage: str, exc: BaseException) -> None:
    """A stage failed: stop now, before Faust acks the batch (its `take_events` acks in a `finally`), so no
    offset past the last checkpoint is committed. The restarted worker reads the input again."""
    log.critical("stage failed: stopping without committing", extra={"fields": {
        "stage": stage, "error": f"{type(exc).__name__}: {exc}"[:500], "traceback": traceback.format_exc()}})
    logging.shutdown()
    os._exit(EXIT_STAGE_FAILED)


class Worker:
    """One agentwatch worker: the Faust app, its topics and tables, the core, metrics and health."""

    def __init__(self, settings: Settings, policy: Policy, metrics: Metrics, health: Health,
                 *, embedded_broker: bool = False, input_partitions: int = 0) -> None:
        self.settings = settings
        self.metrics = metrics
        self.health = health
        security = kafka_security_config(settings)  # one validated configuration for both client libraries
        self.out = OutputProducer(bootstrap_from_url(settings.brokers), security)
        self.core = WorkerCore(settings, policy, metrics, self.out, input_partitions=input_partitions,
                               hw_markers=embedded_broker)
        self.checkpointer = Checkpointer(self.core, self.out)
        self._next_offset: dict[int, int] = {}  # input partition -> next offset to route
        self._last_read: dict[int, float] = {}  # input partition -> monotonic time of its last record
        self._paused: set[int] = set()  # input partitions paused by `_align`
        self._pauser: Pauser | None = None  # set on each assignment (`fetch_pauser`)
        conf: dict[str, Any] = {}
        if embedded_broker:
            conf.update(FAST_SETTINGS)
        if settings.commit_interval_s > 0:
            conf["broker_commit_interval"] = settings.commit_interval_s
        self.app = faust.App(
            APP_ID, broker=settings.brokers, store="memory://", web_enabled=False,
            datadir=settings.data_dir, topic_partitions=settings.partitions, table_standby_replicas=0,
            consumer_auto_offset_reset="earliest", broker_credentials=faust_credentials(security),
            key_serializer="raw", value_serializer="raw", logging_config=logging_config(settings.log_level), **conf,
        )
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        app = self.app
        internal = app.topic(INTERNAL_TOPIC, partitions=settings.partitions, internal=True, **raw)
        by_agent = app.topic(AGENTS_TOPIC, partitions=settings.partitions, internal=True, **raw)
        # Faust recovers these tables from their changelogs on assignment; the core writes the changelogs.
        self.table = app.Table(TABLE, partitions=settings.partitions, use_partitioner=True, key_type=bytes,
                               value_type=bytes)
        self.baselines = app.Table(BASELINE_TABLE, partitions=settings.partitions, use_partitioner=True,
                                   key_type=bytes, value_type=bytes)
        for table, name in ((self.table, TABLE), (self.baselines, BASELINE_TABLE)):
            if table.changelog_topic.get_topic_name() != changelog_topic(name):
                raise RuntimeError(f"Faust names the {name} changelog {table.changelog_topic.get_topic_name()!r}, "
                                   f"not {changelog_topic(name)!r}: a Faust upgrade changed its naming")
        self.spans_topic = settings.spans_topic
        app.agent(app.topic(settings.spans_topic, **raw), name="agentwatch.route")(self._route)
        if settings.logs_topic:
            app.agent(app.topic(settings.logs_topic, **raw), name="agentwatch.route_logs")(self._route_logs)
        app.agent(internal, name="agentwatch.aggregate")(self._aggregate)
        app.agent(by_agent, name="agentwatch.agents")(self._agents)
        app.timer(TICK_S, name="agentwatch.tick")(self._tick)
        app.on_rebalance_complete.connect(self._on_rebalance_complete)
        app.on_partitions_revoked.connect(self._on_partitions_revoked)
        app.sensors.add(_CheckpointBeforeCommit(self.checkpointer))
        # Faust awaits producer.flush() right before committing offsets (and when stopping): make that
        # wait for our producer too.
        app.producer.flush = functools.partial(self._flush_all, app.producer.flush)

    def execute(self) -> None:
        """Run the Faust worker until SIGTERM/SIGINT (the one place Faust's Worker is started)."""
        faust.Worker(self.app, loglevel=self.settings.log_level.upper(), quiet=True,
                     redirect_stdouts=False).execute_from_commandline()

    # -- stages ------------------------------------------------------------------------------------
    async def _route(self, stream: Any) -> None:
        core = self.core
        async for events in stream.take_events(ROUTE_BATCH, within=ROUTE_WITHIN_S):
            if core.shortcut.barriers_due:
                await self._drain()
            records = self._run("route", functools.partial(core.route, wall_ns=time.time_ns()), events)
            now = time.monotonic()
            for r in records:
                self._next_offset[r.partition] = r.offset + 1
                self._last_read[r.partition] = now
            self._align()
            self.out.poll()

    async def _route_logs(self, stream: Any) -> None:
        async for events in stream.take_events(ROUTE_BATCH, within=ROUTE_WITHIN_S):
            self._run("route_logs", self.core.route_logs, events)

    async def _aggregate(self, stream: Any) -> None:
        async for events in stream.take_events(AGGREGATE_BATCH, within=AGGREGATE_WITHIN_S):
            self._run("aggregate", self.core.aggregate, events)

    async def _agents(self, stream: Any) -> None:
        async for events in stream.take_events(AGENTS_BATCH, within=AGGREGATE_WITHIN_S):
            self._run("agents", self.core.agents, events)

    def _run(self, stage: str, step: Callable[[list[Record]], None], events: list[Any]) -> list[Record]:
        """One stage step over a batch of Faust events; a failure stops the worker (`_fatal`)."""
        records = [Record(e.message.topic, e.message.partition, e.message.offset, e.message.value, e.message.key)
                   for e in events]
        try:
            step(records)
        except Exception as exc:
            _fatal(stage, exc)
        return records

    async def _tick(self) -> None:
        self.health.beat()
        if not self.health.ready:  # between a revocation and the next assignment: a task closed now may be
            return                 # another worker's by then, which would adopt it open and close it again
        wall = time.time_ns()
        caught_up = self._caught_up()
        try:
            self.core.heartbeat(caught_up, wall)
            self.core.tick(wall)
        except Exception as exc:
            _fatal("tick", exc)
        self._align()  # also here: with every other partition paused, no route batch may come to do it
        self.out.poll()

    def _inputs(self) -> dict[int, tuple[Any, tuple[int | None, int | None]]]:
        """Owned input partitions -> (their TopicPartition, (high watermark, next offset to route)), None if
        unknown: the second part is what `clock.behind` and `clock.caught_up` read."""
        consumer = self.app.consumer
        return {tp.partition: (tp, (consumer.highwater(tp), self._next_offset.get(tp.partition)))
                for tp in consumer.assignment() if tp.topic == self.spans_topic}

    def _caught_up(self) -> list[int]:
        """Input partitions routed up to their high watermark (`clock.caught_up`: never a paused one), and quiet
        for QUIET_S."""
        now = time.monotonic()
        offsets = {p: o for p, (_, o) in self._inputs().items()}
        return [p for p in caught_up(offsets, self._paused) if now - self._last_read.get(p, 0.0) >= QUIET_S]

    def _align(self) -> None:
        """Pause the input partitions `WorkerCore.to_pause` names, resume the rest."""
        inputs = self._inputs()
        pause = self.core.to_pause(inputs, behind({p: o for p, (_, o) in inputs.items()}))
        if pause != self._paused and self._pauser is not None:
            self._set_paused(pause, inputs)

    def _set_paused(self, pause: set[int], inputs: Mapping[int, tuple[Any, Any]]) -> None:
        """Pause `pause`, resume what else was paused (of `inputs`, the owned input partitions)."""
        resumed = [p for p in self._paused - pause if p in inputs]
        if self._pauser is not None:
            self._pauser([inputs[p][0] for p in resumed], False)
            self._pauser([inputs[p][0] for p in pause - self._paused], True)
        now = time.monotonic()
        for p in resumed:  # its high watermark is the one from before the pause until a fetch brings a new one
            self._last_read[p] = now  # (within AGENTWATCH_FETCH_MAX_WAIT_MS): quiet for QUIET_S from here
        self._paused = pause
        self.metrics.paused_inputs.set(len(pause))

    async def _drain(self) -> None:
        """After a rebalance: send each owned re-key partition a barrier and wait until `aggregate` has
        consumed them all (or a rebalance begins, or DRAIN_TIMEOUT_S passes: Kafka only until the next)."""
        shortcut = self.core.shortcut
        token = shortcut.token
        self.core.send_barriers()
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

    async def _flush_all(self, faust_flush: Any) -> None:
        await faust_flush()
        await self.checkpointer.complete()

    # -- rebalance ---------------------------------------------------------------------------------
    def _owned(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic}

    async def _on_partitions_revoked(self, sender: Any, revoked: Any, **_: Any) -> None:
        self.core.revoke()
        self.health.ready = False
        self.health.reason = "rebalancing"

    async def _on_rebalance_complete(self, sender: Any = None, **_: Any) -> None:
        fetch_wait = set_fetch_max_wait(getattr(getattr(self.app.consumer, "_thread", None), "_consumer", None),
                                        self.settings.fetch_max_wait_ms)
        owned = self._owned(INTERNAL_TOPIC)
        inputs = self._owned(self.spans_topic)
        # Where each input partition starts again: its committed position (read to its end once routed there).
        self._next_offset = {}
        for tp in self.app.consumer.assignment():
            if tp.partition in inputs and tp.topic == self.spans_topic:
                try:
                    position = await asyncio.wait_for(self.app.consumer.position(tp), 5.0)
                except Exception:  # unknown yet: no heartbeat until a record is routed
                    continue
                if position is not None:
                    self._next_offset[tp.partition] = position
        # Resume ours (a partition kept across the rebalance may still be paused): the next batch or tick decides.
        self._pauser = fetch_pauser(getattr(self.app.consumer, "_thread", None))
        self._set_paused(set(), self._inputs())
        adopted, dropped = self.core.assign(owned, self._owned(AGENTS_TOPIC), list(self.table.items()),
                                            list(self.baselines.items()))
        self.health.ready = bool(owned)
        self.health.reason = f"ready: {len(owned)} partition(s) of {INTERNAL_TOPIC}" if owned else "no partitions"
        log.info("rebalance complete", extra={"fields": {
            "partitions": sorted(owned), "tasks_adopted": adopted, "tasks_dropped": dropped,
            "active_tasks": len(self.core.engine.tasks), "fetch_max_wait_ms": fetch_wait,
            "input_alignment": self._pauser is not None}})


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


Pauser = Callable[[list[Any], bool], None]


def fetch_pauser(thread: Any) -> Pauser | None:
    """`pause(tps, paused)`: pause (or resume) fetching from `tps` in aiokafka's consumer, which runs in Faust's
    consumer thread `thread` (so each call is handed to that thread's loop). Not Faust's `pause_partitions`: it
    takes the partitions out of the set a fetch in flight is checked against, and the records already fetched
    for them are dropped without a trace (the stage never sees them; the commit stalls at the gap until a
    restart). aiokafka's own pause discards what it buffered for them without moving their position, so it is
    fetched again on resume. None if the internals moved (then alignment is off, with a warning)."""
    consumer, loop = getattr(thread, "_consumer", None), getattr(thread, "thread_loop", None)
    if consumer is None or loop is None or not hasattr(consumer, "pause") or not hasattr(consumer, "resume"):
        log.warning("cannot pause input partitions (Faust or aiokafka internals changed?): no watermark alignment",
                    extra={"fields": {"consumer": type(thread).__name__}})
        return None

    def pause(tps: list[Any], paused: bool) -> None:
        parts = [TopicPartition(tp.topic, tp.partition) for tp in tps]
        step = consumer.pause if paused else consumer.resume

        def apply() -> None:
            for tp in parts:
                with contextlib.suppress(IllegalStateError, AssertionError):  # unassigned: a rebalance came first
                    step(tp)

        if parts:
            loop.call_soon_threadsafe(apply)

    return pause


class _CheckpointBeforeCommit(Sensor):
    """Faust calls this just before committing offsets (then flushes the producer, then commits)."""

    def __init__(self, checkpointer: Checkpointer) -> None:
        super().__init__()
        self.checkpointer = checkpointer

    def on_commit_initiated(self, consumer: Any) -> Any:
        self.checkpointer.take()
        return None
