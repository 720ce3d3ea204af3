"""Fixtures of the huey parity tests: a memory queue ``h`` (and one on every store), and
sample tasks registered on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine import (
    MemoryHuey,
)


@pytest.fixture
def h() -> MemoryHuey:
    return MemoryHuey("parity")


@pytest.fixture
def every_store(make_storage: Callable[..., Any]) -> MemoryHuey:
    """A queue on a fresh store of each backend (queue order is the store's)."""
    q = MemoryHuey("parity-stores")
    q.storage = make_storage()
    return q


@pytest.fixture
def add(h: MemoryHuey) -> Any:
    @h.task()
    def add(a: int, b: int) -> int:
        return a + b

    return add


@pytest.fixture
def collect(h: MemoryHuey) -> Any:
    @h.task()
    def collect(results: list[Any]) -> list[Any]:
        return results

    return collect


@pytest.fixture
def boom(h: MemoryHuey) -> Any:
    @h.task()
    def boom(*args: Any) -> None:
        raise ValueError("boom")

    return boom


@pytest.fixture
def signals(h: MemoryHuey) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    @h.signal()
    def record(signal: str, task: Any, *extra: Any) -> None:
        seen.append((signal, task.id))

    return seen
