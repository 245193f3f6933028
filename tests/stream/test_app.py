"""The Faust adapter's own decisions, without a broker."""

import asyncio

from agentwatch.policy import Policy
from agentwatch.settings import Settings
from agentwatch.sinks.metrics import Metrics
from agentwatch.stream.app import Worker
from agentwatch.stream.http import Health


def test_no_tick_between_a_revocation_and_the_next_assignment(tmp_path) -> None:
    """A task closed in that window may be another worker's by then: it would be adopted open and closed twice."""
    health = Health()
    worker = Worker(Settings(brokers="kafka://127.0.0.1:1", data_dir=str(tmp_path)), Policy(), Metrics(10), health,
                    input_partitions=1)
    ticks: list[int] = []
    worker.core.tick = ticks.append  # type: ignore[method-assign]
    worker._caught_up = list  # type: ignore[method-assign]  # no consumer here
    health.ready = False
    asyncio.run(worker._tick())
    assert ticks == [] and health.live()[0]
    health.ready = True
    asyncio.run(worker._tick())
    assert len(ticks) == 1
