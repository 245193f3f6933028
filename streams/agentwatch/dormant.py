"""Dormant tasks: an open task with no span for a while, held as its compressed changelog form.

Agents wait on people, on long tools, on queues: a worker can hold tens of thousands of open tasks that
have not moved for minutes. As live objects each costs ~6 KiB of RSS (`benchmarks/memory.py`: a dozen
small dicts and lists); held as the zlib-compressed JSON of `TaskState.to_dict` (the form the changelog
already stores and recovers from) it costs ~1 KiB. `Dormant` keeps beside that blob only what
`Engine.tick` reads to decide whether anything is due for the task (its times, its agent, the rules that
fired); anything else that needs the task (a span, an evaluation, a close, a stall, an eviction) thaws it
first, to exactly the state it was frozen from (tests/test_dormant.py). Freezing costs ~30 us and thawing
~25 us a task, so only tasks idle for `AGENTWATCH_HIBERNATE_AFTER_S` of event time are frozen.
"""

from __future__ import annotations

import zlib

import orjson

from .tasks import TaskState

_LEVEL = 1  # zlib's fastest: ~770 bytes for a 1.7 KB state; level 6 saves 4% more at 20% more time


class Dormant:
    """A frozen open task (its root span not seen: see the module docstring); `thaw()` gives it back."""

    __slots__ = ("agent", "blob", "end_ns", "fired", "kept_nbytes", "task_id")
    open = True  # a task whose root has ended closes within its grace; only open ones are frozen

    def __init__(self, task: TaskState) -> None:
        if not task.open:
            raise ValueError(f"task {task.task_id} has ended: it closes, it is not frozen")
        self.task_id = task.task_id
        self.agent = task.agent
        self.end_ns = task.end_ns
        self.fired = tuple(task.fired)
        self.kept_nbytes = task.kept.nbytes if task.kept is not None else 0
        self.blob = zlib.compress(orjson.dumps(task.to_dict()), _LEVEL)

    def thaw(self) -> TaskState:
        return TaskState.from_dict(orjson.loads(zlib.decompress(self.blob)))
