"""A `stream.core.Sink` for tests: records every record sent, in order."""

from __future__ import annotations


class ListSink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None, bytes | None]] = []  # (topic, partition, value)

    def send(self, topic, value, key=None, partition=None, headers=None) -> None:
        self.sent.append((topic, partition, value))
