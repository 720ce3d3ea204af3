"""A store that drops everything (huey's ``BlackHoleStorage``): for tests that
enqueue tasks and must not run nor keep them."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Message
from .memory import MemoryStorage


class BlackHoleStorage(MemoryStorage):
    """Drops every task, result and key it is given, so it always reads empty.

    As in huey: taking a lock always succeeds (``put_if_empty`` is True) and a rate
    limit never trips (``incr`` is 1); a revocation is dropped too. A consumer on it
    runs and finds nothing (its lease is kept in memory, its registry entry dropped)."""

    def enqueue(self, messages: Sequence[Message]) -> None:
        pass

    def enqueue_unique(self, key: str, ttl: float, message: Message) -> bool:
        return True

    def schedule(self, items: Sequence[tuple[Message, float]]) -> None:
        pass

    def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        pass

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return True

    def incr(self, key: str, ttl: float) -> int:
        return 1

    def map_set(self, name: str, field: str, value: bytes) -> None:
        pass  # revocations and the worker registry

    def describe(self) -> str:
        return "blackhole://"
