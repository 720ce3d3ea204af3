"""The read model: what ``hueyctl`` and ``top`` show, as frozen dataclasses.

Everything here reads; nothing changes the queue. Listings are paginated
(``offset``/``limit``) so a queue of a million tasks is browsed, never loaded.
Messages are described from their envelope without the application's code and
without ever unpickling.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .envelope import describe

if TYPE_CHECKING:
    from .api import Huey


@dataclass(frozen=True, slots=True)
class Overview:
    queue: str
    store: str
    ready: int
    scheduled: int
    running: int
    dead: int
    consumers: int
    at: float


@dataclass(frozen=True, slots=True)
class TaskInfo:
    id: str
    name: str
    state: str
    args: Any
    kwargs: Any
    priority: int = 0
    eta: float | None = None
    retries: int = 0
    attempt: int = 1
    enqueued_at: float | None = None
    consumer: str | None = None
    deliveries: int = 0
    reason: str | None = None
    error: str | None = None


def _info(data: bytes, state: str, **extra: Any) -> TaskInfo:
    rec = describe(data)
    return TaskInfo(
        id=str(rec.get("id", extra.pop("id", "?"))),
        name=str(rec.get("task", "?")),
        state=state,
        args=rec.get("args"),
        kwargs=rec.get("kwargs"),
        priority=int(rec.get("priority") or 0),
        eta=extra.pop("eta", rec.get("eta")),
        retries=int(rec.get("retries") or 0),
        attempt=int(rec.get("attempt") or 1),
        enqueued_at=rec.get("enqueued_at"),
        **extra,
    )


class Inspector:
    """Read-only view of one queue."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey

    def overview(self, now: float | None = None) -> Overview:
        now = time.time() if now is None else now
        storage = self.huey.storage
        counts = storage.counts()
        live = [c for c, until in storage.consumers(now).items() if until >= now]
        return Overview(
            self.huey.name,
            storage.describe(),
            counts.ready,
            counts.scheduled,
            counts.running,
            counts.dead,
            len(live),
            now,
        )

    def pending(self, offset: int = 0, limit: int = 50) -> list[TaskInfo]:
        return [_info(m.data, "ready") for m in self.huey.storage.ready_items(offset, limit)]

    def scheduled(self, offset: int = 0, limit: int = 50) -> list[TaskInfo]:
        return [
            _info(m.data, "scheduled", eta=eta)
            for m, eta in self.huey.storage.scheduled_items(offset, limit)
        ]

    def running(self) -> list[TaskInfo]:
        return [
            _info(r.data, "running", consumer=r.consumer, deliveries=r.deliveries)
            for r in self.huey.storage.running_items()
        ]

    def failed(self, offset: int = 0, limit: int = 50) -> list[TaskInfo]:
        return [
            _info(d.data, "dead", reason=d.reason, error=d.error)
            for d in self.huey.storage.dead_items(offset, limit)
        ]

    def task(self, task_id: str) -> TaskInfo | None:
        loc = self.huey.storage.locate(task_id)
        if loc is None:
            return None
        return _info(
            loc.data,
            loc.state,
            eta=loc.eta,
            consumer=loc.consumer,
            deliveries=loc.deliveries,
            reason=loc.reason,
            error=loc.error,
        )
