"""Kafka administration for agentwatch: the one module that wraps confluent-kafka's AdminClient (configured from
`stream/kafka_clients.py`, like every other client).

Everything here is synchronous, bounded by an explicit deadline, and raises `KafkaAdminError` subclasses,
so callers (the worker's startup, `agentwatch doctor`, the demo, tests) never import confluent_kafka.

Topic metadata is always read with a whole-cluster metadata request, never one naming topics: tansu (and
Kafka with `auto.create.topics.enable`) creates a topic as a side effect of being asked about it by name.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic, OffsetSpec

from ..settings import Settings, SettingsError, from_env

__all__ = [
    "BrokerRefused",
    "BrokerUnreachable",
    "KafkaAdminError",
    "ensure_topics",
    "group_lag",
    "topic_partitions",
    "wait_for_broker",
]

log = logging.getLogger("agentwatch.kafka")



class KafkaAdminError(RuntimeError):
    """A Kafka administrative request failed."""


class BrokerUnreachable(KafkaAdminError):
    """No broker answered a metadata request within the allowed time."""


class BrokerRefused(BrokerUnreachable):
    """The broker answered but refused the connection's security: a TLS handshake or SASL login failed.

    A configuration error, not an outage: retrying cannot help, so callers stop at once (exit 2)."""


# librdkafka reports a failed SASL login as _AUTHENTICATION and a failed TLS handshake (unknown CA, name
# mismatch) as _SSL, through the error callback, while the request itself just times out with _TRANSPORT.
# A broker that rejects the client certificate (TLS 1.3: after the client's side of the handshake is done)
# shows up as a _TRANSPORT receive failure carrying OpenSSL's alert.
_REFUSED = {KafkaError._AUTHENTICATION: "SASL authentication failed", KafkaError._SSL: "TLS handshake failed"}
_HINT = {KafkaError._AUTHENTICATION: "check AGENTWATCH_SASL_MECHANISM, AGENTWATCH_SASL_USERNAME and "
                                     "AGENTWATCH_SASL_PASSWORD",
         KafkaError._SSL: "check AGENTWATCH_SSL_CAFILE, AGENTWATCH_SSL_CERTFILE / AGENTWATCH_SSL_KEYFILE and "
                          "AGENTWATCH_SSL_CHECK_HOSTNAME"}


def _admin(bootstrap: str, security: Mapping[str, str] | None, timeout_s: float,
           errors: list[KafkaError] | None = None) -> AdminClient:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        # Reconnect quickly: the default backoff grows to 10 s, longer than a whole probe.
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "socket.connection.setup.timeout.ms": max(1000, int(timeout_s * 1000)),
        # librdkafka's own log lines go through Python logging instead of straight to stderr.
        "logger": log,
        "log.connection.close": False,
    }
    conf.update(security or {})
    if errors is not None:
        # The caller reads the errors and reports them once: librdkafka's own log line per reconnect
        # attempt (every 50-500 ms) would only repeat them.
        conf["error_cb"] = errors.append
        conf["log_level"] = 2
    return AdminClient(conf)


def _refused(bootstrap: str, errors: list[KafkaError]) -> BrokerRefused | None:
    for err in errors:
        if err.code() == KafkaError._TRANSPORT and "SSL routines" in err.str():
            err = KafkaError(KafkaError._SSL, err.str())
        if err.code() in _REFUSED:
            # librdkafka's text names the broker, the mechanism or the certificate problem, never a secret.
            why = err.str().split(": ", 1)[-1]
            return BrokerRefused(f"Kafka broker at {bootstrap}: {_REFUSED[err.code()]} ({why}); {_HINT[err.code()]}")
    return None


def _err_text(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else None
    return err.str() if isinstance(err, KafkaError) else str(exc)


def _metadata(admin: AdminClient, bootstrap: str, timeout_s: float) -> ClusterMetadata:
    try:
        return admin.list_topics(timeout=max(timeout_s, 0.1))
    except KafkaException as exc:
        why = _err_text(exc)
        raise BrokerUnreachable(f"Kafka broker at {bootstrap} did not answer within {timeout_s:g}s ({why})") from exc


# -- broker and topics --------------------------------------------------------------------------------------


def wait_for_broker(bootstrap: str, timeout_s: float, security: Mapping[str, str] | None = None) -> None:
    """Return once a broker answers a metadata request; raise `BrokerRefused` as soon as it refuses the TLS
    handshake or the SASL login (no retrying a wrong password), `BrokerUnreachable` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    errors: list[KafkaError] = []
    admin = _admin(bootstrap, security, timeout_s, errors)
    last = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            # Short steps: a refusal is seen after one or two attempts, not after ten reconnects.
            md = admin.list_topics(timeout=min(remaining, 0.1))
        except KafkaException as exc:
            last = _err_text(exc)
            admin.poll(0)  # serves the error callback
            if (refused := _refused(bootstrap, errors)) is not None:
                raise refused from None
            continue
        if md.brokers:
            return
        last = "metadata without brokers"
    admin.poll(0)
    if (refused := _refused(bootstrap, errors)) is not None:
        raise refused
    raise BrokerUnreachable(f"Kafka broker at {bootstrap} unreachable after {timeout_s:g}s ({last})")


