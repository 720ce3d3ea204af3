"""The read model of what exists in a store: the tasks workers serve (their published
catalogs, ``hueyctl tasks``) and the store's queues (``hueyctl queues``).

Read-model floor, beside ``engine.inspect``: :class:`~engine.inspect.Inspector`'s
``catalog()``, ``signature()``, ``check_call()`` and ``queue_infos()`` are built from
these rows and functions, which read the store by the names and record schemas of
``engine.keys`` and ``engine.catalog``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import catalog as task_catalog
from .envelope import readable
from .exceptions import ConfigurationError, StoreError
from .keys import CATALOG, CatalogRecord, RegistryRecord, TaskRecord
from .storage.base import Storage
from .task import TaskSpec

__all__ = [
    "Param",
    "QueueInfo",
    "TaskEntry",
    "entries",
    "queue_info",
    "read_catalogs",
    "signature_of",
]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a task's function: name, kind (``positional_or_keyword``,
    ``positional_only``, ``var_positional``, ``keyword_only``, ``var_keyword``) and the
    repr of its default (None: no default)."""

    name: str
    kind: str
    default: str | None = None


@dataclass(frozen=True, slots=True)
class TaskEntry:
    """A registered task, as workers publish it (their catalog) and the application
    registers it (with --app): its name; the live workers that serve it (workers)
    and those registered whose lease lapsed (stale); in_app, whether the loaded
    application registers it; periodic, its crontab (None: not periodic);
    signature, e.g. ``(a, b=1)`` (None: not known) and params, the same as
    :class:`Param` rows; the options calls start from (retries, retry_delay,
    priority, timeout); how many of its calls are pending, scheduled, running and
    failed (dead letters) now, counted over at most a budget of tasks per state
    (counts_complete False: the queue is longer, the counts are lower bounds); and
    runs and failures over the last hour (the per-minute counters)."""

    name: str
    workers: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    in_app: bool = False
    periodic: str | None = None
    signature: str | None = None
    params: tuple[Param, ...] | None = None
    retries: int = 0
    retry_delay: float = 0.0
    priority: int = 0
    timeout: float | None = None
    pending: int = 0
    scheduled: int = 0
    running: int = 0
    failed: int = 0
    counts_complete: bool = True
    runs: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """One queue of the store: its name; how many tasks are ready, scheduled, running
    and dead; its live workers; the age in seconds of its oldest ready task (None: none
    is ready, or it could not be told); and, when its keys could not be read (an ACL
    user of another queue), why (error). Times are epoch seconds."""

    name: str
    ready: int | None = None
    scheduled: int | None = None
    running: int | None = None
    dead: int | None = None
    workers: int | None = None
    oldest_ready: float | None = None  # age, seconds
    error: str | None = None


def read_catalogs(
    storage: Storage, records: Iterable[RegistryRecord]
) -> list[tuple[RegistryRecord, CatalogRecord]]:
    """Each registered consumer's record with the catalog it names (one read of the
    ``catalog`` map); consumers whose catalog is missing or unreadable are left out."""
    books: dict[str, CatalogRecord] = {}
    for digest, data in storage.map_items(CATALOG).items():
        book = task_catalog.decode(data)
        if book is not None:
            books[digest] = book
    out = []
    for rec in records:
        book = books.get(str(rec.get("catalog", "")))
        if book is not None:
            out.append((rec, book))
    return out


def signature_of(
    spec: TaskSpec | None, catalogs: Iterable[tuple[RegistryRecord, CatalogRecord]], name: str
) -> inspect.Signature | None:
    """The parameters a call of ``name`` must fit: the application's function (``spec``),
    else the first published signature; None when neither is known."""
    if spec is not None:
        params = task_catalog.params_of(spec.func, spec.context)
        return None if params is None else task_catalog.signature(params)
    for _, book in catalogs:
        rec = book["tasks"].get(name)
        if rec is not None and isinstance(rec.get("params"), list):
            return task_catalog.signature(rec["params"])
    return None


