"""Locks with an owner token and an optional TTL, and a fixed-window rate limit.

A lock is the key/value entry ``lock:<name>`` holding a random token: taking it
is ``put_if_empty`` (with a TTL, so a crashed holder cannot block forever),
releasing it deletes the key only if it still holds *our* token, so a holder
whose TTL lapsed never releases the lock somebody else has taken since.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .exceptions import RateLimitExceeded, TaskLockedException
from .storage.base import Storage


class TaskLock:
    """``with huey.lock_task('name'):`` or ``@huey.lock_task('name')``."""

    def __init__(self, storage: Storage, key: str, ttl: float | None = None) -> None:
        self.storage, self.key, self.ttl = storage, key, ttl
        self.name = key.split(":", 1)[1]
        self._tokens: list[bytes] = []  # a stack: one per nested acquire in this object

    def acquire(self) -> bool:
        token = os.urandom(12).hex().encode()
        if not self.storage.put_if_empty(self.key, token, self.ttl):
            return False
        self._tokens.append(token)
        return True

    def release(self) -> bool:
        if not self._tokens:
            return False
        return self.storage.delete_if_equal(self.key, self._tokens.pop())

    def is_locked(self) -> bool:
        return self.storage.peek(self.key) is not None

    def clear(self) -> bool:
        return self.storage.delete(self.key)

    def __enter__(self) -> TaskLock:
        if not self.acquire():
            raise TaskLockedException(f"unable to acquire lock {self.name!r}")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return inner


class RateLimit:
    """At most ``limit`` calls per ``per`` seconds (fixed windows), across processes."""

    def __init__(self, storage: Storage, key: str, limit: int, per: float) -> None:
        self.storage, self.key, self.limit, self.per = storage, key, limit, per

    def allow(self, now: float) -> bool:
        window = int(now // self.per)
        return self.storage.incr(f"{self.key}:{window}", self.per * 2) <= self.limit

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        import time

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if not self.allow(time.time()):
                raise RateLimitExceeded(f"rate limit {self.key} exceeded")
            return fn(*args, **kwargs)

        return inner
