"""The read model: what ``hueyctl`` and ``top`` show, as frozen dataclasses.

Everything here reads; nothing changes the queue. Listings are paginated
(``offset``/``limit``) so a queue of a million tasks is browsed, never loaded.
Messages are described from their envelope without the application's code and
without ever unpickling, so all of this works with ``--url`` alone.

Read-model floor (beside the runtime): works on a :class:`~engine.core.QueueCore`
and reads the store's data by the names and record schemas of ``engine.keys``.
The CLI and ``top`` reuse its rules rather than keep copies: :func:`scan` (walk a
listing page by page with a filter), :func:`name_matches` (``--task NAME``) and
:class:`RevocationIndex` (is this call revoked, and by what).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from . import catalog as task_catalog
from . import steering
from .core import ADMIN_EVENT, QueueCore
from .crontab import clock_time, from_clock_time, parse_spec
from .envelope import readable
from .exceptions import StoreError, StoreUnavailable
from .inventory import (
    QueueInfo,
    TaskEntry,
    entries,
    queue_info,
    read_catalogs,
    signature_of,
)
from .keys import (
    LOCK,
    PAUSES,
    PERIODIC,
    PERIODIC_RUNS,
    QUEUE_PAUSED,
    RESULT,
    WORKERS,
    EventRecord,
    PeriodicRecord,
    RegistryRecord,
    result_key,
)
from .steering import Pause
from .storage.base import SCAN_BUDGET, StatRow, Storage, pause_in_force
from .storage.queues import knows_queue, queue_names

T = TypeVar("T")
PAGE = 500  # items read per round trip when a listing is walked page by page


@dataclass(frozen=True, slots=True)
class Minute:
    """Counters of one minute (all tasks, or one task)."""

    minute: int
    count: int = 0
    failures: int = 0
    total: float = 0.0
    max: float = 0.0


@dataclass(frozen=True, slots=True)
class TaskStats:
    """Per task name over a window: runs, failures, average and max runtime."""

    task: str
    count: int
    failures: int
    avg: float
    max: float


@dataclass(frozen=True, slots=True)
class Overview:
    """The queue at a glance (the top of hueyctl top): its name, the store
    (described with any password masked), how many tasks are ready, scheduled,
    running and dead, how many workers hold a live lease, the time of the
    reading (at, epoch seconds) and the per-minute throughput.
    """

    queue: str
    store: str
    ready: int
    scheduled: int
    running: int
    dead: int
    workers: int
    at: float
    throughput: tuple[Minute, ...] = ()  # oldest first, one per minute, zeros included
    # Of the running tasks, how many their workers report started (registry, one
    # heartbeat behind) and how many are claimed ahead (prefetched, not started).
    started: int = 0
    claimed_ahead: int = 0

    def in_state(self, state: str) -> int:
        """How many tasks are in ``state``: ready, scheduled, running or dead."""
        counts = {
            "ready": self.ready,
            "scheduled": self.scheduled,
            "running": self.running,
            "dead": self.dead,
        }
        return counts[state]


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """One task as hueyctl lists and shows it, read from its envelope without the
    application's code.

    state is ready, scheduled, running, dead or finished. args and kwargs are as stored:
    plain JSON with the json codec, base64 text with pickle. eta is the eta in
    the task's envelope (when it was scheduled to run), in every state. retries is
    how many retries are left and attempt which run this is. claimed_at, worker
    (the id of the worker that holds it) and deliveries (how many times it was
    claimed) are set for running tasks; failed_at, reason and error for dead ones.
    revoked says whether the call or its task is revoked now. envelope is the whole
    stored record. Times are epoch seconds.

    attempts is the call's attempt history, oldest first (at most ATTEMPTS_KEPT):
    each {"n", "at", "worker", "took", "error"}; a finished call's last entry is the
    attempt that ended it (error None when it succeeded). A dead letter's envelope is
    the call as a retry of it will run: attempt is that retry's number and retries
    the retries it gets (its task's again). finished tasks (state "finished", from
    the store's capped finished records) have finished_at, started_at, runtime,
    worker and outcome (the signal that ended them: complete, error, revoked,
    expired, canceled); args are None when the message was too big to keep.
    orphaned is set on a running task whose worker's lease has lapsed: it is
    requeued when a live worker sweeps.
    """

    id: str
    name: str
    state: str  # ready, scheduled, running, dead
    args: Any
    kwargs: Any
    priority: int = 0
    eta: float | None = None  # when it was scheduled to run (its envelope's eta), nothing else
    retries: int = 0
    attempt: int = 1
    enqueued_at: float | None = None
    expires: float | None = None
    claimed_at: float | None = None  # running: when a worker claimed it
    failed_at: float | None = None  # dead: when it failed for good
    worker: str | None = None  # running: the id of the worker that holds it
    deliveries: int = 0
    reason: str | None = None
    error: str | None = None
    revoked: bool = False
    envelope: dict[str, Any] = field(default_factory=dict, compare=False)
    started_at: float | None = None  # running: when its worker reported it started
    claimed_ahead: bool = False  # running: claimed (prefetched) but not reported started
    attempts: tuple[dict[str, Any], ...] = ()  # the attempt history, oldest first
    finished_at: float | None = None  # finished: when
    runtime: float | None = None  # finished: seconds its last attempt ran
    outcome: str | None = None  # finished: complete, error, revoked, expired, canceled
    orphaned: bool = False  # running: its worker's lease lapsed (requeued at a sweep)


@dataclass(frozen=True, slots=True)
class RunningTask:
    """A task a worker reports as running: id, task name, start time (epoch seconds)."""

    id: str
    name: str
    started: float


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A consumer, from the registry it refreshes at each heartbeat.

    id is the consumer id; host, pid and version (of the engine) say what runs;
    started and heartbeat are epoch seconds; concurrency is its number of worker
    threads or processes (asyncio: tasks in flight) and worker_type "thread", "process"
    or "asyncio"; running lists
    the tasks it is running; processed and failed count its tasks so far.
    lease_until is when its lease ends (None without one); alive is whether that
    lease is still valid, so a dead consumer not yet pruned shows alive=False.
    store_state is "ok", or what keeps it from claiming: "full" (Redis at its
    memory limit), "denied" (an ACL refusal) or "transient" (the store is away);
    persistent is whether its store keeps the queue on disk (None: not known).
    claimed_ahead counts the tasks it has claimed (prefetched) and not started.
    """

    id: str
    host: str
    pid: int
    version: str
    started: float
    heartbeat: float
    concurrency: int
    worker_type: str
    running: tuple[RunningTask, ...]
    processed: int
    failed: int
    lease_until: float | None
    alive: bool  # lease still valid
    store_state: str = "ok"
    persistent: bool | None = None
    claimed_ahead: int = 0  # tasks it holds in the store that it has not started (prefetched)


@dataclass(frozen=True, slots=True)
class PeriodicInfo:
    """A periodic task: its name, crontab spec and whether the spec is read in UTC;
    next_run (None when the spec cannot be evaluated) and last_run (when a
    consumer last fired it, None if never), as epoch seconds; and whether it is
    revoked, until when (None: no end) and whether only once.
    """

    name: str
    crontab: str
    utc: bool
    next_run: float | None
    last_run: float | None
    revoked: bool
    revoked_until: float | None
    revoke_once: bool
    next_slot: float | None = None  # the crontab's next slot, revoked or not


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event stream consumers write: id (opaque, pass it as
    events(after=...)), ts (epoch seconds), event (the signal name, e.g.
    "complete", "error"), task_id, task (its name), worker (the consumer id),
    error (a summary, for failures) and runtime (seconds, when it ran).

    An operator's action (the audit trail, ``QueueCore.record_admin_action``) is
    the event ``admin.<action>`` (admin.retry, admin.purge ...): worker and actor
    say who (``user@host``), target what (a task id, a name, a filter), count how
    many tasks changed and detail what was done, in one line.
    """

    id: str
    ts: float
    event: str
    task_id: str
    task: str
    worker: str
    error: str | None = None
    runtime: float | None = None
    actor: str | None = None
    target: str | None = None
    count: int | None = None
    detail: str | None = None

    @property
    def admin(self) -> bool:
        """Whether this is an operator's action (``admin.<action>``), not a task's signal."""
        return self.event.startswith(ADMIN_EVENT)

    def of_kind(self, kind: str | None) -> bool:
        """Whether the event is ``kind`` or one of its family: ``admin`` matches every
        ``admin.<action>``, ``complete`` only itself; None matches all."""
        return kind is None or self.event == kind or self.event.startswith(kind + ".")


@dataclass(frozen=True, slots=True)
class ResultInfo:
    """A stored result, read without removing it: ok with the value (as stored:
    plain JSON with the json codec), or not ok with the error and traceback.
    """

    id: str
    ok: bool
    value: Any
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revocation in force: target is a task name (kind "task") or a task id
    (kind "id"); until is when it lapses (epoch seconds, None: no end); once
    whether it is spent by the next call it stops.
    """

    target: str  # task name or task id
    kind: str  # "task" or "id"
    until: float | None
    once: bool


class RevocationIndex:
    """The revocations in force, looked up the way a worker checks a call: by the
    call's id first, then by its task's name (``engine.revocation.call_keys``).
    Built from one ``Inspector.revocations()`` read; ``hueyctl`` and ``top`` mark
    revoked rows with it."""

    def __init__(self, revocations: Iterable[Revocation]) -> None:
        self.by_id: dict[str, Revocation] = {}
        self.by_name: dict[str, Revocation] = {}
        for r in revocations:
            (self.by_id if r.kind == "id" else self.by_name)[r.target] = r

    def of(self, task_id: str, name: str) -> Revocation | None:
        """The revocation that stops this call, or None."""
        return self.by_id.get(task_id) or self.by_name.get(name)


_SHORT_ID = re.compile(r"[0-9a-fA-F]{4,12}")


def _add(acc: list[float], row: StatRow) -> None:
    """Fold a counter row into [count, failures, total, max]."""
    acc[0] += row.count
    acc[1] += row.failures
    acc[2] += row.total
    acc[3] = max(acc[3], row.max)


UNREADABLE = "unreadable: "  # a TaskInfo name that starts so is a record that failed validation

_NUMBERS = ("eta", "enqueued_at", "expires")
_INTS = ("priority", "retries", "attempt")


def _checked(data: bytes, task_id: str) -> tuple[dict[str, Any], str | None]:
    """The envelope record and, for one that cannot be shown as a task, why (a pure
    read that never raises: a malformed dead letter must not break a listing)."""
    try:
        rec = readable(data, task_id)
    except RecursionError:
        return {}, "nested too deep to decode"
    except Exception as exc:  # noqa: BLE001 - whatever the bytes are, the listing goes on
        return {}, f"{type(exc).__name__}: {exc}"[:200]
    if "raw" in rec and rec.get("task") == "?":
        return {}, str(rec.get("error", "not JSON"))[:200]
    if not isinstance(rec.get("task"), str):
        return {}, "no task name"
    for name in _INTS:
        value = rec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return {}, f"{name} is {value!r:.40}, not an integer"
    for name in _NUMBERS:
        value = rec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return {}, f"{name} is {value!r:.40}, not a number"
    return rec, None


def _info(store_id: str, data: bytes, state: str, **extra: Any) -> TaskInfo:
    """A task as listed: always under its store id (the id inside a body may lie), and a
    record that fails validation named ``unreadable: <reason>`` with no fields read."""
    rec, problem = _checked(data, store_id)
    if problem is not None:
        return TaskInfo(
            id=store_id,
            name=UNREADABLE + problem,
            state=state,
            args=None,
            kwargs=None,
            eta=extra.pop("eta", None),
            envelope={"raw": data[:200].hex()},
            **extra,
        )
    return TaskInfo(
        id=store_id,
        name=str(rec.get("task", "?")),
        state=state,
        args=rec.get("args"),
        kwargs=rec.get("kwargs"),
        priority=int(rec.get("priority") or 0),
        eta=extra.pop("eta", rec.get("eta")),
        retries=int(rec.get("retries") or 0),
        attempt=int(rec.get("attempt") or 1),
        enqueued_at=rec.get("enqueued_at"),
        expires=rec.get("expires"),
        envelope=rec,
        attempts=extra.pop("attempts", None) or _history(rec),
        **extra,
    )


def _history(rec: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The attempt history an envelope carries (entries that are not objects dropped)."""
    history = rec.get("history")
    if not isinstance(history, list):
        return ()
    return tuple(h for h in history if isinstance(h, dict))


@dataclass(frozen=True, slots=True)
class Scan(Generic[T]):
    """What :func:`scan` found: the items kept, how many it read, and whether it
    read the listing to its end (False: it stopped at the limit or the budget)."""

    items: list[T]
    scanned: int
    complete: bool


def scan(
    fetch: Callable[[int, int], Sequence[T]],
    keep: Callable[[T], bool],
    *,
    offset: int = 0,
    limit: int | None = None,
    page: int = PAGE,
    budget: int | None = None,
    gaps: bool = False,
) -> Scan[T]:
    """Walk a listing page by page from its start, never loading it whole.

    ``fetch(start, n)`` reads up to ``n`` items from position ``start``; ``keep``
    filters them. The first ``offset`` kept items are skipped and at most ``limit``
    (None: all) returned. ``budget`` caps how many items are read. A page that
    comes back short ends the listing, unless ``gaps`` says a page may be short
    with more after it (results: a key that vanished between listing and reading),
    in which case only an empty page ends it. The one paging loop of the CLI, the
    read model and ``top``.
    """
    out: list[T] = []
    skipped = scanned = start = 0
    while (limit is None or len(out) < limit) and (budget is None or start < budget):
        n = page if budget is None else min(page, budget - start)
        batch = fetch(start, n)
        scanned += len(batch)
        start += n
        for item in batch:
            if not keep(item):
                continue
            if skipped < offset:
                skipped += 1
            elif limit is None or len(out) < limit:
                out.append(item)
        if not batch or (len(batch) < n and not gaps):
            return Scan(out, scanned, True)
    return Scan(out, scanned, False)


def name_matches(name: str, task: str | None) -> bool:
    """The one rule of ``--task NAME``: ``name`` is ``task`` or ends with it as its
    last dotted part(s) (``add`` matches ``tasks.add``); None matches every name."""
    return task is None or name == task or name.endswith("." + task)


def _matches(info: TaskInfo, task: str | None, id_prefix: str | None) -> bool:
    return name_matches(info.name, task) and (id_prefix is None or info.id.startswith(id_prefix))


class Inspector:
    """Read-only view of one queue. ``clock`` is injectable for tests and snapshots."""

    def __init__(self, huey: QueueCore, clock: Callable[[], float] = time.time) -> None:
        self.huey = huey
        self.clock = clock

    @property
    def storage(self) -> Storage:
        """The queue's store (read, never written, through this class)."""
        return self.huey.storage

    def describe(self) -> str:
        """The store this queue lives on, password masked (``redis://:***@host:6379/0``)."""
        return str(self.storage.describe())

    def check_format(self) -> None:
        """Refuse (ConfigurationError, one line) a queue in a layout this release does
        not read: a newer release's, or an earlier one's (``hueyctl migrate``). Reads
        only; a store that fails to answer is not refused here (its next read says why)."""
        try:
            self.storage.check_format(write=False)
        except (StoreUnavailable, StoreError):
            pass

    def close(self) -> None:
        """Close the store's connections: a read stuck on a hung store returns at once."""
        self.storage.close()

    # --- summary -----------------------------------------------------------------
    def overview(self, minutes: int = 60) -> Overview:
        """The queue at a glance, with the throughput of the last minutes minutes."""
        now = self.clock()
        counts = self.storage.counts()
        live = [c for c, until in self.storage.consumers(now).items() if until >= now]
        started = min(counts.running, len(self._started()))
        return Overview(
            self.huey.name,
            self.storage.describe(),
            counts.ready,
            counts.scheduled,
            counts.running,
            counts.dead,
            len(live),
            now,
            tuple(self.throughput(minutes)),
            started,
            counts.running - started,
        )

    def _started(self) -> dict[str, float]:
        """Task id -> start time of every task a worker reports running (the registry
        written each heartbeat): what the store's running set holds beyond these was
        claimed ahead and not started yet, or started less than a heartbeat ago."""
        return {t["id"]: t["started"] for r in self._registry() for t in r.get("running", ())}

    def _registry(self) -> list[RegistryRecord]:
        """Every consumer's registry record, decoded (one read of the workers map)."""
        return [json.loads(data) for data in self.storage.map_items(WORKERS).values()]

    def throughput(self, minutes: int = 60, task: str | None = None) -> list[Minute]:
        """One row per minute for the last ``minutes`` minutes (oldest first)."""
        now_minute = int(self.clock() // 60) * 60
        first = now_minute - (minutes - 1) * 60
        sums: dict[int, list[float]] = {
            m: [0, 0, 0.0, 0.0] for m in range(first, now_minute + 60, 60)
        }
        for row in self.storage.read_stats(first):
            if row.minute in sums and (task is None or row.task == task):
                _add(sums[row.minute], row)
        return [Minute(m, int(c), int(f), t, mx) for m, (c, f, t, mx) in sorted(sums.items())]

    def task_stats(self, minutes: int = 60) -> list[TaskStats]:
        """Per task name, over the last minutes minutes: runs, failures, average and
        max runtime, sorted by name. Consumers keep the counters for two hours.
        """
        first = int(self.clock() // 60) * 60 - (minutes - 1) * 60
        acc: dict[str, list[float]] = {}
        for row in self.storage.read_stats(first):
            _add(acc.setdefault(row.task, [0, 0, 0.0, 0.0]), row)
        return [
            TaskStats(name, int(c), int(f), (t / c) if c else 0.0, mx)
            for name, (c, f, t, mx) in sorted(acc.items())
        ]

    # --- tasks --------------------------------------------------------------------------
    def _mark_revoked(self, items: list[TaskInfo]) -> list[TaskInfo]:
        if not items:
            return items
        index = RevocationIndex(self.revocations())
        return [_replace(i, revoked=True) if index.of(i.id, i.name) else i for i in items]

    def _page(self, state: str, offset: int, limit: int) -> list[TaskInfo]:
        """One unfiltered page of the ready, scheduled or dead tasks, in listing order."""
        if state == "ready":
            return [_info(m.id, m.data, "ready") for m in self.storage.ready_items(offset, limit)]
        if state == "scheduled":
            items = self.storage.scheduled_items(offset, limit)
            return [_info(m.id, m.data, "scheduled", eta=eta) for m, eta in items]
        return [
            _info(d.id, d.data, "dead", reason=d.reason, error=d.error, failed_at=d.failed_at)
            for d in self.storage.dead_items(offset, limit)
        ]

    def _listing(
        self, state: str, offset: int, limit: int, task: str | None, id_prefix: str | None
    ) -> list[TaskInfo]:
        if task is None and id_prefix is None:
            return self._mark_revoked(self._page(state, offset, limit))
        found = scan(
            lambda o, n: self._page(state, o, n),
            lambda info: _matches(info, task, id_prefix),
            offset=offset,
            limit=limit,
        )
        return self._mark_revoked(found.items)

    def tasks(
        self,
        state: str,
        offset: int = 0,
        limit: int = 50,
        task: str | None = None,
        id_prefix: str | None = None,
    ) -> list[TaskInfo]:
        """A page of the tasks in ``state`` by the engine's state word: ``ready``
        (pending()), ``scheduled`` (scheduled()), ``running`` (running(), paged
        here) or ``dead`` (failed()); offset, limit, task and id_prefix as in
        pending()."""
        if state == "running":
            return self.running(task, id_prefix)[offset : offset + limit]
        if state not in ("ready", "scheduled", "dead"):
            raise ValueError(f"unknown state {state!r}: ready, scheduled, running or dead")
        return self._listing(state, offset, limit, task, id_prefix)

    def iter_tasks(
        self,
        state: str,
        offset: int = 0,
        task: str | None = None,
        id_prefix: str | None = None,
        page: int = PAGE,
    ) -> Iterator[TaskInfo]:
        """Every task in ``state`` (as :meth:`tasks`), page by page with bounded
        memory: for ``--json``/``--jsonl`` listings of any size. Reading while
        workers claim or tasks fail shifts later pages; a task seen on an earlier
        page is never yielded twice (the ids yielded so far are remembered)."""
        if state == "running":
            yield from self.running(task, id_prefix)[offset:]
            return
        if state not in ("ready", "scheduled", "dead"):
            raise ValueError(f"unknown state {state!r}: ready, scheduled, running or dead")
        index = RevocationIndex(self.revocations())
        seen: set[str] = set()
        skipped = start = 0
        while True:
            batch = self._page(state, start, page)
            start += page
            for info in batch:
                if info.id in seen or not _matches(info, task, id_prefix):
                    continue
                seen.add(info.id)
                if skipped < offset:
                    skipped += 1
                    continue
                yield _replace(info, revoked=True) if index.of(info.id, info.name) else info
            if len(batch) < page:
                return

    def pending(
        self,
        offset: int = 0,
        limit: int = 50,
        task: str | None = None,
        id_prefix: str | None = None,
    ) -> list[TaskInfo]:
        """A page of ready tasks in the order they will be claimed.

        offset and limit select the page. task keeps only that task name (its full
        name, or the part after the last dot); id_prefix keeps ids that start with
        it. Filtering pages through the queue, so it never loads it whole.
        """
        return self._listing("ready", offset, limit, task, id_prefix)

    def scheduled(
        self,
        offset: int = 0,
        limit: int = 50,
        task: str | None = None,
        id_prefix: str | None = None,
    ) -> list[TaskInfo]:
        """A page of scheduled tasks by eta; offset, limit, task and id_prefix as in
        pending().
        """
        return self._listing("scheduled", offset, limit, task, id_prefix)

    def running(self, task: str | None = None, id_prefix: str | None = None) -> list[TaskInfo]:
        """Every running task (not paged); task and id_prefix filter as in pending().
        started_at is set for those their worker reports started; the rest are
        claimed_ahead (a task started less than a heartbeat ago reads so too)."""
        started = self._started()
        lapsed = self._lapsed()
        items = [
            _info(
                r.id,
                r.data,
                "running",
                worker=r.consumer,
                deliveries=r.deliveries,
                claimed_at=r.claimed_at,
                started_at=started.get(r.id),
                claimed_ahead=r.id not in started,
                orphaned=r.consumer in lapsed,
            )
            for r in self.storage.running_items()
        ]
        return self._mark_revoked([i for i in items if _matches(i, task, id_prefix)])

    def failed(
        self,
        offset: int = 0,
        limit: int = 50,
        task: str | None = None,
        id_prefix: str | None = None,
    ) -> list[TaskInfo]:
        """A page of dead letters, newest first, with the reason and error; offset,
        limit, task and id_prefix as in pending().
        """
        return self._listing("dead", offset, limit, task, id_prefix)

    def pauses(self) -> list[Pause]:
        """The queue's pause and its paused task names (``engine.steering``)."""
        return steering.pauses(self.huey, self.clock())

    def paused(self) -> bool:
        """Whether the whole queue is paused now (a pause in force; one read). A paused
        task name does not count: the queue's other tasks run."""
        return pause_in_force(self.storage.map_get(PAUSES, QUEUE_PAUSED), self.clock())

    def task(self, task_id: str) -> TaskInfo | None:
        """Everything known about one task, wherever it is now."""
        loc = self.storage.locate(task_id)
        if loc is None:
            return None
        when: dict[str, dict[str, Any]] = {
            "scheduled": {"eta": loc.eta},
            "running": {"claimed_at": loc.since},
            "dead": {"failed_at": loc.since},
        }
        if loc.state == "running":
            at = self._started().get(task_id)
            orphaned = loc.consumer in self._lapsed()
            when["running"].update(started_at=at, claimed_ahead=at is None, orphaned=orphaned)
        info = _info(
            loc.id,
            loc.data,
            loc.state,
            **when.get(loc.state, {}),
            worker=loc.consumer,
            deliveries=loc.deliveries,
            reason=loc.reason,
            error=loc.error,
        )
        return self._mark_revoked([info])[0]

    def _lapsed(self) -> set[str]:
        """The consumers whose lease has lapsed (their tasks wait for a sweep)."""
        now = self.clock()
        return {c for c, until in self.storage.consumers(now).items() if until < now}

    def finished(self, task_id: str) -> TaskInfo | None:
        """A task that finished, from the store's finished records (the newest
        ``FINISHED_CAP``); None when there is none or it has expired with the results."""
        data = self.storage.finished(task_id)
        return None if data is None else finished_info(task_id, data, self.clock())

    def find(self, id_prefix: str) -> list[str]:
        """Ids starting with ``id_prefix`` in any state (pages through the queues), and
        of a queued, scheduled, running, dead or finished task ending with it when it
        is 4 to 12 hex digits (a short id)."""
        found = {i.id for i in self.running(id_prefix=id_prefix)}
        if _SHORT_ID.fullmatch(id_prefix):
            # A short id: the end of the id's random part (see docs/operating.md).
            found.update(self.storage.ids_ending(id_prefix.lower()))
        for fetch in (self.pending, self.scheduled, self.failed):
            found.update(i.id for i in fetch(0, 20, None, id_prefix))
        found.update(key[len(RESULT) :] for key in self.storage.keys(result_key(id_prefix)))
        return sorted(found)

    # --- results ------------------------------------------------------------------------
    def result(self, task_id: str) -> ResultInfo | None:
        """The stored result of a task, without removing it; None when there is none."""
        data = self.storage.peek(result_key(task_id))
        return None if data is None else self._result(task_id, data)

    def _result(self, task_id: str, data: bytes) -> ResultInfo:
        try:
            rec = json.loads(data)
        except ValueError:
            return ResultInfo(task_id, False, None, "unreadable result")
        if "error" in rec:
            err = rec["error"] if isinstance(rec["error"], dict) else {"error": str(rec["error"])}
            return ResultInfo(task_id, False, None, err.get("error"), err.get("traceback"))
        return ResultInfo(task_id, True, rec.get("value"))

    def results(self, offset: int = 0, limit: int = 100) -> list[ResultInfo]:
        """A page of stored results (offset, limit), without removing any."""
        keys = self.storage.keys(RESULT)[offset : offset + limit]
        out = []
        for key in keys:
            data = self.storage.peek(key)
            if data is not None:
                out.append(self._result(key[len(RESULT) :], data))
        return out

    def iter_results(self, offset: int = 0, page: int = PAGE) -> Iterator[ResultInfo]:
        """Every stored result from ``offset`` on, read page by page (the key list
        once, the values a page at a time)."""
        keys = self.storage.keys(RESULT)[offset:]
        for start in range(0, len(keys), page):
            for key in keys[start : start + page]:
                data = self.storage.peek(key)
                if data is not None:
                    yield self._result(key[len(RESULT) :], data)

    # --- workers, periodic tasks, revocations, events ----------------------------------
    def workers(self) -> list[WorkerInfo]:
        """Every consumer in the registry, sorted by host, start time and id, including
        those whose lease has lapsed and that no live consumer has pruned yet.
        """
        now = self.clock()
        leases = self.storage.consumers(now)
        held: dict[str, set[str]] = {}
        for item in self.storage.running_items():
            held.setdefault(item.consumer, set()).add(item.id)
        out = []
        for r in self._registry():
            until = leases.get(r["id"])
            reported = {t["id"] for t in r["running"]}
            out.append(
                WorkerInfo(
                    r["id"],
                    r["host"],
                    int(r["pid"]),
                    r.get("version", "?"),
                    r["started"],
                    r["heartbeat"],
                    int(r["concurrency"]),
                    r.get("worker_type", "thread"),
                    tuple(RunningTask(t["id"], t["task"], t["started"]) for t in r["running"]),
                    int(r["processed"]),
                    int(r["failed"]),
                    until,
                    until is not None and until >= now,
                    r.get("store_state", "ok"),
                    r.get("store", {}).get("persistent"),
                    len(held.get(r["id"], set()) - reported),
                )
            )
        return sorted(out, key=lambda w: (w.host, w.started, w.id))

    def periodic(self) -> list[PeriodicInfo]:
        """Periodic tasks: from the application when loaded, else as workers published them."""
        specs: dict[str, tuple[str, bool]] = {}
        for name, data in self.storage.map_items(PERIODIC).items():
            rec: PeriodicRecord = json.loads(data)
            specs[name] = (rec["crontab"], bool(rec.get("utc", True)))
        for task in self.huey.periodic_specs():
            spec = getattr(task.periodic, "spec", None) or repr(task.periodic)
            specs[task.name] = (spec, self.huey.utc)
        index = RevocationIndex(self.revocations())
        return [
            self._periodic(name, spec, utc, index.by_name.get(name))
            for name, (spec, utc) in sorted(specs.items())
        ]

    def _periodic(self, name: str, spec: str, utc: bool, rev: Revocation | None) -> PeriodicInfo:
        now = self.clock()
        try:
            first = _next_slot(spec, utc, now)
            slot: float | None = first
            nxt = _next_run(spec, utc, first, rev)
        except Exception:
            slot = nxt = None
        last = self.storage.map_get(PERIODIC_RUNS, name)
        return PeriodicInfo(
            name,
            spec,
            utc,
            nxt,
            float(last) if last else None,
            rev is not None,
            rev.until if rev else None,
            rev.once if rev else False,
            slot,
        )

    def queues(self, budget: int = SCAN_BUDGET) -> tuple[list[str], bool] | None:
        """The queue names the store holds and whether that list is complete (a big
        Redis is scanned only so far, ``budget`` keys); None when the store cannot say."""
        return queue_names(self.storage, budget)

    def seen_queue(self) -> tuple[list[str], bool] | None:
        """:meth:`queues` for "has the store seen this queue?": one read of the names
        workers and producers announced, the scan only when this one is not among them."""
        return knows_queue(self.storage, self.huey.name)

    def queue_infos(self, budget: int = SCAN_BUDGET) -> tuple[list[QueueInfo], bool]:
        """Every queue of the store (this one included, even if never seen) with its
        counts, live workers and the age of the task next in line; and whether the list
        of names is complete. A queue whose keys cannot be read (another queue's ACL
        user) has ``error`` set and no counts."""
        found = self.queues(budget)
        names, complete = found if found is not None else ([], False)
        out = []
        for name in sorted({*names, self.huey.name}):
            if name == self.huey.name:
                out.append(queue_info(name, self.storage, self.clock()))
                continue
            storage = self.huey.storage_for(name)
            try:
                out.append(queue_info(name, storage, self.clock()))
            finally:
                storage.close()
        return out, complete

    # --- the task catalog (engine.inventory) ----------------------------------------
    def published_names(self) -> set[str]:
        """Task names the registered workers publish (their catalogs)."""
        return {
            n for _, book in read_catalogs(self.storage, self._registry()) for n in book["tasks"]
        }

    def signature(self, name: str) -> inspect.Signature | None:
        """The parameters a call of ``name`` must fit: the loaded application's function,
        else a registered worker's published signature; None when neither is known."""
        spec = self.huey.spec(name)
        books = [] if spec is not None else read_catalogs(self.storage, self._registry())
        return signature_of(spec, books, name)

    def check_call(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str | None:
        """Why a call of ``name`` with these arguments would fail to bind, naming the
        signature (``tasks.add(a, b): missing a required argument: 'b'``); None when it
        fits or no signature is known."""
        sig = self.signature(name)
        problem = None if sig is None else task_catalog.check_call(sig, args, kwargs)
        return None if problem is None else f"{name}{sig}: {problem}"

    def catalog(self, budget: int = 10_000) -> list[TaskEntry]:
        """Every task the registered workers serve and the loaded application registers,
        by name, with the workers serving it and its counts (``budget``: tasks read per
        state at most to count them)."""
        now = self.clock()
        books = read_catalogs(self.storage, self._registry())
        counts, complete = self._counts_by_task(budget)
        runs = {s.task: (s.count, s.failures) for s in self.task_stats(60)}
        leases = self.storage.consumers(now)
        return entries(books, leases, now, self.huey.registry.values(), counts, complete, runs)

    def _counts_by_task(self, budget: int) -> tuple[dict[str, tuple[int, int, int, int]], bool]:
        """Per task name: ready, scheduled, running and dead calls, each state read up to
        ``budget`` tasks; and whether every state was read whole."""
        acc: dict[str, list[int]] = {}
        complete = True
        for n, state in enumerate(("ready", "scheduled", "running", "dead")):
            if state == "running":
                items: Iterable[TaskInfo] = self.running()
            else:
                found = scan(functools.partial(self._page, state), _every, budget=budget)
                complete = complete and found.complete
                items = found.items
            for info in items:
                acc.setdefault(info.name, [0, 0, 0, 0])[n] += 1
        return {k: (v[0], v[1], v[2], v[3]) for k, v in acc.items()}, complete

    def locks(self) -> list[str]:
        """Names of the task locks held now."""
        return [key[len(LOCK) :] for key in self.storage.keys(LOCK)]

    def revocations(self) -> list[Revocation]:
        """The revocations in force now: task revocations first, then by target."""
        out = []
        for key, rec in self.huey.revocations.listing(self.clock()):
            kind, _, target = key.partition(":")
            out.append(Revocation(target, kind, rec.get("until"), bool(rec.get("once"))))
        return sorted(out, key=lambda r: (r.kind != "task", r.target))

    def events(self, after: str | None = None, limit: int = 100) -> list[Event]:
        """Events, oldest first: the latest limit of them, or with after (an Event.id)
        at most limit of those written after it. Unreadable entries are skipped.
        """
        out = []
        for eid, data in self.storage.read_events(after, limit):
            try:
                e: EventRecord = json.loads(data)
                out.append(
                    Event(
                        eid,
                        e["ts"],
                        e["event"],
                        e["id"],
                        e["task"],
                        e["worker"],
                        e.get("error"),
                        e.get("runtime"),
                        e.get("actor"),
                        e.get("target"),
                        e.get("count"),
                        e.get("detail"),
                    )
                )
            except (ValueError, KeyError):
                continue
        return out

    # --- for scrapers (hueyctl metrics, ping): a few reads whatever the queue's size ----
    def live_workers(self) -> int:
        """How many consumers hold a live lease on this queue now (one read)."""
        now = self.clock()
        return sum(1 for until in self.storage.consumers(now).values() if until >= now)

    def head_wait(self) -> float | None:
        """Seconds the task at the head of the ready queue (the next to be claimed) has
        waited: since its eta when it was scheduled, else since it was enqueued. None
        when nothing is ready or its envelope does not say. With priorities the head is
        the oldest task of the highest priority waiting, not the oldest of all."""
        head = self._page("ready", 0, 1)
        if not head:
            return None
        since = max(head[0].enqueued_at or 0.0, head[0].eta or 0.0)
        return max(0.0, self.clock() - since) if since else None

    def task_minutes(self, since_minute: int) -> dict[str, list[Minute]]:
        """The per-minute counters consumers keep (two hours), per task name, from
        ``since_minute`` (epoch seconds, a multiple of 60) to now, oldest first: one
        read per minute, whatever the traffic."""
        out: dict[str, list[Minute]] = {}
        for row in self.storage.read_stats(since_minute):
            out.setdefault(row.task, []).append(
                Minute(row.minute, row.count, row.failures, row.total, row.max)
            )
        return out


def finished_info(task_id: str, data: bytes, now: float) -> TaskInfo | None:
    """A finished record (head, newline, message or nothing) as a TaskInfo; None when
    its head says it expired (it lives as long as the results would). Never raises."""
    head, _, body = data.partition(b"\n")
    try:
        rec = json.loads(head)
    except ValueError:
        rec = None
    if not isinstance(rec, dict):
        return TaskInfo(task_id, UNREADABLE + "finished record", "finished", None, None)
    expires = rec.get("expires")
    if isinstance(expires, (int, float)) and expires < now:
        return None
    number = (int, float)
    at = rec.get("at") if isinstance(rec.get("at"), number) else None
    runtime = rec.get("runtime") if isinstance(rec.get("runtime"), number) else None
    started = rec.get("started") if isinstance(rec.get("started"), number) else None
    if started is None and at is not None and runtime is not None:
        started = at - runtime  # the worker's hot path leaves it out
    last = {k: rec.get(k) for k in ("worker", "error")}
    last["n"], last["at"], last["took"] = rec.get("attempt") or 1, started, runtime
    history = tuple(h for h in rec.get("history") or () if isinstance(h, dict))
    extra: dict[str, Any] = {
        "finished_at": at,
        "started_at": started,
        "runtime": runtime,
        "worker": rec.get("worker") if isinstance(rec.get("worker"), str) else None,
        "outcome": str(rec.get("state") or "complete"),
        "error": rec.get("error") if isinstance(rec.get("error"), str) else None,
        "attempts": (*history, last),
    }
    if body:
        info = _info(task_id, body, "finished", **extra)
        return replace(info, attempt=int(rec.get("attempt") or info.attempt))
    name = rec.get("task")
    return TaskInfo(
        task_id, name if isinstance(name, str) else "?", "finished", None, None, **extra
    )


def _next_slot(spec: str, utc: bool, after: float) -> float:
    """The first slot of crontab ``spec`` strictly after epoch ``after``."""
    return from_clock_time(parse_spec(spec).next_after(clock_time(after, utc)), utc)


def _next_run(spec: str, utc: bool, slot: float, rev: Revocation | None) -> float | None:
    """The next slot that will run, honouring the task's revocation: a window skips
    every slot before its end (no end: None), a once-skip the next slot (if it
    comes before the once-skip's ``until``)."""
    if rev is None:
        return slot
    if not rev.once:
        if rev.until is None:
            return None
        return max(slot, _next_slot(spec, utc, rev.until - 0.001))
    if rev.until is None or slot < rev.until:
        return _next_slot(spec, utc, slot)
    return slot


def _every(info: TaskInfo) -> bool:
    return True


def _replace(info: TaskInfo, **changes: Any) -> TaskInfo:
    return replace(info, **changes)
