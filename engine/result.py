"""Result handles: what calling a task returns (huey's ``TaskResultWrapper``).

Facade floor: a handle reads through the queue's public core methods
(``read_result``, ``unwrap_result``, ``has_result``) and revokes through ``Huey``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .core import EMPTY
from .exceptions import ResultTimeout
from .keys import result_key

if TYPE_CHECKING:
    from .api import Huey
    from .task import Task

_EMPTY = EMPTY  # the name this module used before the core existed


class Result:
    """A handle on one task's result. Reading is destructive unless ``preserve=True``;
    the handle caches the value once read (``reset()`` forgets it)."""

    def __init__(self, huey: Huey, task: Task) -> None:
        self.huey = huey
        self.task = task
        self._value: Any = EMPTY

    @property
    def id(self) -> str:
        return self.task.id

    def __repr__(self) -> str:
        return f"<Result {self.task.name} id={self.id}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.get(*args, **kwargs)

    def get(
        self,
        blocking: bool = False,
        timeout: float | None = None,
        backoff: float = 1.15,
        max_delay: float = 1.0,
        revoke_on_timeout: bool = False,
        preserve: bool = False,
    ) -> Any:
        """The task's return value; None while not ready (non-blocking). A failed
        task raises :class:`TaskException`; ``blocking`` with ``timeout`` raises
        :class:`ResultTimeout` when time runs out."""
        if self._value is EMPTY:
            if blocking:
                self._wait(timeout, backoff, max_delay, revoke_on_timeout, preserve)
            else:
                self._value = self.huey.read_result(self.id, preserve)
        if self._value is EMPTY:
            return None
        return self.huey.unwrap_result(self._value)

    def _wait(
        self,
        timeout: float | None,
        backoff: float,
        max_delay: float,
        revoke_on_timeout: bool,
        preserve: bool,
    ) -> None:
        # The store wakes us when the result is written (Redis), or polls quickly;
        # ``backoff`` and ``max_delay`` are accepted for huey compatibility.
        deadline = None if timeout is None else time.monotonic() + timeout
        key = result_key(self.id)
        while True:
            left = 1.5 if deadline is None else deadline - time.monotonic()
            data = self.huey.storage.wait_result(key, max(0.0, min(left, 1.5)), not preserve)
            if data is not None:
                self._value = self.huey.decode_value(data)
                return
            if deadline is not None and time.monotonic() >= deadline:
                if revoke_on_timeout:
                    self.revoke()
                raise ResultTimeout(f"task {self.task.name} {self.id} not done within {timeout}s")

    def is_ready(self) -> bool:
        return self._value is not EMPTY or self.huey.has_result(self.id)

    def reset(self) -> None:
        self._value = EMPTY

    def revoke(self, revoke_once: bool = True) -> None:
        self.huey.revoke_by_id(self.id, revoke_once=revoke_once)

    def restore(self) -> bool:
        return self.huey.restore_by_id(self.id)

    def is_revoked(self) -> bool:
        return self.huey.is_revoked(self.task)

    def reschedule(
        self,
        eta: dt.datetime | float | None = None,
        delay: float | dt.timedelta | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        priority: int | None = None,
        preserve_pipeline: bool = True,
    ) -> Result:
        """Revoke this call and enqueue a copy (new id) at a new time."""
        return self.huey.reschedule(self, eta, delay, expires, priority, preserve_pipeline)


class ResultGroup:
    """A list-like group of results (pipelines, ``map``, ``enqueue_many``)."""

    def __init__(self, results: list[Result]) -> None:
        self._results = results

    def __getitem__(self, i: int) -> Any:
        """As in huey: the *value* of result ``i``, waiting for it (iterate for handles)."""
        return self._results[i].get(blocking=True)

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        return f"<ResultGroup of {len(self)}>"

    def get(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [r.get(*args, **kwargs) for r in self._results]

    __call__ = get

    def as_completed(self, backoff: float = 1.15, max_delay: float = 1.0) -> Iterator[Any]:
        """Yield values as tasks finish (blocking), in completion order."""
        pending = list(self._results)
        delay = 0.005
        while pending:
            for r in list(pending):
                if r.is_ready():
                    pending.remove(r)
                    yield r.get()
                    delay = 0.005
            if pending:
                time.sleep(delay)
                delay = min(delay * backoff * 2, max_delay)
