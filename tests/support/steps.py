"""Helpers shared by the tests split out of test_engine.py."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from engine.api import Huey
from engine.executor import Executor
from engine.task import Task

UTC = dt.UTC


# UTC+5:45 with no DST (POSIX TZ string, no tz database needed): a local time
# that differs from UTC in both hours and minutes.
NEPAL_TZ = "NPT-5:45"


NEPAL = dt.timezone(dt.timedelta(hours=5, minutes=45))


def worker(huey: Huey, now: float, consumer: str = "c1") -> Executor:
    return Executor(huey, consumer, clock=lambda: now)


def step(huey: Huey, now: float | None = None) -> bool:
    """Claim and run one ready task at ``now`` (default: the present)."""
    now = time.time() if now is None else now
    return worker(huey, now).step(now)


def drain(huey: Huey, now: float | None = None, limit: int = 100) -> int:
    """Run ready tasks at ``now`` until the queue is empty; return how many ran."""
    now = time.time() if now is None else now
    w = worker(huey, now)
    n = 0
    while w.step(now):
        n += 1
        assert n < limit, "queue never drained"
    return n


def record_signals(huey: Huey, *signals: str) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def receiver(signal: str, task: Task, *extra: Any) -> None:
        calls.append((signal, task, *extra))

    huey.signals.connect(receiver, *signals)
    return calls


def names(calls: list[tuple[Any, ...]]) -> list[str]:
    return [c[0] for c in calls]


def scheduled_etas(huey: Huey) -> list[float]:
    return [eta for _, eta in huey.storage.scheduled_items()]


@dataclass
class Point:
    """A custom object for the pickle codec (module level, so picklable)."""

    x: int
    y: int

    def moved(self, dx: int) -> Point:
        return Point(self.x + dx, self.y)
