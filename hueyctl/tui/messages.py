"""Messages that carry results up: from thread workers to the app, from screens to the app."""

from __future__ import annotations

from typing import Literal, TypeGuard

from textual.message import Message

from ..bulk import Count, Selection
from .actions import Target
from .data import Detail, Snapshot, WorkerDetail


class Loaded(Message):
    """A refresh finished (posted by the fetch worker)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class LoadFailed(Message):
    """A refresh could not reach the store; the screen keeps its last data."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class DetailLoaded(Message):
    def __init__(self, detail: Detail) -> None:
        super().__init__()
        self.detail = detail


class ActionDone(Message):
    """An action (revoke, restore, retry, delete, cancel, pause) ran; ``ok`` False if it raised."""

    def __init__(self, text: str, ok: bool = True) -> None:
        super().__init__()
        self.text = text
        self.ok = ok


class BulkCounted(Message):
    """The tasks a bulk action would take are counted (posted by the count worker)."""

    def __init__(
        self, kind: str, selection: Selection, count: Count, cutoff: float, target: Target | None
    ) -> None:
        super().__init__()
        self.kind = kind
        self.selection = selection
        self.count = count
        self.cutoff = cutoff
        self.target = target


ActKind = Literal["revoke", "restore", "retry", "delete", "cancel"]
ACT_KINDS: tuple[ActKind, ...] = ("revoke", "restore", "retry", "delete", "cancel")
# Screen and app actions that change the queue: hidden and refused by a read-only top
# (``top --serve --read-only``). A new action that writes must be named here. ``act``
# covers r/u/R/D/c (cancel); ``pause_queue`` is p. Freezing the view (f) writes nothing.
MUTATING = frozenset({"act", "pause_queue"})


def is_act_kind(kind: str) -> TypeGuard[ActKind]:
    """Key bindings name the action as a string: check it is one of ours."""
    return kind in ACT_KINDS


class Act(Message):
    """A screen asks the app to act on a row."""

    def __init__(self, kind: ActKind, target: Target | None) -> None:
        super().__init__()
        self.kind = kind
        self.target = target


class OpenTask(Message):
    """Show the detail screen of one task."""

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id


class OpenWorker(Message):
    """Show the detail screen of one worker (its running and claimed-ahead tasks)."""

    def __init__(self, worker_id: str) -> None:
        super().__init__()
        self.worker_id = worker_id


class WorkerLoaded(Message):
    def __init__(self, detail: WorkerDetail) -> None:
        super().__init__()
        self.detail = detail


class PageEdge(Message):
    """PgDn on a list's last row (``step`` 1) or PgUp on its first (-1): the next or
    previous page of the store's rows."""

    def __init__(self, step: int, table: object) -> None:
        super().__init__()
        self.step = step
        self.table = table  # the list it came from (the task table has no pages)


class QueryChanged(Message):
    """The dashboard's tab or filter changed: refresh now."""
