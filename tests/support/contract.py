"""Helpers shared by the tests split out of test_storage_contract.py."""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.storage.base import (
    Counts,
    Message,
    Outcome,
    Storage,
    new_task_id,
)

NOW = 1_700_000_000.0


LEASE = 30.0


PAYLOADS = [
    b"",
    b"\x00",
    b"\xff\xfe\x80\x00\x01",
    bytes(range(256)),
    "caf\u00e9 \u2603".encode("latin-1", "replace"),
    "caf\u00e9 \u2603".encode(),
    b"a|b\nc\r\n\\0",
]


def new_ids(n: int) -> list[str]:
    """``n`` fresh ids in creation order (time-ordered, so also sorted)."""
    ids = [new_task_id(time.time() + i / 1000) for i in range(n)]
    assert ids == sorted(ids)
    return ids


def counts(ready: int = 0, scheduled: int = 0, running: int = 0, dead: int = 0) -> Counts:
    return Counts(ready=ready, scheduled=scheduled, running=running, dead=dead)


def eventually(predicate: Callable[[], bool], timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def run_one(storage: Storage, data: bytes = b"x", priority: int = 0, consumer: str = "c1") -> str:
    """Enqueue one message and claim it for ``consumer`` at NOW; return its id."""
    (task_id,) = new_ids(1)
    storage.enqueue([Message(task_id, data, priority)])
    claimed = storage.claim(consumer, NOW, 1, LEASE)
    assert [c.id for c in claimed] == [task_id]
    return task_id


def kill(storage: Storage, task_id: str, consumer: str, at: float, reason: str = "error") -> None:
    assert storage.finish(consumer, task_id, at, Outcome(dead=(reason, f"boom {at}"))) is None
