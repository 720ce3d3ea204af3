"""Result handles: what calling a task returns (huey's ``TaskResultWrapper``).

Facade floor: a handle reads through the queue's public core methods
(``read_result``, ``unwrap_result``, ``has_result``) and revokes through ``Huey``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from . import cancellation
from .core import EMPTY
from .exceptions import ResultTimeout
from .keys import result_key

if TYPE_CHECKING:
    from .api import Huey
    from .task import Task


class Result:
    """A handle on one task's result. Reading is destructive unless ``preserve=True``;
    the handle caches the value once read (``reset()`` forgets it)."""

    def __init__(self, huey: Huey, task: Task) -> None:
        self.huey = huey
        self.task = task
        self._value: Any = EMPTY

    @property
    def id(self) -> str:
        """The task id of the call this handle reads."""
        return self.task.id

    def __repr__(self) -> str:
        return f"<Result {self.task.registered_name} id={self.id}>"

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
        :class:`ResultTimeout` when time runs out.

        Options:
          blocking: wait until the result is stored. Default False.
          timeout: with blocking, seconds to wait before ResultTimeout is raised;
            None waits for ever. Default None.
          backoff, max_delay: accepted for huey compatibility; the wait is woken
            when the result is written (Redis) or polls quickly. Defaults 1.15
            and 1.0.
          revoke_on_timeout: revoke the call when the wait times out.
            Default False.
          preserve: leave the result in the store for other readers; otherwise
            reading removes it. Default False.
        """
        cancellation.checkpoint()
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
            cancellation.checkpoint()  # a cancelled call waiting here stops (within 1 s)
            left = 1.0 if deadline is None else deadline - time.monotonic()
            data = self.huey.storage.wait_result(key, max(0.0, min(left, 1.0)), not preserve)
            if data is not None:
                self._value = self.huey.decode_value(data)
                return
            if deadline is not None and time.monotonic() >= deadline:
                if revoke_on_timeout:
                    self.revoke()
                raise ResultTimeout(
                    f"task {self.task.registered_name} {self.id} not done within {timeout}s"
                )

    async def aget(
        self,
        timeout: float | None = None,
        backoff: float = 1.15,
        max_delay: float = 1.0,
        revoke_on_timeout: bool = False,
        preserve: bool = False,
        blocking: bool = True,
    ) -> Any:
        """``get(blocking=True)`` for asyncio code: await the task's return value
        without blocking the event loop. On Redis the await is woken when the result
        is written (the awaits of one loop share two connections); elsewhere it looks
        with a back-off of up to 0.1 s. Cancelling the awaiting coroutine leaves
        nothing behind and never loses the result.

        Options as :meth:`get` (``blocking=False`` looks once); ``backoff`` and
        ``max_delay`` are accepted for huey compatibility.
        """
        if self._value is EMPTY:
            wait = (math.inf if timeout is None else max(0.0, timeout)) if blocking else 0.0
            data = await self.huey.storage.await_result(
                result_key(self.id), wait, not preserve, self.huey.result_ttl
            )
            if data is not None:
                self._value = self.huey.decode_value(data)
            elif blocking:
                if revoke_on_timeout:
                    self.revoke()
                raise ResultTimeout(
                    f"task {self.task.registered_name} {self.id} not done within {timeout}s"
                )
        if self._value is EMPTY:
            return None
        return self.huey.unwrap_result(self._value)

    def is_ready(self) -> bool:
        """Whether the result is stored (or already read by this handle), without reading it."""
        return self._value is not EMPTY or self.huey.has_result(self.id)

    def reset(self) -> None:
        """Forget the value this handle has read, so the next get() reads the store again."""
        self._value = EMPTY

    def revoke(self, revoke_once: bool = True) -> None:
        """Revoke this call: it is skipped instead of run when it comes up (see
        Huey.revoke_by_id; revoke_once defaults to True).
        """
        self.huey.revoke_by_id(self.id, revoke_once=revoke_once)

    def restore(self) -> bool:
        """Lift the revocation of this call; whether it was revoked."""
        return self.huey.restore_by_id(self.id)

    def is_revoked(self) -> bool:
        """Whether this call is revoked, by id or because its whole task is."""
        return self.huey.is_revoked(self.task)

    def reschedule(
        self,
        eta: dt.datetime | float | None = None,
        delay: float | dt.timedelta | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        priority: int | None = None,
        preserve_pipeline: bool = True,
    ) -> Result:
        """Revoke this call and enqueue a copy (new id) at a new time; returns the
        copy's Result.

        Options:
          eta: when the copy runs: a datetime (a naive one is local time) or epoch
            seconds. Default None.
          delay: or seconds (or a timedelta) from now. With neither eta nor delay
            the copy runs as soon as a worker takes it. Default None.
          expires: a new expiry, as task(expires=); None keeps the call's own.
            Default None.
          priority: a new priority; None keeps the call's own. Default None.
          preserve_pipeline: keep the stages that follow this call and its error
            handler. Default True.
        """
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
        """The values of every result, in order; the options are those of Result.get
        (e.g. get(blocking=True, timeout=10)). A failed member raises TaskException.
        """
        return [r.get(*args, **kwargs) for r in self._results]

    __call__ = get

    async def aget(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Await every value, concurrently, in order (options as Result.aget). If one
        fails or the await is cancelled, the other awaits are cancelled too."""
        return await gather_all([r.aget(*args, **kwargs) for r in self._results])

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


async def gather_all(awaitables: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """The values of ``awaitables`` run concurrently, in order. If one raises, or the
    caller is cancelled, the others are cancelled (and awaited) before it propagates."""
    jobs = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*jobs))
    except BaseException:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        raise
