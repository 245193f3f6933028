"""Fixtures for broker-backed tests: an embedded tansu broker (one per session), rotel collectors, and OTel SDK
tracer providers that export to them. Everything listens on 127.0.0.1 and is stopped at teardown.

When a test fails, the tails of the broker's and its collectors' logs are attached to the report.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import agentwatch  # noqa: F401
except ImportError:  # package not installed (no `pip install -e .`): use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "streams"))

from agentwatch.local.broker import EmbeddedBroker, ManagedProcess
from agentwatch.local.rotel import Rotel

try:
    from .kafka_helpers import Record, make_tracer_provider
    from .kafka_helpers import consume as _consume
except ImportError:  # tests/e2e is not a package: pytest put this directory on sys.path
    from kafka_helpers import Record, make_tracer_provider
    from kafka_helpers import consume as _consume

from opentelemetry.sdk.trace import TracerProvider

# Processes started by fixtures and still running, for log tails on failure.
_RUNNING: list[ManagedProcess] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for proc in _RUNNING:
            report.sections.append((f"{proc.name} log ({proc.log_path})", proc.log_tail(40)))


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded tansu broker for the whole session (starts in well under a second)."""
    b = EmbeddedBroker(start_timeout_s=60.0)
    b.start()
    _RUNNING.append(b)
    try:
        yield b
    finally:
        _RUNNING.remove(b)
        b.stop()


@pytest.fixture
def rotel_factory(broker: EmbeddedBroker) -> Iterator[Callable[..., Rotel]]:
    """`rotel_factory(topic="otlp_spans", logs_topic="otlp_logs", fmt="proto", extra_args=())` -> a started
    Rotel exporting to the session broker; all are stopped at teardown."""
    started: list[Rotel] = []

    def make(
        topic: str = "otlp_spans",
        logs_topic: str = "otlp_logs",
        fmt: str = "proto",
        extra_args: tuple[str, ...] = (),
    ) -> Rotel:
        r = Rotel(broker.bootstrap, topic=topic, logs_topic=logs_topic, fmt=fmt, extra_args=extra_args,
                  start_timeout_s=60.0)  # fmt: skip
        r.start()
        started.append(r)
        _RUNNING.append(r)
        return r

    try:
        yield make
    finally:
        for r in started:
            _RUNNING.remove(r)
            r.stop()


@pytest.fixture
def rotel(rotel_factory: Callable[..., Rotel]) -> Rotel:
    """A rotel writing OTLP protobuf to `otlp_spans` / `otlp_logs` on the session broker."""
    return rotel_factory()


@pytest.fixture
def tracer_provider_factory() -> Iterator[Callable[..., TracerProvider]]:
    """`tracer_provider_factory(rotel, service_name=...)` -> an OTel SDK TracerProvider exporting OTLP/HTTP to
    that rotel through a BatchSpanProcessor; all are shut down at teardown (which flushes them)."""
    providers: list[TracerProvider] = []

    def make(collector: Rotel, service_name: str = "agentwatch-e2e") -> TracerProvider:
        provider = make_tracer_provider(collector.otlp_http_endpoint, service_name)
        providers.append(provider)
        return provider

    try:
        yield make
    finally:
        for p in providers:
            p.shutdown()


@pytest.fixture
def otlp_tracer_provider(rotel: Rotel, tracer_provider_factory: Callable[..., TracerProvider]) -> TracerProvider:
    """A TracerProvider exporting to the default `rotel` fixture."""
    return tracer_provider_factory(rotel)


@pytest.fixture
def consume() -> Callable[..., list[Record]]:
    """`consume(bootstrap, topic, n, timeout_s, until=None)`: see `kafka_helpers.consume`."""
    return _consume
