"""`agentwatch run`: check the dependencies, then start a worker and block until SIGTERM/SIGINT.

Start-up order, each step failing with one clear line and exit code 2: upb backend, policy file,
broker reachable within AGENTWATCH_BROKER_WAIT_S, topics present (created when missing), metrics
port free. SIGTERM stops the Faust worker gracefully: agents finish the in-flight event, offsets are
committed, producers flushed.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from ..otlp.decode import require_upb
from ..policy import PolicyError, load_policy
from ..process_tuning import tune_process
from ..settings import Settings
from ..sinks.metrics import Metrics
from .http import Health, serve
from .kafka_admin import BrokerUnreachable, KafkaAdminError, ensure_topics, wait_for_broker
from .kafka_clients import bootstrap_from_url, kafka_security_config
from .logs import json_handler

log = logging.getLogger("agentwatch.worker")


def fail(msg: str) -> int:
    log.error(msg)
    print(f"agentwatch run: {msg}", file=sys.stderr)
    return 2


def run_worker(settings: Settings, *, embedded_broker: bool = False) -> int:
    logging.basicConfig(level=settings.log_level.upper(), handlers=[json_handler()], force=True)
    try:
        require_upb()
        policy = load_policy(settings.policy)
    except (RuntimeError, PolicyError) as exc:
        return fail(str(exc))
    from .app import Worker
    from .topology import topics_to_create

    security = kafka_security_config(settings)
    try:
        bootstrap = bootstrap_from_url(settings.brokers)
        wait_for_broker(bootstrap, settings.broker_wait_s, security)
        created = ensure_topics(bootstrap, topics_to_create(settings), security=security)
    except BrokerUnreachable as exc:
        return fail(f"{exc} (AGENTWATCH_BROKERS={settings.brokers})")
    except KafkaAdminError as exc:
        return fail(str(exc))
    log.info("topics ready", extra={"fields": {"topics": created}})
    inputs = created.get(settings.spans_topic, 0)
    if settings.aggregate_in_place and inputs != settings.partitions:
        return fail(f"AGENTWATCH_INPUT_KEYED_BY_TRACE=true needs {settings.spans_topic} to have "
                    f"AGENTWATCH_PARTITIONS={settings.partitions} partitions (it has {inputs}): a trace's "
                    "input partition is its task's home")
    metrics = Metrics(settings.max_label_values)
    health = Health()
    try:
        serve(settings.metrics_port, metrics.registry, health, host=settings.metrics_host)
    except OSError as exc:
        return fail(f"cannot serve /metrics on port {settings.metrics_port}: {exc.strerror}")
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    worker = Worker(settings, policy, metrics, health, embedded_broker=embedded_broker,
                    input_partitions=inputs)
    log.info("starting worker", extra={"fields": {"brokers": settings.brokers, "pid": os.getpid(),
                                                  "metrics_port": settings.metrics_port}})
    tune_process(worker.core.engine.pricer.load)
    worker.execute()
    return 0
