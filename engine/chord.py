"""Groups and chords (huey 3): run tasks in parallel, then a callback with all results.

``group([a.s(1), b.s(2)])`` enqueues its members side by side; ``.then(cb)``
turns it into a ``chord``: when the last member (the tail of each member
pipeline) finishes, ``cb`` is enqueued with one more positional argument, the
list of the members' results in member order. A member that failed for good
contributes an :class:`Error`; one that was revoked, expired or cancelled
contributes ``SKIPPED``.

Bookkeeping lives in the key/value store: each member tail writes its result
to ``chord:<id>:<index>`` atomically with its own acknowledgement (a stage
that ends its pipeline early, failed for good or skipped, writes it for the
tail), then bumps the counter ``chord:<id>``; whoever brings it to the chord's
size enqueues the callback. A chord may be a member: its callback's pipeline
is then the member. ``chord([], cb)`` enqueues ``cb([])`` at once.

Facade floor: this module builds groups and chords and enqueues them. The
member side of the protocol runs in the worker: the member's record is part of
its outcome and the callback's arguments are built by ``engine.outcome``, where
:data:`SKIPPED` lives; :class:`Error` lives in ``engine.codec``, which carries it
through the json codec (both re-exported here, their public home).
The key names are ``engine.keys``'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .codec import Error
from .exceptions import ConfigurationError
from .ids import new_task_id
from .outcome import SKIPPED, extend_args
from .result import Result, ResultGroup
from .task import Task
from .task import as_task as _as_task
from .wrapper import TaskWrapper

if TYPE_CHECKING:
    from .api import Huey

__all__ = ["SKIPPED", "ChordResult", "Error", "chord", "enqueue_chord", "group"]


class group:  # noqa: N801 - huey's public name
    """Calls to run side by side: group([a.s(1), b.s(2)]).

    huey.enqueue(group) enqueues every member and returns a ResultGroup with one
    Result per member. tasks is an iterable of calls built with .s() (each may
    be a pipeline); a group cannot contain a group. .then(callback) turns it into
    a chord.
    """

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.tasks = list(tasks)
        for t in self.tasks:
            if isinstance(t, group):
                raise ConfigurationError("a group cannot contain a group: enqueue them separately")

    def then(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> chord:
        """A chord of this group's members and task as the callback (task is a call
        built with .s(), or a task with its arguments given here).
        """
        return chord(self.tasks, _as_task(task, args, kwargs))

    def error(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> group:
        """Add the same error handler to every member: it runs with the error's details
        if the member's last stage fails for good (see Task.error). Returns the group.
        """
        for t in self.tasks:
            t.error(task, *args, **kwargs)
        return self


class chord:  # noqa: N801 - huey's public name
    """Calls run in parallel, then a callback with all their results:
    chord([a.s(1), b.s(2)], cb.s()), or group([...]).then(cb).

    When every member (the last stage of each member pipeline) is done for good,
    callback is enqueued with one more positional argument: the list of the
    members' results in member order. A member that failed for good contributes
    an Error, one that was revoked, expired or cancelled contributes SKIPPED.

    tasks is an iterable of calls built with .s() (not groups) or of chords (a
    nested chord is done when its callback's pipeline is); callback is a call
    built with .s(), or a task, called then with the results alone. An empty
    chord enqueues callback([]) at once. huey.enqueue(chord) returns a
    ChordResult.
    """

    def __init__(self, tasks: Iterable[Task | chord], callback: TaskWrapper | Task) -> None:
        self.tasks = list(tasks)
        for t in self.tasks:
            if isinstance(t, group):
                raise ConfigurationError("a chord member cannot be a group")
        self.callback = _as_task(callback, (), {})

    def then(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> chord:
        """Add a stage after the callback's pipeline so far; returns the chord."""
        self.callback.then(task, *args, **kwargs)
        return self

    def error(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> chord:
        """Add an error handler to the last stage of the callback's pipeline so far
        (see Task.error); returns the chord."""
        self.callback.error(task, *args, **kwargs)
        return self


class ChordResult:
    """What enqueueing a chord returns.

    results is a ResultGroup with one Result per member (the last stage of
    each member pipeline); callback is the Result of the callback;
    pipeline_results is a ResultGroup of every stage of the callback's pipeline
    when stages were added with chord.then(), else None. As in huey, its first
    Result *is* callback, so a value read through one is cached for the other.
    """

    def __init__(self, results: ResultGroup, callback: Result, pipeline: ResultGroup | None):
        self.results = results
        self.callback = callback
        self.pipeline_results = pipeline

    def get(self, *args: Any, **kwargs: Any) -> Any:
        """The callback's value, with the options of Result.get (e.g.
        get(blocking=True, timeout=30)).
        """
        return self.callback.get(*args, **kwargs)

    __call__ = get

    def reset(self) -> None:
        """Forget the callback value read so far (see Result.reset)."""
        self.callback.reset()


def enqueue_chord(huey: Huey, c: chord) -> ChordResult:
    """Enqueue a chord's members (a nested chord through its own members), each
    pipeline's last stage marked as member ``index`` of this chord; an empty chord
    enqueues its callback with ``[]`` at once."""
    size = len(c.tasks)
    callback = huey.envelope.record(c.callback)
    cid = new_task_id()
    tails: list[Task] = []
    plain: list[Task] = []
    nested: list[chord] = []
    for index, member in enumerate(c.tasks):
        if isinstance(member, chord):
            head = member.callback
            nested.append(member)
        else:
            head = member
            plain.append(member)
        tail = head._tail()
        tail.chord = {"id": cid, "size": size, "index": index, "callback": callback}
        tails.append(tail)
    if plain:
        huey.enqueue_many(plain)
    for inner in nested:
        enqueue_chord(huey, inner)
    if not size:
        call = replace(c.callback)
        extend_args(call, ([],))
        huey.enqueue(call)
    stages = c.callback.stages()
    cb = Result(huey, stages[0])
    rest = ResultGroup([cb, *(Result(huey, s) for s in stages[1:])]) if len(stages) > 1 else None
    return ChordResult(ResultGroup([Result(huey, t) for t in tails]), cb, rest)
