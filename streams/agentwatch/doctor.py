"""`agentwatch doctor`: every dependency of a worker checked in one command, one line per check.

Why a separate command: a worker that cannot start says so in one line and exits, but an operator
wants the whole picture at once (broker, topics, lag, policy, prices, port) before or beside a
running deployment. Each check is a small function returning a `Check`, so it can be unit tested;
the I/O-bound ones each carry their own deadline (tansu's committed-offset calls can hang during a
rebalance), and checks that need the broker are skipped, not failed again, when it is unreachable.

Status: PASS, WARN (works, but look), FAIL (a worker would not start or would misbehave), SKIP (not
checked because an earlier check failed). Exit code 1 if any check FAILs, else 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .policy import Policy, PolicyError, load_policy
from .pricing import Pricer
from .settings import Settings, SettingsError, from_env

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
GROUP = "agentwatch"  # the Faust app id is the worker's consumer group
LAG_WARN = 10_000     # records behind on one topic before the lag check warns

log = logging.getLogger("agentwatch.kafka")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str
    config_error: bool = False  # a FAIL the configuration causes (bad settings, TLS/SASL refused): exit 2

    def line(self) -> str:
        return f"{self.status:<5} {self.name:<13} {self.detail}"


# -- checks that need no broker -------------------------------------------------------------------------


def check_protobuf() -> Check:
    from google.protobuf import __version__

    from .otlp.decode import require_upb

    try:
        require_upb()
    except RuntimeError as exc:
        return Check("protobuf", FAIL, str(exc))
    return Check("protobuf", PASS, f"upb backend (protobuf {__version__})")


def check_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> tuple[Check, Settings | None]:
    """`AGENTWATCH_*` variables (+ command-line overrides) -> Settings, Kafka security options included
    (`Settings.validate` checks them)."""
    from .stream.kafka_clients import bootstrap_from_url

    try:
        s = from_env(env, **overrides)
        bootstrap_from_url(s.brokers)
    except (SettingsError, ValueError) as exc:
        return Check("settings", FAIL, str(exc), config_error=True), None
    security = f", {s.security_protocol}" if s.security_protocol else ""
    return Check("settings", PASS, f"brokers {s.brokers}{security}, spans topic {s.spans_topic}, "
                                   f"{s.partitions} partitions, task key {s.task_key}"), s


def check_policy(path: str | None) -> tuple[Check, Policy | None]:
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        return Check("policy", FAIL, str(exc)), None
    rules = len(policy.rules)
    if not path:
        return Check("policy", PASS, "built-in defaults (AGENTWATCH_POLICY not set)"), policy
    detail = f"{policy.source}: {rules} rule{'s' * (rules != 1)}, {len(policy.prices)} price override(s)"
    if rules and not any(r.match == "*" for r in policy.rules):
        detail += "; no '*' rule, unmatched agents get the built-in defaults"
    return Check("policy", PASS, detail), policy


def check_prices(models: Mapping[str, int], tasks_read: int, policy: Policy, now_ns: int | None = None,
                 note: str = "") -> Check:
    """Every model seen in recent task summaries must have a price (genai-prices or the policy's `prices:`)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    overrides = f"{len(policy.prices)} override(s) in policy"
    if not tasks_read:
        return Check("prices", PASS, f"no task summaries yet, nothing to check ({overrides}){note}")
    pricer = Pricer(policy.prices)
    seen = [m for m in models if m and m != "__other__"]
    unknown = sorted(m for m in seen if pricer.rates(m, None, now_ns) is None)
    where = f"in the last {tasks_read} task(s)"
    if unknown:
        listed = ", ".join(unknown[:10]) + (f" (+{len(unknown) - 10} more)" if len(unknown) > 10 else "")
        return Check("prices", WARN, f"no price for {len(unknown)} of {len(seen)} model(s) {where}: {listed}; "
                                     f"their cost is null: add them under `prices:` in the policy "
                                     f"(USD per 1M tokens; {overrides}){note}")
    return Check("prices", PASS, f"all {len(seen)} model(s) {where} priced ({overrides}){note}")


def check_metrics_port(port: int, host: str = "127.0.0.1", timeout_s: float = 1.0) -> Check:
    """A worker answering /healthz there, or the port free for `run` to bind (as it does, on 0.0.0.0)."""
    name = "metrics port"
    if port == 0:
        return Check(name, PASS, "0: the worker binds a random free port")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes via a proxy
    try:
        with opener.open(f"http://{host}:{port}/healthz", timeout=timeout_s) as resp:
            body = resp.read(200).decode(errors="replace").strip()
        return Check(name, PASS, f"{port}: worker answering /healthz ({body})")
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            return Check(name, WARN, f"{port}: worker answering but not live: {exc.read(200).decode().strip()}")
        return Check(name, WARN, f"{port}: taken by another HTTP server (GET /healthz -> {exc.code})")
    except urllib.error.URLError as exc:
        if not isinstance(exc.reason, ConnectionRefusedError):
            return Check(name, WARN, f"{port}: taken by something that does not answer HTTP ({exc.reason})")
    except (OSError, ValueError) as exc:  # timeout, connection reset, not HTTP
        return Check(name, WARN, f"{port}: taken by something that does not answer HTTP ({exc})")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
        try:
            s.bind(("0.0.0.0", port))
        except OSError as exc:
            return Check(name, WARN, f"{port}: cannot be bound ({exc.strerror}); `run` would fail to serve /metrics")
    return Check(name, PASS, f"{port}: free (no worker running here)")


# -- checks of broker state (pure: they judge what the I/O helpers read) --------------------------------


def topic_names(s: Settings) -> list[str]:
    """The topics a worker reads and writes: input, re-key, per-agent, outputs, table changelogs."""
    from .stream.topology import AGENTS_TOPIC, INTERNAL_TOPIC, TABLE

    inputs = [s.spans_topic] + ([s.logs_topic] if s.logs_topic else [])
    return [*inputs, INTERNAL_TOPIC, AGENTS_TOPIC, s.alerts_topic, s.tasks_topic, s.dlq_topic,
            *([s.flagged_topic] if s.tail_keep else []), f"{GROUP}-{TABLE}-changelog"]


def check_topics(counts: Mapping[str, int | None], s: Settings) -> list[Check]:
    """One line per topic (`counts` as `kafka_admin.topic_partitions` gives them: whole-cluster metadata, so
    asking never creates a topic). Missing topics WARN: `run` creates them. The re-key topic and the table
    changelog must have exactly AGENTWATCH_PARTITIONS partitions: spans are routed by task hash % that
    (and summaries to the per-agent topic by agent hash % that)."""
    from .stream.topology import AGENTS_TOPIC, INTERNAL_TOPIC

    co_partitioned = {INTERNAL_TOPIC, AGENTS_TOPIC,
                      *(t for t in counts if t.startswith(f"{GROUP}-") and t.endswith("-changelog"))}
    out = []
    for topic in counts:
        n = counts.get(topic)
        if n is None:
            who = "the Collector writes it; " if topic in (s.spans_topic, s.logs_topic) else ""
            how = "the first worker creates it" if topic.endswith("-changelog") else "`agentwatch run` creates it"
            out.append(Check("topic", WARN, f"{topic}: missing ({who}{how})"))
        elif topic in co_partitioned and n != s.partitions:
            why = (f"spans are routed to it by task hash % {s.partitions}" if topic == INTERNAL_TOPIC else
                   f"summaries are routed to it by agent hash % {s.partitions}" if topic == AGENTS_TOPIC else
                   f"the table must be co-partitioned with {INTERNAL_TOPIC}")
            out.append(Check("topic", FAIL, f"{topic}: {n} partitions but AGENTWATCH_PARTITIONS={s.partitions}; "
                                            f"{why}: set AGENTWATCH_PARTITIONS={n}, or stop the "
                                            f"workers and delete {INTERNAL_TOPIC}, {AGENTS_TOPIC} and the "
                                            f"{GROUP}-*-changelog topics so `run` recreates them"))
        else:
            out.append(Check("topic", PASS, f"{topic}: {n} partition{'s' * (n != 1)}"))
    return out


def check_lag(lag: Mapping[tuple[str, int], int] | None, warn_at: int = LAG_WARN) -> Check:
    name = "consumer lag"
    if lag is None:
        return Check(name, WARN, f"could not read committed offsets of group {GROUP!r} (group rebalancing?)")
    if not lag:
        return Check(name, SKIP, "no input topic to measure")
    per_topic: dict[str, int] = {}
    for (topic, _), n in lag.items():
        per_topic[topic] = per_topic.get(topic, 0) + n
    worst = max(lag.items(), key=lambda kv: kv[1])
    parts = ", ".join(f"{t} {n}" for t, n in per_topic.items())
    detail = f"group {GROUP!r}: {parts} record(s) behind"
    if worst[1]:
        detail += f" (most on {worst[0][0]}[{worst[0][1]}]: {worst[1]})"
    status = WARN if max(per_topic.values()) >= warn_at else PASS
    return Check(name, status, detail)


# -- I/O --------------------------------------------------------------------------------------------------


def check_broker(bootstrap: str, timeout_s: float, security: Mapping[str, str] | None = None) -> Check:
    from .stream.kafka_admin import BrokerRefused, BrokerUnreachable, wait_for_broker

    t0 = time.monotonic()
    try:
        wait_for_broker(bootstrap, timeout_s, security)
    except BrokerRefused as exc:
        return Check("broker", FAIL, str(exc), config_error=True)
    except BrokerUnreachable as exc:
        return Check("broker", FAIL, f"{exc}; set AGENTWATCH_BROKERS or --brokers")
    return Check("broker", PASS, f"{bootstrap} reachable ({time.monotonic() - t0:.2f} s)")


def recent_task_models(bootstrap: str, topic: str, last_n: int, timeout_s: float,
                       security: Mapping[str, str] | None = None) -> tuple[Counter[str], int, bool]:
    """Models in the last `last_n` task summaries on `topic` -> (model -> tasks, tasks read, complete).

    Reads up to `last_n` records from the end of every partition by manual assignment (no group join,
    no commits), keeps the newest `last_n` by record timestamp; stops at the end or at the deadline.
    """
    from confluent_kafka import KafkaError, TopicPartition

    from .stream.kafka_clients import consumer as kafka_consumer

    deadline = time.monotonic() + timeout_s
    consumer = kafka_consumer(bootstrap, security, logger=log, **{
        "group.id": "agentwatch-doctor", "enable.auto.commit": False, "enable.partition.eof": True,
        "allow.auto.create.topics": False})
    seen: list[tuple[int, list[str]]] = []
    try:
        md = consumer.list_topics(timeout=max(timeout_s, 0.1))  # whole cluster: by name would create it
        meta = md.topics.get(topic)
        if meta is None or meta.error is not None:
            return Counter(), 0, True
        assign = []
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                       timeout=max(deadline - time.monotonic(), 0.1))
            if high > low:
                assign.append(TopicPartition(topic, p, max(low, high - last_n)))
        pending = {tp.partition for tp in assign}
        consumer.assign(assign)
        while pending and time.monotonic() < deadline:
            for m in consumer.consume(500, timeout=min(0.2, max(deadline - time.monotonic(), 0.01))):
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        pending.discard(m.partition())
                    continue
                try:
                    summary = json.loads(m.value())
                    models = [str(x) for x in summary.get("models") or []]
                except (ValueError, TypeError, AttributeError):
                    continue
                seen.append((m.timestamp()[1], models))
    finally:
        consumer.close()
    seen.sort(key=lambda x: x[0])
    counts: Counter[str] = Counter(m for _, models in seen[-last_n:] for m in set(models))
    return counts, min(len(seen), last_n), not pending


