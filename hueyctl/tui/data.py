"""What one refresh of ``top`` reads: a :class:`Snapshot`, fetched off the UI thread.

Pure functions over ``engine.inspect.Inspector`` (no Textual here), so the
benchmark times exactly what the dashboard does. Every read is bounded: the
active tab's page only (``PAGE`` rows from ``Query.offset``), and a filtered listing scans at
most ``SCAN_BUDGET`` queued tasks, so a queue of a million tasks refreshes as
fast as an empty one.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine import inspect
from engine.ids import ID_LENGTH
from engine.inspect import (
    Event,
    Inspector,
    Overview,
    PeriodicInfo,
    ResultInfo,
    Revocation,
    TaskInfo,
    TaskStats,
    WorkerInfo,
)
from engine.steering import Pause

from .. import present
from ..resolve import looks_like_id

TABS = ("workers", "pending", "scheduled", "running", "periodic", "failed", "events")
PAGE = 200  # rows shown per listing
SCAN_BUDGET = 10_000  # queued tasks a filtered listing looks at per refresh
SCAN_PAGE = inspect.PAGE  # queued tasks read per round trip while scanning
EVENT_PAGE = 500
EVENT_TAIL = 200  # events read on the first refresh, or after falling behind

FULL_ID = ID_LENGTH  # a whole task id is looked up, not scanned for


@dataclass(frozen=True, slots=True)
class Filter:
    """What ``/`` typed: a task name (substring) or a task id (substring).

    ``id:...`` and ``task:...`` force the reading; otherwise text is an id when
    ``resolve.looks_like_id`` says so (the CLI's rule).
    """

    text: str

    @property
    def needle(self) -> str:
        return self.text.split(":", 1)[1].strip().lower() if self.forced else self.text.lower()

    @property
    def forced(self) -> bool:
        return self.text.startswith(("id:", "task:"))

    @property
    def by_id(self) -> bool:
        if self.forced:
            return self.text.startswith("id:")
        return looks_like_id(self.text)

    @property
    def exact_id(self) -> str | None:
        whole = self.by_id and len(self.needle) == FULL_ID and looks_like_id(self.needle)
        return self.needle if whole else None

    def matches(self, name: str, task_id: str = "") -> bool:
        return self.needle in (task_id if self.by_id else name).lower()


@dataclass(frozen=True, slots=True)
class Query:
    tab: str = "workers"
    filter: Filter | None = None
    offset: int = 0  # the page: rows skipped (a filtered listing always starts at 0)


@dataclass(frozen=True, slots=True)
class Listing:
    """The active tab's rows and what is known about the rest."""

    rows: tuple[Any, ...] = ()
    total: int | None = None  # how many exist (None: unknown, e.g. filtered)
    scanned: int = 0  # filtered listings: queued tasks looked at
    complete: bool = True  # filtered listings: the whole queue was looked at
    offset: int = 0  # rows before the first one shown


@dataclass(frozen=True, slots=True)
class Snapshot:
    query: Query
    overview: Overview
    stats: tuple[TaskStats, ...]
    listing: Listing
    events: tuple[Event, ...] = ()
    events_reset: bool = False  # True: ``events`` is a new tail, not a continuation
    revocations: tuple[Revocation, ...] = ()
    elapsed: float = 0.0  # seconds the fetch took (wall clock, not the injected clock)
    pauses: tuple[Pause, ...] = ()  # the queue's pause and its paused task names


@dataclass(frozen=True, slots=True)
class WorkerDetail:
    """One worker and the tasks it holds: started ones first, then claimed ahead."""

    worker_id: str
    worker: WorkerInfo | None
    tasks: tuple[TaskInfo, ...] = ()
    revocations: tuple[Revocation, ...] = ()


@dataclass(frozen=True, slots=True)
class Detail:
    task_id: str
    info: TaskInfo | None
    result: ResultInfo | None
    revocations: tuple[Revocation, ...] = field(default=())


Page = Callable[[int, int], list[TaskInfo]]


def scan(page: Page, flt: Filter, limit: int = PAGE, budget: int = SCAN_BUDGET) -> Listing:
    """Matches among the first ``budget`` tasks of a queue, read page by page."""
    found = inspect.scan(
        page, lambda i: flt.matches(i.name, i.id), limit=limit, page=SCAN_PAGE, budget=budget
    )
    return Listing(tuple(found.items), None, found.scanned, found.complete)


def _queued(
    inspector: Inspector, state: str, page: Page, total: int, flt: Filter | None, offset: int
) -> Listing:
    if flt is None:
        return Listing(tuple(page(offset, PAGE)), total, offset=offset)
    if flt.exact_id:  # one O(1) lookup instead of a scan
        info = inspector.task(flt.exact_id)
        rows = (info,) if info is not None and info.state == state else ()
        return Listing(rows, None, 0, True)
    return scan(page, flt)


def _window(rows: Sequence[Any], offset: int) -> Listing:
    return Listing(tuple(rows[offset : offset + PAGE]), len(rows), offset=offset)


def listing(inspector: Inspector, query: Query, overview: Overview) -> Listing:
    flt, tab = query.filter, query.tab
    offset = query.offset if flt is None else 0
    if tab in ("pending", "scheduled", "failed"):
        state = present.label_state(tab)
        page = functools.partial(inspector.tasks, state)
        return _queued(inspector, state, page, overview.in_state(state), flt, offset)
    if tab == "running":
        rows = [i for i in inspector.running() if flt is None or flt.matches(i.name, i.id)]
        return _window(rows, offset)
    if tab == "workers":
        workers: list[WorkerInfo] = inspector.workers()
        return _window(workers, offset)
    if tab == "periodic":
        periodic: list[PeriodicInfo] = inspector.periodic()
        return _window([p for p in periodic if flt is None or flt.matches(p.name)], offset)
    return Listing()  # events: the app keeps its own tail


def read_events(inspector: Inspector, after: str | None) -> tuple[list[Event], bool]:
    """New events since ``after``; after falling a whole page behind, jump to the tail."""
    if after is None:
        return inspector.events(None, EVENT_TAIL), True
    new = inspector.events(after, EVENT_PAGE)
    if len(new) >= EVENT_PAGE:
        return inspector.events(None, EVENT_TAIL), True
    return new, False


def fetch(inspector: Inspector, query: Query, events_after: str | None = None) -> Snapshot:
    """Everything one refresh shows. Raises ``EngineError`` when the store is unreachable."""
    started = time.perf_counter()
    overview = inspector.overview()
    stats = tuple(inspector.task_stats())
    rows = listing(inspector, query, overview)
    events, reset = read_events(inspector, events_after)
    revocations: Sequence[Revocation] = ()
    if query.tab in ("pending", "scheduled", "running", "failed"):
        revocations = inspector.revocations()
    return Snapshot(
        query,
        overview,
        stats,
        rows,
        tuple(events),
        reset,
        tuple(revocations),
        time.perf_counter() - started,
        tuple(inspector.pauses()),
    )


def load_worker(inspector: Inspector, worker_id: str) -> WorkerDetail:
    """A worker from the registry and the running tasks its id holds."""
    worker = next((w for w in inspector.workers() if w.id == worker_id), None)
    held = [i for i in inspector.running() if i.worker == worker_id]
    held.sort(key=lambda i: (i.claimed_ahead, -(i.started_at or 0.0), i.id))
    return WorkerDetail(worker_id, worker, tuple(held), tuple(inspector.revocations()))


def load_detail(inspector: Inspector, task_id: str) -> Detail:
    info = inspector.task(task_id) or inspector.finished(task_id)
    return Detail(task_id, info, inspector.result(task_id), tuple(inspector.revocations()))
