"""What ``top`` can do to the queue, through the ``Huey`` facade only.

Each method is blocking (the app calls it from a thread worker) and returns the
one line shown to the operator; store failures raise ``EngineError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from engine import steering
from engine.api import Huey
from engine.inspect import UNREADABLE, Inspector, TaskInfo

from .. import audit, bulk


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

    def _audit(self, text: str, action: str, target: Target, by_id: bool = True) -> str:
        """``text``, after writing the audit event of what it says was done (a failed
        write is added to the text: the action itself is done)."""
        warning = audit.record(
            self.huey,
            action,
            (target.task_id if by_id else None) or target.name or "",
            task_id=(target.task_id or "") if by_id else "",
            task=target.name or "",
            count=1 if by_id else None,
            detail=text,
            quiet=True,
        )
        return text if warning is None else f"{text} ({warning})"

    def revoke(self, target: Target, choice: RevokeChoice) -> str:
        until = None if choice.minutes is None else self.clock() + choice.minutes * 60
        span = "" if choice.minutes is None else f" for {choice.minutes:g} min"
        once = " (once)" if choice.once else ""
        if choice.scope == "id" and target.task_id:
            self.huey.revoke_by_id(target.task_id, revoke_until=until, revoke_once=choice.once)
            return self._audit(f"revoked task {target.task_id}{span}{once}", "revoke", target)
        if not target.name:
            return "nothing to revoke here"
        self.huey.revoke_all(target.name, revoke_until=until, revoke_once=choice.once)
        text = f"revoked every {target.name}{span}{once}"
        return self._audit(text, "revoke", target, by_id=False)

    def restore(self, target: Target) -> str:
        """Lift what keeps this row from running: its own revocation, else its task's."""
        if target.task_id and self.huey.restore_by_id(target.task_id):
            return self._audit(f"restored task {target.task_id}", "restore", target)
        if target.name and self.huey.restore_all(target.name):
            text = f"restored every {target.name}"
            return self._audit(text, "restore", target, by_id=False)
        return f"{target.label()} was not revoked"

    def retry(self, target: Target) -> str:
        if not target.task_id or target.state != "dead":
            return "retry works on dead letters (Failed tab)"
        if target.name and target.name.startswith(UNREADABLE):
            return f"{target.task_id} is {target.name}: not retried (delete it)"
        if self.huey.retry_failed(target.task_id):
            return self._audit(f"retrying {target.task_id}: back on the queue", "retry", target)
        return f"{target.task_id} is no longer a dead letter"

    def delete(self, target: Target) -> str:
        if not target.task_id:
            return "delete works on one task: select a row"
        if target.state == "running":
            return "a running task cannot be deleted (revoke it instead)"
        if self.huey.delete_task(target.task_id):
            return self._audit(f"deleted {target.task_id}", "delete", target)
        return f"{target.task_id} is gone already (or running)"

    def cancel(self, target: Target) -> str:
        """Cancel one call: a waiting one is deleted, a running one is stopped."""
        if not target.task_id:
            return "cancel works on one task: select a row"
        done, state = steering.cancel(self.huey, target.task_id, now=self.clock())
        if done == steering.DELETED:
            return f"cancelled {target.task_id}: it was {state}, now deleted"
        if done == steering.REQUESTED:
            return f"cancelling {target.task_id}: its worker stops it within about a second"
        return f"{target.task_id} has already finished: nothing to cancel"

    def pause_queue(self) -> str:
        steering.pause(self.huey, now=self.clock())
        return f"paused queue {self.huey.name}: workers claim nothing until resumed (p)"

    def resume_queue(self) -> str:
        was, _ = steering.resume(self.huey, now=self.clock())
        return f"resumed queue {self.huey.name}" if was else "the queue was not paused"

    # --- bulk: everything the filter matches ------------------------------------------------
    def bulk_count(
        self, kind: str, state: str, label: str, keep: Callable[[TaskInfo], bool]
    ) -> tuple[bulk.Selection, bulk.Count, float]:
        """What ``kind`` (retry, delete) would take in ``state`` among the tasks ``keep``
        accepts (top's filter, ``label``): the selection, its count and the cutoff."""
        cutoff = self.clock()
        sel = bulk.Selection(state, keep=keep, label=label)
        return sel, bulk.count(self._inspector(), bulk.ACTIONS[kind], sel, cutoff), cutoff

    def bulk(self, kind: str, sel: bulk.Selection, cutoff: float, count: bulk.Count) -> str:
        """Act on every task of ``sel`` (counted as ``count``); the report's line."""
        action = bulk.ACTIONS[kind]
        report = bulk.run(self._inspector(), self.huey, action, sel, cutoff, count, quiet=True)
        text = report.line()
        return text if report.warning is None else f"{text} ({report.warning})"

    def _inspector(self) -> Inspector:
        return Inspector(self.huey, self.clock)
