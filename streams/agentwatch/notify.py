"""`agentwatch notify`: read `agentwatch.alerts` and post every alert to Alertmanager's v2 API.

Delivery: its own consumer group (`agentwatch-notify`); a batch's offsets are committed only after
Alertmanager accepted the batch (HTTP 200). While Alertmanager is down or answers 5xx/429, the same batch
is posted again with exponential backoff (0.5 s doubling to 30 s) and nothing further is read, so nothing
is lost. A crash between the post and the commit posts the batch again: Alertmanager identifies an alert by
its labels (sinks/alertmanager.py), so a second post of the same alert refreshes it, it does not make
another. A 4xx other than 429 is Alertmanager refusing the alert itself (it would refuse it forever): it
is logged with the alert IDs and skipped. Records that are not alert JSON are logged and skipped.

A new group starts at the oldest alert, and alerts older than `max_age_s` (default 1 h) are not sent:
a first deployment does not page for last week, a restart after an outage still delivers what it missed.

`Notifier` is the loop over an injected consumer, poster, clock and sleep (tested with fakes);
`cli_main` wires it to confluent-kafka and urllib.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from .sinks.alertmanager import postable_alert

log = logging.getLogger("agentwatch.notify")

GROUP_ID = "agentwatch-notify"
BATCH = 500
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 30.0


class Refused(Exception):
    """Alertmanager refused the batch itself (4xx other than 429): sending it again cannot help."""


class Message(Protocol):
    def error(self) -> Any: ...
    def value(self) -> bytes | None: ...
    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...


class Notifier:
    """Moves alerts from a consumer to a poster; commits only what the poster accepted."""

    def __init__(self, consume: Callable[[], Sequence[Message]], post: Callable[[list[dict[str, Any]]], None],
                 commit: Callable[[dict[tuple[str, int], int]], None], *, resolve_after_s: float = 300.0,
                 max_age_s: float = 3600.0, trace_url: str = "",
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep, stop: Callable[[], bool] = lambda: False) -> None:
        self._consume, self._post, self._commit = consume, post, commit
        self.resolve_after_s, self.max_age_s, self.trace_url = resolve_after_s, max_age_s, trace_url
        self._now, self._sleep, self._stop = now, sleep, stop
        self.sent = self.skipped_old = self.skipped_bad = self.refused = self.retries = 0

    def step(self) -> int:
        """Read one batch, deliver it (retrying), commit it. Returns the number of records read."""
        msgs = [m for m in self._consume() if m.error() is None]
        if not msgs:
            return 0
        now = self._now()
        alerts: list[dict[str, Any]] = []
        ids: list[str] = []
        for m in msgs:
            try:
                alert = json.loads(m.value() or b"")
                if not isinstance(alert, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, TypeError) as exc:
                log.warning("skipped %s[%d]@%d: not an alert (%s)", m.topic(), m.partition(), m.offset(), exc)
                self.skipped_bad += 1
                continue
            out = self._postable(alert, now)
            if (now - datetime.fromisoformat(out["startsAt"])).total_seconds() > self.max_age_s:
                self.skipped_old += 1
                continue
            alerts.append(alert)
            ids.append(str(alert.get("alert_id")))
        if alerts and not self._deliver(alerts, ids):
            return 0  # stopped while Alertmanager was down: nothing committed, the batch is read again
        offsets: dict[tuple[str, int], int] = {}
        for m in msgs:
            key = (m.topic(), m.partition())
            offsets[key] = max(offsets.get(key, -1), m.offset() + 1)
        self._commit(offsets)
        return len(msgs)

    def _postable(self, alert: dict[str, Any], now: datetime) -> dict[str, Any]:
        return postable_alert(alert, resolve_after_s=self.resolve_after_s, trace_url=self.trace_url, now=now)

    def _deliver(self, alerts: list[dict[str, Any]], ids: list[str]) -> bool:
        delay = BACKOFF_MIN_S
        while True:
            try:
                # converted at each attempt: `endsAt` counts from when Alertmanager gets the alert, so an alert
                # held through an outage does not arrive already resolved
                now = self._now()
                self._post([self._postable(a, now) for a in alerts])
                self.sent += len(alerts)
                return True
            except Refused as exc:
                log.error("Alertmanager refused %d alert(s) (%s); skipped: %s", len(alerts), exc, ", ".join(ids))
                self.refused += len(alerts)
                return True
            except OSError as exc:  # connection refused, timeout, HTTP 5xx/429 (urllib's errors are OSErrors)
                if self._stop():
                    return False
                self.retries += 1
                log.warning("Alertmanager not accepting (%s); %d alert(s) held, retry in %.1fs", exc, len(alerts),
                            delay)
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)


def http_poster(url: str, timeout_s: float = 10.0) -> Callable[[list[dict[str, Any]]], None]:
    """POST a batch to `<url>/api/v2/alerts`; raises Refused on a 4xx other than 429, OSError otherwise."""
    endpoint = url.rstrip("/") + "/api/v2/alerts"

    def post(alerts: list[dict[str, Any]]) -> None:
        req = urllib.request.Request(endpoint, data=json.dumps(alerts).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                raise Refused(f"HTTP {exc.code}: {exc.read()[:200].decode(errors='replace')}") from None
            raise
    return post


def cli_main(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException, TopicPartition

    from .stream.kafka_admin import CliStartError, cli_broker
    from .stream.kafka_clients import consumer

    def fail(msg: str, code: int) -> int:
        print(f"agentwatch notify: {msg}", file=sys.stderr)
        return code

    url = args.alertmanager
    if not url or not url.startswith(("http://", "https://")):
        return fail("--alertmanager (or $AGENTWATCH_ALERTMANAGER_URL) must be an http(s) URL, "
                    f"got {url!r}", 2)
    try:
        settings, bootstrap, security = cli_broker(args.brokers, 30.0)
    except CliStartError as exc:
        return fail(str(exc), exc.code)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    c = consumer(bootstrap, security, logger=log, **{
        "group.id": GROUP_ID, "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "allow.auto.create.topics": False})
    topic = args.topic or settings.alerts_topic
    c.subscribe([topic])

    def commit(offsets: dict[tuple[str, int], int]) -> None:
        try:
            c.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
        except KafkaException as exc:  # a rebalance took the partition: its new owner posts the batch again
            log.warning("offset commit failed (%s); those alerts will be posted again", exc)

    notifier = Notifier(lambda: c.consume(BATCH, timeout=1.0), http_poster(url), commit,
                        resolve_after_s=args.resolve_after, max_age_s=args.max_age, trace_url=args.trace_url or "",
                        stop=lambda: bool(stopping))
    log.info("forwarding %s on %s to %s", topic, bootstrap, url)
    try:
        while not stopping:
            notifier.step()
    except KeyboardInterrupt:
        pass
    finally:
        c.close()
        log.info("stopped: %d sent, %d refused, %d too old, %d unreadable, %d retries", notifier.sent,
                 notifier.refused, notifier.skipped_old, notifier.skipped_bad, notifier.retries)
    return 0
