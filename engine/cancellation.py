"""Which call this thread is running, and whether it was cancelled.

Model floor (a thread-local and the :class:`~engine.task.Task` flag): the executor
marks the call it runs (:func:`running`), a consumer's cancel watch sets
``task.cancelled`` when ``hueyctl cancel`` asks, and the task sees it cooperatively:
``huey.is_cancelled()`` (:func:`is_cancelled`), ``task.cancelled`` for
``context=True`` tasks, or :class:`~engine.exceptions.TaskCancelled` raised at its
next engine call (:func:`checkpoint`: taking a lock, a rate limit, waiting for a
result). Outside a running call (a producer, a test) nothing is ever cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .exceptions import TaskCancelled
from .task import Task

_local = threading.local()


@contextmanager
def running(task: Task) -> Iterator[None]:
    """Mark ``task`` as the call this thread runs, for the duration of the block."""
    previous = enter(task)
    try:
        yield
    finally:
        leave(previous)


def enter(task: Task) -> Task | None:
    """Mark ``task`` as the call this thread runs; returns the one it replaces (for
    :func:`leave`). The executor's per-task path uses this pair, not the context
    manager (a generator per task)."""
    previous: Task | None = getattr(_local, "task", None)
    _local.task = task
    return previous


def leave(previous: Task | None) -> None:
    """Undo :func:`enter`."""
    _local.task = previous


def current() -> Task | None:
    """The call this thread is running, if any."""
    task: Task | None = getattr(_local, "task", None)
    return task


def is_cancelled() -> bool:
    """Whether the call this thread is running was cancelled (False outside a call)."""
    task = current()
    return task is not None and task.cancelled


def checkpoint() -> None:
    """Raise :class:`TaskCancelled` if the call this thread is running was cancelled."""
    task = current()
    if task is not None and task.cancelled:
        raise TaskCancelled(cancelled_message(task))


def cancelled_message(task: Task) -> str:
    """The error a cancelled call ends with (who asked, when known)."""
    by = f" by {task.cancelled_by}" if task.cancelled_by else ""
    return f"cancelled{by} while running"
