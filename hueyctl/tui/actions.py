"""What ``top`` can do to the queue, through the ``Huey`` facade only.

Each method is blocking (the app calls it from a thread worker) and returns the
one line shown to the operator; store failures raise ``EngineError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.api import Huey
from engine.inspect import UNREADABLE


@dataclass(frozen=True, slots=True)
class Target:
    """What a row points at: one task (``task_id``), a task name, or both; or a worker."""

    task_id: str | None = None
    name: str | None = None
    state: str | None = None  # ready, scheduled, running, dead; None for names only
    worker: str | None = None  # a Workers row: the consumer id (no task to act on)

    def label(self) -> str:
        if self.task_id and self.name:
            return f"{self.name} {self.task_id}"
        return self.task_id or self.name or self.worker or "?"

    def copyable(self) -> str | None:
        """What ``y`` copies: the task id, else the worker id, else the task name."""
        return self.task_id or self.worker or self.name


@dataclass(frozen=True, slots=True)
class RevokeChoice:
    scope: str  # "id": this call only; "task": every call of the task
    once: bool = False  # spend the revocation on the next run it stops
    minutes: float | None = None  # lapse after this long; None: until restored


class Actions:
    def __init__(self, huey: Huey, clock: Callable[[], float] = time.time) -> None:
        self.huey = huey
        self.clock = clock

    def revoke(self, target: Target, choice: RevokeChoice) -> str:
        until = None if choice.minutes is None else self.clock() + choice.minutes * 60
        span = "" if choice.minutes is None else f" for {choice.minutes:g} min"
        once = " (once)" if choice.once else ""
        if choice.scope == "id" and target.task_id:
            self.huey.revoke_by_id(target.task_id, revoke_until=until, revoke_once=choice.once)
            return f"revoked task {target.task_id}{span}{once}"
        if not target.name:
            return "nothing to revoke here"
        self.huey.revoke_all(target.name, revoke_until=until, revoke_once=choice.once)
        return f"revoked every {target.name}{span}{once}"

    def restore(self, target: Target) -> str:
        """Lift what keeps this row from running: its own revocation, else its task's."""
        if target.task_id and self.huey.restore_by_id(target.task_id):
            return f"restored task {target.task_id}"
        if target.name and self.huey.restore_all(target.name):
            return f"restored every {target.name}"
        return f"{target.label()} was not revoked"

    def retry(self, target: Target) -> str:
        if not target.task_id or target.state != "dead":
            return "retry works on dead letters (Failed tab)"
        if target.name and target.name.startswith(UNREADABLE):
            return f"{target.task_id} is {target.name}: not retried (delete it)"
        if self.huey.retry_failed(target.task_id):
            return f"retrying {target.task_id}: back on the queue"
        return f"{target.task_id} is no longer a dead letter"

    def delete(self, target: Target) -> str:
        if not target.task_id:
            return "delete works on one task: select a row"
        if target.state == "running":
            return "a running task cannot be deleted (revoke it instead)"
        if self.huey.delete_task(target.task_id):
            return f"deleted {target.task_id}"
        return f"{target.task_id} is gone already (or running)"
