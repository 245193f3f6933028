"""The checkpoint: what makes re-processing harmless, as explicit code (ARCHITECTURE.md "Delivery").

    take()      with the offsets to commit chosen at the same instant: serialize every changed state
    complete()  1. every record sent so far (alerts, summaries, re-key messages) acknowledged
                2. the state taken sent, then acknowledged
                3. (embedded broker only) a high-watermark marker per changelog partition written, acknowledged
    then, and only then, the runtime commits the offsets chosen with `take()`

State never becomes durable before the outputs it implies (a closed task's marker before its summary), and
no offset is committed before the state that absorbed its record. A failed or unacknowledged record raises
(`producer.DeliveryFailed`): the offsets are not committed. Checkpoints taken while one completes wait for
the next `complete()`; their order is kept.
"""

from __future__ import annotations

from typing import Protocol

from .core import StateWrite, WorkerCore


class Acknowledging(Protocol):
    async def wait_delivered(self) -> None: ...


class Checkpointer:
    def __init__(self, core: WorkerCore, producer: Acknowledging) -> None:
        self.core = core
        self.producer = producer
        self._taken: list[list[StateWrite]] = []

    def take(self) -> None:
        """Right before the offsets to commit are chosen (no await in between)."""
        self._taken.append(self.core.checkpoint())

    async def complete(self) -> None:
        """Before the offsets chosen with the last `take()` are committed."""
        await self.producer.wait_delivered()
        if self._taken:
            taken, self._taken = self._taken, []
            for writes in taken:
                self.core.write_state(writes)
            await self.producer.wait_delivered()
        if self.core.mark_high_watermarks():  # the queue is empty: each marker is alone in its batch
            await self.producer.wait_delivered()