def entries(
    catalogs: Iterable[tuple[RegistryRecord, CatalogRecord]],
    leases: Mapping[str, float],
    now: float,
    specs: Iterable[TaskSpec],
    counts: Mapping[str, tuple[int, int, int, int]],
    complete: bool,
    runs: Mapping[str, tuple[int, int]],
) -> list[TaskEntry]:
    """One :class:`TaskEntry` per task name the catalogs publish and ``specs`` (the loaded
    application) register, sorted by name: a consumer is live while its lease (in
    ``leases``) holds at ``now``; ``counts`` are (ready, scheduled, running, dead) calls
    per name, ``runs`` (runs, failures) over the last hour."""
    rows: dict[str, dict[str, Any]] = {}
    for rec, book in catalogs:
        until = leases.get(rec["id"])
        live = until is not None and until >= now
        for name, task in book["tasks"].items():
            row = rows.setdefault(name, _entry(name, task))
            row["workers" if live else "stale"].append(rec["id"])
    for spec in specs:  # the application's own, when loaded
        fresh = _entry(spec.name, task_catalog.build([spec])["tasks"][spec.name])
        if spec.name in rows:
            fresh["workers"], fresh["stale"] = (rows[spec.name][k] for k in ("workers", "stale"))
        rows[spec.name] = dict(fresh, in_app=True)
    out = []
    for name, row in sorted(rows.items()):
        pending, scheduled, running, failed = counts.get(name, (0, 0, 0, 0))
        done, failures = runs.get(name, (0, 0))
        out.append(
            TaskEntry(
                **{k: _tupled(k, v) for k, v in row.items()},
                pending=pending,
                scheduled=scheduled,
                running=running,
                failed=failed,
                counts_complete=complete,
                runs=done,
                failures=failures,
            )
        )
    return out


def queue_info(name: str, storage: Storage, now: float) -> QueueInfo:
    """One queue's row: counts, live workers, and how long the task next in line has
    waited (its envelope's ``enqueued_at``); ``error`` when its keys cannot be read,
    or are in a layout this release does not read (``hueyctl migrate``)."""
    try:
        storage.check_format(write=False)
        counts = storage.counts()
        live = sum(1 for until in storage.consumers(now).values() if until >= now)
        head = storage.ready_items(0, 1)
    except (StoreError, ConfigurationError) as exc:  # e.g. an ACL for another queue only
        return QueueInfo(name, error=str(exc).splitlines()[0][:200])
    oldest = None
    if head:
        try:
            at = readable(head[0].data, head[0].id).get("enqueued_at")
        except Exception:  # noqa: BLE001 - an unreadable head tells no age
            at = None
        if isinstance(at, (int, float)) and not isinstance(at, bool):
            oldest = max(0.0, now - at)
    return QueueInfo(
        name, counts.ready, counts.scheduled, counts.running, counts.dead, live, oldest
    )


def _tupled(key: str, value: Any) -> Any:
    return tuple(sorted(value)) if key in ("workers", "stale") else value


def _number(value: Any, kind: Callable[[Any], Any], default: Any) -> Any:
    """A published number, or ``default`` when it is missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return kind(value)


def _entry(name: str, task: TaskRecord) -> dict[str, Any]:
    """The fields of a :class:`TaskEntry` a published task record gives."""
    params = task.get("params")
    return {
        "name": name,
        "workers": [],
        "stale": [],
        "in_app": False,
        "periodic": str(task["periodic"]) if task.get("periodic") else None,
        "signature": None if params is None else task_catalog.describe(params),
        "params": None
        if params is None
        else tuple(Param(str(p["name"]), str(p["kind"]), p.get("default")) for p in params),
        "retries": _number(task.get("retries"), int, 0),
        "retry_delay": _number(task.get("retry_delay"), float, 0.0),
        "priority": _number(task.get("priority"), int, 0),
        "timeout": _number(task.get("timeout"), float, None),
    }
