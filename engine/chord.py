"""Groups and chords (huey 3): run tasks in parallel, then a callback with all results.

``group([a.s(1), b.s(2)])`` enqueues its members side by side; ``.then(cb)``
turns it into a ``chord``: when the last member (the tail of each member
pipeline) finishes, ``cb`` is enqueued with one more positional argument, the
list of the members' results in member order. A member that failed for good
contributes an :class:`Error`; one that was revoked, expired or cancelled
contributes ``SKIPPED``.

Bookkeeping lives in the key/value store: each member tail writes its result
to ``chord:<id>:<index>`` atomically with its own acknowledgement, then bumps
the counter ``chord:<id>``; whoever brings it to the chord's size enqueues the
callback.

Facade floor: this module builds groups and chords and enqueues them. The
member side of the protocol runs in the worker: the member's record is part of
its outcome and the callback's arguments are built by ``engine.outcome``, where
:data:`SKIPPED` and :class:`Error` live (re-exported here, their public home).
The key names are ``engine.keys``'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError
from .ids import new_task_id
from .outcome import SKIPPED, Error
from .result import Result, ResultGroup
from .task import Task
from .task import as_task as _as_task
from .wrapper import TaskWrapper

if TYPE_CHECKING:
    from .api import Huey

__all__ = ["SKIPPED", "ChordResult", "Error", "chord", "enqueue_chord", "group"]


class group:  # noqa: N801 - huey's public name
    def __init__(self, tasks: Iterable[Task]) -> None:
        self.tasks = list(tasks)
        for t in self.tasks:
            if isinstance(t, group):
                raise ConfigurationError("a group cannot contain a group: enqueue them separately")

    def then(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> chord:
        return chord(self.tasks, _as_task(task, args, kwargs))

    def error(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> group:
        for t in self.tasks:
            t.error(task, *args, **kwargs)
        return self


class chord:  # noqa: N801 - huey's public name
    def __init__(self, tasks: Iterable[Task], callback: TaskWrapper | Task) -> None:
        self.tasks = list(tasks)
        for t in self.tasks:
            if isinstance(t, group):
                raise ConfigurationError("a chord member cannot be a group")
        self.callback = _as_task(callback, (), {})

    def then(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> chord:
        self.callback.then(task, *args, **kwargs)
        return self

    def error(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> chord:
        self.callback.error(task, *args, **kwargs)
        return self


class ChordResult:
    def __init__(self, results: ResultGroup, callback: Result, pipeline: ResultGroup | None):
        self.results = results
        self.callback = callback
        self.pipeline_results = pipeline

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.callback.get(*args, **kwargs)

    __call__ = get

    def reset(self) -> None:
        self.callback.reset()


def enqueue_chord(huey: Huey, c: chord) -> ChordResult:
    cid = new_task_id()
    callback = huey.envelope.record(c.callback)
    tails = []
    for index, member in enumerate(c.tasks):
        tail = member._tail()
        tail.chord = {"id": cid, "size": len(c.tasks), "index": index, "callback": callback}
        tails.append(tail)
    huey.enqueue_many(c.tasks)
    stages = c.callback.stages()
    cb = Result(huey, stages[0])
    rest = ResultGroup([Result(huey, s) for s in stages]) if len(stages) > 1 else None
    return ChordResult(ResultGroup([Result(huey, t) for t in tails]), cb, rest)