def iter_checks(*, brokers: str | None = None, policy: str | None = None, metrics_port: int | None = None,
                timeout_s: float = 5.0, last_tasks: int = 500, env: Mapping[str, str] | None = None) -> Iterator[Check]:
    """All checks in order, each yielded as soon as it is done; broker-dependent ones SKIP when settings or
    the broker fail. Every network step is bounded by `timeout_s`."""
    from .stream.kafka_admin import KafkaAdminError, group_lag, topic_partitions
    from .stream.kafka_clients import bootstrap_from_url, kafka_security_config
    from .stream.topology import INTERNAL_TOPIC

    yield check_protobuf()
    settings_check, s = check_settings(env, brokers=brokers, policy=policy, metrics_port=metrics_port)
    yield settings_check
    if s is None:
        yield from (Check(n, SKIP, "settings invalid") for n in ("policy", "broker", "metrics port"))
        return
    policy_check, pol = check_policy(s.policy)
    yield policy_check
    bootstrap, security = bootstrap_from_url(s.brokers), kafka_security_config(s)
    broker = check_broker(bootstrap, timeout_s, security)
    yield broker
    if broker.status == FAIL:
        yield from (Check(n, SKIP, "broker unreachable") for n in ("topics", "consumer lag", "prices"))
    else:
        try:
            yield from check_topics(topic_partitions(bootstrap, topic_names(s), security, timeout_s), s)
        except KafkaAdminError as exc:
            yield Check("topic", FAIL, str(exc))
        try:
            yield check_lag(group_lag(bootstrap, GROUP, [s.spans_topic, INTERNAL_TOPIC], timeout_s, security))
        except KafkaAdminError as exc:
            yield Check("consumer lag", WARN, str(exc))
        if pol is None:
            yield Check("prices", SKIP, "policy invalid")
        else:
            try:
                models, n, complete = recent_task_models(bootstrap, s.tasks_topic, last_tasks, timeout_s, security)
            except Exception as exc:  # confluent_kafka.KafkaException and friends: report, do not crash
                yield Check("prices", WARN, f"could not read {s.tasks_topic}: {exc}")
            else:
                note = "" if complete else f"; stopped reading {s.tasks_topic} after {timeout_s:g} s"
                yield check_prices(models, n, pol, note=note)
    yield check_metrics_port(s.metrics_port)


def run_doctor(**kwargs: Any) -> list[Check]:
    """`iter_checks` as a list (same keyword arguments)."""
    return list(iter_checks(**kwargs))


def cli_main(args: argparse.Namespace) -> int:
    """Print the checks (text or `--json`); exit 2 if the configuration is wrong (settings invalid, the broker
    refused TLS or SASL), else 1 if any check FAILed."""
    if not log.handlers:  # librdkafka's connection chatter: the checks already say what matters
        log.addHandler(logging.NullHandler())
    checks = []
    for c in iter_checks(brokers=args.brokers, policy=args.policy, metrics_port=args.metrics_port,
                         timeout_s=args.timeout, last_tasks=args.last_tasks):
        checks.append(c)
        if not args.json:
            print(c.line(), flush=True)
    failed = any(c.status == FAIL for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}))
    else:
        counts = Counter(c.status for c in checks)
        print(f"\n{'FAILED' if failed else 'OK'}: " + ", ".join(f"{counts[k]} {k}" for k in (PASS, WARN, FAIL, SKIP)
                                                             if counts[k]))
    if any(c.status == FAIL and c.config_error for c in checks):
        return 2
    return 1 if failed else 0