class CliStartError(Exception):
    """Why a CLI command cannot start: the one-line message and its exit code (2: configuration, 1: broker down)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def cli_broker(brokers: str | None, timeout_s: float) -> tuple[Settings, str, dict[str, str]]:
    """The start of `alerts`, `export` and `notify`: their settings, the bootstrap servers and the security keys
    of a broker that answered. Raises `CliStartError`: code 2 for bad settings and for a refused TLS handshake
    or SASL login (a configuration error, not retried), code 1 when no broker answered within `timeout_s`."""
    from .kafka_clients import bootstrap_from_url, kafka_security_config

    try:
        settings = from_env(brokers=brokers)
        bootstrap, security = bootstrap_from_url(settings.brokers), kafka_security_config(settings)
    except (SettingsError, ValueError) as exc:
        raise CliStartError(str(exc), 2) from None
    try:
        wait_for_broker(bootstrap, timeout_s, security)
    except BrokerRefused as exc:
        raise CliStartError(str(exc), 2) from None
    except BrokerUnreachable as exc:
        raise CliStartError(str(exc), 1) from None
    return settings, bootstrap, security


def _partition_counts(md: ClusterMetadata) -> dict[str, int]:
    return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}


def topic_partitions(
    bootstrap: str, names: Iterable[str], security: Mapping[str, str] | None = None, timeout_s: float = 10.0
) -> dict[str, int | None]:
    """name -> partition count, or None for a topic that does not exist. Never creates a topic."""
    counts = _partition_counts(_metadata(_admin(bootstrap, security, timeout_s), bootstrap, timeout_s))
    return {name: counts.get(name) for name in names}


def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    configs: Mapping[str, Mapping[str, str]] | None = None,
    security: Mapping[str, str] | None = None,
    *,
    replication_factor: int = -1,
    timeout_s: float = 30.0,
) -> dict[str, int]:
    """Create the missing topics with the given partition counts; leave existing ones as they are.

    Returns name -> actual partition count for every requested topic (an existing topic may differ from
    the request: the caller decides whether that matters). `replication_factor=-1` takes the broker's
    default. A concurrent creator (another replica starting) is tolerated.
    """
    deadline = time.monotonic() + timeout_s
    admin = _admin(bootstrap, security, timeout_s)
    existing = _partition_counts(_metadata(admin, bootstrap, timeout_s))
    missing = [
        NewTopic(
            name, num_partitions=n, replication_factor=replication_factor, config=dict((configs or {}).get(name, {}))
        )
        for name, n in topics.items()
        if name not in existing
    ]
    if missing:
        remaining = max(deadline - time.monotonic(), 1.0)
        futures = admin.create_topics(missing, operation_timeout=remaining, request_timeout=remaining)
        for name, fut in futures.items():
            try:
                fut.result(timeout=max(deadline - time.monotonic(), 0.1))
            except concurrent.futures.TimeoutError as exc:
                raise KafkaAdminError(f"creating topic {name!r} on {bootstrap} timed out") from exc
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue
                raise KafkaAdminError(f"creating topic {name!r} on {bootstrap} failed: {exc}") from exc
    # Metadata may lag a successful create on a real cluster: re-read until every topic shows up.
    while True:
        counts = _partition_counts(_metadata(admin, bootstrap, max(deadline - time.monotonic(), 0.1)))
        absent = [name for name in topics if not counts.get(name)]
        if not absent:
            return {name: counts[name] for name in topics}
        if time.monotonic() >= deadline:
            raise KafkaAdminError(f"topics {absent} not visible on {bootstrap} after {timeout_s:g}s")
        time.sleep(0.1)


# -- consumer groups ---------------------------------------------------------------------------------------


def group_lag(
    bootstrap: str,
    group: str,
    topics: Iterable[str],
    timeout_s: float,
    security: Mapping[str, str] | None = None,
) -> dict[tuple[str, int], int] | None:
    """(topic, partition) -> high watermark minus the group's committed offset, or None on timeout.

    A partition without a committed offset counts from its earliest offset. The whole call is bounded by
    `timeout_s`, including `list_consumer_group_offsets`, which can hang on tansu while the group rebalances.
    On tansu the figures are unreliable for topics written in multi-record batches (high-watermark bug, see
    `agentwatch.local.broker`); lag is clamped at 0 for that reason.
    """
    deadline = time.monotonic() + timeout_s

    def left() -> float:
        return deadline - time.monotonic()

    admin = _admin(bootstrap, security, timeout_s)
    try:
        md = admin.list_topics(timeout=max(left(), 0.1))
    except KafkaException:
        return None
    tps = [
        TopicPartition(t, p)
        for t in topics
        if t in md.topics and md.topics[t].error is None
        for p in sorted(md.topics[t].partitions)
    ]
    if not tps:
        return {}
    request_timeout = max(left(), 0.1)
    try:
        committed_f = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, tps)], request_timeout=request_timeout
        )[group]
        high_f = admin.list_offsets({tp: OffsetSpec.latest() for tp in tps}, request_timeout=request_timeout)
        low_f = admin.list_offsets({tp: OffsetSpec.earliest() for tp in tps}, request_timeout=request_timeout)
        committed = {
            (tp.topic, tp.partition): tp.offset for tp in committed_f.result(timeout=max(left(), 0.01)).topic_partitions
        }
        high = {(tp.topic, tp.partition): f.result(timeout=max(left(), 0.01)).offset for tp, f in high_f.items()}
        low = {(tp.topic, tp.partition): f.result(timeout=max(left(), 0.01)).offset for tp, f in low_f.items()}
    except concurrent.futures.TimeoutError:
        return None
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and err.code() in (KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT):
            return None
        raise KafkaAdminError(f"reading lag of group {group!r} on {bootstrap} failed: {exc}") from exc
    lag: dict[tuple[str, int], int] = {}
    for key, hw in high.items():
        start = committed.get(key, -1)
        if start < 0:  # no commit yet (OFFSET_INVALID): the group will start from the earliest offset
            start = low.get(key, 0)
        lag[key] = max(hw - start, 0)
    return lag
