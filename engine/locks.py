"""Locks with an owner token and an optional TTL, and a fixed-window rate limit.

A lock is the key/value entry ``lock:<name>`` holding a random token: taking it
is ``put_if_empty`` (with a TTL, so a crashed holder cannot block forever),
releasing it deletes the key only if it still holds *our* token, so a holder
whose TTL lapsed never releases the lock somebody else has taken since.
"""

from __future__ import annotations

import functools
import inspect
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from . import cancellation
from .exceptions import ConfigurationError, RateLimitExceeded, TaskLockedException
from .keys import LOCK, lock_key, ratelimit_key, ratelimit_prefix
from .storage.base import Storage


class _Stored:
    _storage: Callable[[], Storage]

    @property
    def storage(self) -> Storage:
        return self._storage()


class TaskLock(_Stored):
    """``with huey.lock_task('name'):`` or ``@huey.lock_task('name')``."""

    def __init__(self, storage: Callable[[], Storage], key: str, ttl: float | None = None):
        # The store is looked up at each use, so a lock follows the queue into
        # immediate mode (which swaps the store).
        self._storage, self.key, self.ttl = storage, key, ttl
        self.name = key.split(":", 1)[1]
        self._tokens: list[bytes] = []  # a stack: one per nested acquire in this object

    def acquire(self) -> bool:
        """Take the lock if it is free; whether it was taken. With a ttl the lock
        lapses after that many seconds even if never released.
        """
        cancellation.checkpoint()  # a cancelled call stops at its next engine call
        token = os.urandom(12).hex().encode()
        if not self.storage.put_if_empty(self.key, token, self.ttl):
            return False
        self._tokens.append(token)
        return True

    def release(self) -> bool:
        """Release the lock this object took last; whether it was still ours (a lock
        whose ttl lapsed and was taken by someone else is left alone).
        """
        if not self._tokens:
            return False
        return self.storage.delete_if_equal(self.key, self._tokens.pop())

    def is_locked(self) -> bool:
        """Whether anyone holds the lock now."""
        return self.storage.peek(self.key) is not None

    def clear(self) -> bool:
        """Delete the lock whoever holds it; whether it was held."""
        return self.storage.delete(self.key)

    def __enter__(self) -> TaskLock:
        if not self.acquire():
            raise TaskLockedException(f"unable to acquire lock {self.name!r}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # ``async with lock`` and ``@lock`` on an ``async def``: the lock is held while the
    # coroutine runs (taking and releasing it are one quick store call each, made on
    # the loop's thread; a cancelled coroutine releases it on its way out).
    async def __aenter__(self) -> TaskLock:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def ainner(*args: Any, **kwargs: Any) -> Any:
                async with self:
                    return await fn(*args, **kwargs)

            return ainner

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return inner


class RateLimit(_Stored):
    """At most ``limit`` calls per ``per`` seconds (fixed windows), across processes.

    ``with`` block or decorator; over the limit raises :class:`RateLimitExceeded`
    carrying the seconds left in the window."""

    def __init__(
        self,
        storage: Callable[[], Storage],
        name: str,
        limit: int,
        per: float,
        retry: bool = True,
    ) -> None:
        if limit < 0 or per <= 0:  # limit=0 refuses every call, as in huey
            raise ConfigurationError(f"rate_limit({name!r}) needs limit >= 0 and per > 0")
        self._storage = storage
        self.name, self.limit, self.per, self.retry = name, limit, per, retry

    def _key(self, now: float) -> str:
        return ratelimit_key(self.name, int(now // self.per))

    def acquire(self, now: float | None = None) -> None:
        """Count one call in the current window (now defaults to the present); raise
        RateLimitExceeded, with the seconds left in the window, when over the limit.
        """
        cancellation.checkpoint()
        now = time.time() if now is None else now
        if self.storage.incr(self._key(now), self.per * 2) > self.limit:
            left = self.per - (now % self.per)
            raise RateLimitExceeded(self.name, left, self.retry)

    def current_usage(self, now: float | None = None) -> int:
        """How many calls the window containing now (default: the present) has counted."""
        data = self.storage.peek(self._key(time.time() if now is None else now))
        return int(data) if data else 0

    def reset(self) -> None:
        """Forget the counts of every window."""
        self.storage.flush_keys(ratelimit_prefix(self.name))

    def __enter__(self) -> RateLimit:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> RateLimit:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def ainner(*args: Any, **kwargs: Any) -> Any:
                self.acquire()
                return await fn(*args, **kwargs)

            return ainner

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            self.acquire()
            return fn(*args, **kwargs)

        return inner


def flush_locks(storage: Storage, names: tuple[str, ...]) -> set[str]:
    """Clear the named locks (all locks when none are named); return those cleared."""
    keys = [lock_key(n) for n in names] if names else storage.keys(LOCK)
    return {k[len(LOCK) :] for k in keys if storage.delete(k)}
