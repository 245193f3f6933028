"""The local shortcut: spans homed on a re-key partition this worker owns skip the Kafka hop.

`route` folds such spans into the Engine itself, as `aggregate` would after the round trip through the
re-key topic (the wire encode/decode, a produce and a fetch per span batch). With one worker no span
crosses Kafka twice; with N, about 1/N of them do not.

Safe only once `aggregate` has consumed everything already queued on that partition: by this worker
before, or by another one before a rebalance. Otherwise newer spans folded directly would overtake older
ones still in the topic, and the watermark clock would run ahead of them (tasks closed early, their spans
counted late). So after each rebalance `route` sends every owned re-key partition a barrier carrying a
fresh token and waits until `aggregate` has consumed all of them; those partitions then go local until
the next rebalance. Durability is unchanged: a span folded here is task state, persisted before its
input offset is committed, as in the in-place mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable


class LocalShortcut:
    def __init__(self) -> None:
        self.local: frozenset[int] = frozenset()  # owned re-key partitions whose spans `route` folds
        self.token = ""  # of the current barriers; "" when none is awaited
        self.pending: set[int] = set()  # owned partitions whose barrier has not been consumed yet
        self.barriers_due = False
        self._owned: frozenset[int] = frozenset()
        self._instance = uuid.uuid4().hex[:12]
        self._generation = 0

    def assign(self, owned: Iterable[int]) -> None:
        """A rebalance completed: everything goes through Kafka until the new barriers are consumed."""
        self._owned = frozenset(owned)
        self._generation += 1
        self.token = f"{self._instance}-{self._generation}"
        self.local = frozenset()
        self.pending = set(self._owned)
        self.barriers_due = bool(self._owned)

    def take_barriers(self) -> list[int]:
        """The partitions to send a barrier with `token` to (once per assignment)."""
        self.barriers_due = False
        return sorted(self.pending)

    def seen(self, partition: int, token: str) -> None:
        """`aggregate` consumed a barrier on `partition`: everything queued there before it is folded."""
        if token and token == self.token:
            self.pending.discard(partition)
            if not self.pending:
                self.local, self.token = self._owned, ""

    def abandon(self) -> None:
        """Stop waiting (a rebalance began, or the barriers are too slow): Kafka only until the next assignment."""
        self.local, self.token, self.pending, self.barriers_due = frozenset(), "", set(), False
