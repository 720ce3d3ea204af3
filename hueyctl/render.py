"""How the admin commands print: JSON for scripts, tables for people.

* ``--json``: one JSON document (an array for listings); ``--jsonl``: one object
  per line. Objects are the ``engine.inspect`` dataclasses as dicts (field names
  unchanged, times as epoch floats), so the shape only changes with the read model.
* Otherwise a table: drawn with rich when stdout is a terminal, plain text with
  aligned columns when it is not (pipes, files, ``grep``, ``awk``).
* The columns of each listing are defined once (:data:`LISTINGS`), for these
  tables and for ``top``'s tabs alike; their text comes from ``present``.

Data goes to stdout; messages (:func:`note`) go to stderr. rich is imported only
when a terminal is there to draw on, so scripted calls start fast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from . import present

if TYPE_CHECKING:
    from engine.inspect import PeriodicInfo, TaskStats, WorkerInfo
    from engine.inventory import QueueInfo, TaskEntry

TEXT, JSON, JSONL = "text", "json", "jsonl"


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def stdin_is_tty() -> bool:
    """Whether a question can be answered (a bulk action asks only a terminal)."""
    return sys.stdin.isatty()


def note(message: str) -> None:
    """A message for the person at the terminal (stderr; never part of the data)."""
    click.echo(message, err=True)


# --- values --------------------------------------------------------------------------
_SCALARS = frozenset({str, int, float, bool, type(None)})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def record(obj: Any, drop: Collection[str] = ()) -> Any:
    """A dataclass (or a list / dict of them) as JSON-ready data."""
    # Listings stream hundreds of thousands of rows through here: plain values (most
    # of a row) return at once, and a dataclass's field names are looked up once.
    cls = type(obj)
    if cls in _SCALARS:
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for name in _field_names(cls):
            if name not in drop:  # (a listing drops the envelope: not converted first)
                v = getattr(obj, name)
                out[name] = v if type(v) in _SCALARS else record(v)
        return out
    if isinstance(obj, dict):
        return {str(k): v if type(v) in _SCALARS else record(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [v if type(v) in _SCALARS else record(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    return repr(obj)


def _json(data: Any, indent: int | None = None) -> str:
    """``data`` already JSON-ready (:func:`record`) as JSON text."""
    return json.dumps(data, default=_default, ensure_ascii=False, indent=indent)


def dumps(obj: Any, indent: int | None = None) -> str:
    return _json(record(obj), indent)


def emit_json(data: Any, fmt: str) -> None:
    """``data``: a list (a listing) or one object (status, show)."""
    if fmt == JSONL:
        for item in data if isinstance(data, list) else [data]:
            click.echo(dumps(item))
    else:
        click.echo(dumps(data, indent=2 if stdout_is_tty() else None))


def stream_json(items: Iterable[Any], fmt: str, drop: Iterable[str] = ()) -> int:
    """A listing of any length as JSON, written as it is read (memory stays bounded):
    ``--jsonl`` one object per line, ``--json`` one array. Returns the row count.

    Rows go to stdout's buffer, not through ``click.echo`` (a flush and an escape
    check per row, a third of the time of a 200,000-row listing); JSON text holds no
    raw escape sequences, and the CLI flushes stdout when the command ends."""
    drop = tuple(drop)
    out = sys.stdout
    n = 0
    if fmt == JSONL:
        for item in items:
            out.write(_json(record(item, drop)) + "\n")
            n += 1
        out.flush()
        return n
    indent = 2 if stdout_is_tty() else None
    sep = ",\n" if indent else ", "
    rows = iter(items)
    first = next(rows, None)  # read before writing: a store error leaves stdout empty
    out.write("[\n" if indent and first is not None else "[")
    for item in itertools.chain([] if first is None else [first], rows):
        text = _json(record(item, drop), indent=indent)
        if indent:
            text = "\n".join("  " + line for line in text.splitlines())
        out.write((sep if n else "") + text)
        n += 1
    out.write("\n]\n" if indent and n else "]\n")
    out.flush()
    return n


def value(v: Any) -> str:
    """A JSON value as it would be typed on the command line (results, ``--wait``)."""
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v, default=_default, ensure_ascii=False, separators=(", ", ": "))


# --- tables -------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column of a listing: its header and how a row's cell is written. ``top``
    draws the same columns (lower-case headers, ``style`` applied)."""

    header: str
    get: Callable[[Any], Any]
    width: int | None = None  # cut longer cells (tables only; JSON is never cut)
    right: bool = False
    wrap: bool = True  # False: an id, never cut (a task id shortens whole; see fit)
    style: str | Callable[[Any], str] = ""  # rich style in ``top``; a function of the row

    @property
    def key(self) -> str:
        return self.header.lower()

    def text(self, row: Any) -> str:
        """The cell as text: ``-`` when empty, cut to ``width``."""
        v = self.get(row)
        text = "-" if v is None or v == "" else str(v)
        return present.clip(text, self.width) if self.width else text

    def style_of(self, row: Any) -> str:
        return self.style(row) if callable(self.style) else self.style


# --- the listings: one definition for `hueyctl pending ...` and `top`'s tabs ----------
TASK_LISTINGS = ("pending", "scheduled", "running", "failed")
STALE_AFTER = 10.0  # seconds without a heartbeat before a worker is flagged STALE


def task_columns(listing: str, now: float, tz: dt.tzinfo | None = None) -> tuple[Column, ...]:
    """The columns of a task listing (``pending``, ``scheduled``, ``running``,
    ``failed``) as functions of ``TaskInfo``, relative times counted from ``now``."""

    def ago(ts: float | None) -> str:
        return present.ago(ts, now)

    task_id = Column("ID", lambda i: i.id, wrap=False)
    task = Column("TASK", lambda i: i.name, style="bold")
    args = Column("ARGS", lambda i: present.call_args(i.args, i.kwargs), width=60)
    revoked = Column("REVOKED", lambda i: "revoked" if i.revoked else "", style="magenta")
    priority = Column("PRIORITY", lambda i: i.priority, right=True)
    attempt = Column("ATTEMPT", lambda i: i.attempt, right=True)
    columns = {
        "pending": (
            task_id,
            task,
            priority,
            Column("ENQUEUED", lambda i: ago(i.enqueued_at), right=True),
            attempt,
            revoked,
            args,
        ),
        "scheduled": (
            task_id,
            task,
            Column("ETA", lambda i: present.clock(i.eta, now, tz), right=True),
            Column("DUE", lambda i: ago(i.eta), right=True, style="cyan"),
            priority,
            attempt,
            revoked,
            args,
        ),
        "running": (
            task_id,
            task,
            Column("WORKER", lambda i: i.worker),
            Column(
                "STARTED",
                lambda i: (
                    "orphaned"
                    if i.orphaned
                    else "claimed ahead"
                    if i.claimed_ahead
                    else ago(i.started_at)
                ),
                right=True,
                style=lambda i: "bold red" if i.orphaned else "dim" if i.claimed_ahead else "",
            ),
            Column("CLAIMED", lambda i: ago(i.claimed_at), right=True),
            Column(
                "DELIVERIES",
                lambda i: i.deliveries,
                right=True,
                style=lambda i: "bold yellow" if i.deliveries > 1 else "",
            ),
            revoked,
            args,
        ),
        "failed": (
            task_id,
            task,
            Column("FAILED", lambda i: ago(i.failed_at), right=True),
            Column("REASON", lambda i: i.reason, style="yellow"),
            attempt,
            Column("ERROR", lambda i: present.first_line(i.error), width=70, style="red"),
        ),
    }
    return columns[listing]


def worker_columns(now: float, tz: dt.tzinfo | None = None) -> tuple[Column, ...]:
    """The columns of ``workers`` (WorkerInfo rows)."""

    def stale(w: WorkerInfo) -> bool:
        return not w.alive or now - w.heartbeat > STALE_AFTER

    def busy(w: WorkerInfo) -> str:
        return f"{len(w.running)}/{w.concurrency}"

    return (
        Column("WORKER", lambda w: w.id, wrap=False, style="dim"),
        Column("HOST", lambda w: w.host, style="bold"),
        Column("PID", lambda w: w.pid, right=True),
        # A stale worker's uptime stops at its last heartbeat (it is not up any more).
        Column(
            "UPTIME",
            lambda w: present.duration((w.heartbeat if stale(w) else now) - w.started),
            right=True,
        ),
        Column("TYPE", lambda w: w.worker_type),
        Column(
            "BUSY",
            busy,
            right=True,
            style=lambda w: "yellow" if len(w.running) >= w.concurrency else "",
        ),
        Column(
            "AHEAD",
            lambda w: present.count(w.claimed_ahead),
            right=True,
            style=lambda w: "dim" if not w.claimed_ahead else "",
        ),
        Column("DONE", lambda w: present.count(w.processed), right=True),
        Column(
            "FAILED",
            lambda w: present.count(w.failed),
            right=True,
            style=lambda w: "red" if w.failed else "",
        ),
        Column(
            "HEARTBEAT",
            lambda w: present.ago(w.heartbeat, now),
            right=True,
            style=lambda w: "bold red" if stale(w) else "",
        ),
        Column(
            "STATE",
            lambda w: "STALE" if stale(w) else w.store_state,
            style=lambda w: (
                "bold white on red"
                if stale(w)
                else ("green" if w.store_state == "ok" else "bold yellow")
            ),
        ),
        Column("CURRENT", lambda w: ", ".join(sorted({t.name for t in w.running})), width=40),
    )


def periodic_columns(now: float, tz: dt.tzinfo | None = None) -> tuple[Column, ...]:
    """The columns of ``periodic`` (PeriodicInfo rows)."""

    def revoked(p: PeriodicInfo) -> str:
        if not p.revoked:
            return ""
        return present.periodic_revocation(p.revoked_until, p.revoke_once, p.next_slot, now, tz)

    def next_run(p: PeriodicInfo) -> str:
        if p.next_run is None and p.revoked:
            return "none (revoked)"
        return present.clock(p.next_run, now, tz)

    return (
        Column("TASK", lambda p: p.name, style="bold"),
        Column("CRONTAB", lambda p: p.crontab),
        Column("CLOCK", lambda p: "UTC" if p.utc else "local"),
        Column("NEXT RUN", next_run, right=True),
        Column("DUE", lambda p: present.ago(p.next_run, now), right=True, style="cyan"),
        Column("LAST RUN", lambda p: present.ago(p.last_run, now), right=True),
        Column("REVOKED", revoked, style="magenta"),
    )


def stats_columns(now: float, tz: dt.tzinfo | None = None) -> tuple[Column, ...]:
    """The columns of the per-task statistics (TaskStats rows): ``status``'s table and
    ``top``'s task table."""

    def fail_rate(s: TaskStats) -> str:
        return f"{100 * s.failures / s.count:.1f}" if s.count else ""

    return (
        Column("TASK", lambda s: s.task, style="bold"),
        Column("RUNS", lambda s: present.count(s.count), right=True),
        Column(
            "FAILURES",
            lambda s: present.count(s.failures),
            right=True,
            style=lambda s: "red" if s.failures else "",
        ),
        Column("FAIL %", fail_rate, right=True),
        Column("AVG", lambda s: present.runtime(s.avg), right=True),
        Column("MAX", lambda s: present.runtime(s.max), right=True),
    )


def catalog_columns(now: float, tz: dt.tzinfo | None = None) -> tuple[Column, ...]:
    """The columns of ``tasks`` (TaskEntry rows): what workers serve, and its calls."""

    def n(value: int, t: TaskEntry) -> str:
        return present.count(value) + ("" if t.counts_complete else "+")

    def served(t: TaskEntry) -> str:
        if t.workers:
            return present.count(len(t.workers))
        return "stale only" if t.stale else ("app only" if t.in_app else "none")

    return (
        Column("TASK", lambda t: t.name, wrap=False, style="bold"),
        Column("SIGNATURE", lambda t: t.signature or "?", width=40),
        Column("PERIODIC", lambda t: t.periodic or "", style="cyan"),
        Column(
            "WORKERS",
            served,
            right=True,
            style=lambda t: "" if t.workers else "bold yellow",
        ),
        Column("PENDING", lambda t: n(t.pending, t), right=True),
        Column("SCHEDULED", lambda t: n(t.scheduled, t), right=True),
        Column("RUNNING", lambda t: present.count(t.running), right=True),
        Column(
            "FAILED",
            lambda t: n(t.failed, t),
            right=True,
            style=lambda t: "red" if t.failed else "",
        ),
        Column("RUNS 1H", lambda t: present.count(t.runs), right=True),
    )


def queue_columns(now: float, tz: dt.tzinfo | None = None) -> tuple[Column, ...]:
    """The columns of ``queues`` (QueueInfo rows)."""

    def n(value: int | None) -> str:
        return "" if value is None else present.count(value)

    def oldest(q: QueueInfo) -> str:
        return "" if q.oldest_ready is None else present.duration(q.oldest_ready)

    return (
        Column("QUEUE", lambda q: q.name, wrap=False, style="bold"),
        Column(present.state_label("ready").upper(), lambda q: n(q.ready), right=True),
        Column("SCHEDULED", lambda q: n(q.scheduled), right=True),
        Column("RUNNING", lambda q: n(q.running), right=True),
        Column(
            present.state_label("dead").upper(),
            lambda q: n(q.dead),
            right=True,
            style=lambda q: "red" if q.dead else "",
        ),
        Column("WORKERS", lambda q: n(q.workers), right=True),
        Column("OLDEST", oldest, right=True, style="cyan"),
        Column("ERROR", lambda q: q.error or "", width=60, style="red"),
    )


@dataclass(frozen=True)
class ListingSpec:
    """One listing as both front ends show it: its columns (functions of a read-model
    row, relative times counted from ``now``) and what an empty one says."""

    name: str
    columns: Callable[[float, dt.tzinfo | None], tuple[Column, ...]]
    empty: str


def _task_spec(name: str, empty: str) -> ListingSpec:
    def columns(now: float, tz: dt.tzinfo | None) -> tuple[Column, ...]:
        return task_columns(name, now, tz)

    return ListingSpec(name, columns, empty)


LISTINGS: dict[str, ListingSpec] = {
    "pending": _task_spec("pending", "no pending tasks"),
    "scheduled": _task_spec("scheduled", "no scheduled tasks"),
    "running": _task_spec("running", "no running tasks"),
    "failed": _task_spec("failed", "no dead letters"),
    "workers": ListingSpec("workers", worker_columns, "no workers registered"),
    "periodic": ListingSpec(
        "periodic",
        periodic_columns,
        "no periodic tasks known (load the app with --app, or start a worker)",
    ),
    "stats": ListingSpec("stats", stats_columns, "no task ran in this window"),
    "tasks": ListingSpec(
        "tasks",
        catalog_columns,
        "no tasks known: no registered worker publishes any (start one, or give --app)",
    ),
    "queues": ListingSpec("queues", queue_columns, "the store holds no queue yet"),
}


def plain_table(columns: Sequence[Column], rows: Sequence[Any]) -> list[str]:
    cells = [[c.header for c in columns]] + [[c.text(r) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    out = []
    for line in cells:
        parts = [
            text.rjust(w) if col.right else text.ljust(w)
            for text, w, col in zip(line, widths, columns, strict=True)
        ]
        out.append("  ".join(parts).rstrip())
    return out


SHORT_ID = 8  # hex digits of a shortened task id (the end of its random part)
MIN_CUT = 16  # a cuttable column (args, errors) keeps at least this much on a terminal
IDS_SHORTENED = (
    "ids shortened to their last 8 digits, which every command accepts "
    "(a wider terminal, or a pipe, shows them whole)"
)


def _overhead(n: int) -> int:
    # rich's SIMPLE_HEAD box: an edge and a space on each side, three between columns.
    return 3 * n + 1


def fit(columns: Sequence[Column], cells: list[list[str]], width: int) -> tuple[list[int], bool]:
    """Column widths for a terminal ``width`` wide, so that no cell is folded over
    lines: the natural widths when they fit; else the cuttable columns (args, errors)
    give way first, then task ids are shortened (``cells`` is changed in place; the
    second value says so), then the other text columns down to their header."""
    natural = [max([len(c.header)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    widths = list(natural)
    budget = width - _overhead(len(columns))

    def excess() -> int:
        return sum(widths) - budget

    def shrink(indexes: list[int], floor: Callable[[int], int]) -> None:
        for i in sorted(indexes, key=lambda i: -widths[i]):
            if excess() <= 0:
                return
            widths[i] = max(floor(i), widths[i] - excess())

    cuttable = [i for i, c in enumerate(columns) if c.width]
    shrink(cuttable, lambda i: MIN_CUT)
    shortened = False
    ids = [i for i, c in enumerate(columns) if c.header == "ID" and not c.wrap]
    if excess() > 0 and ids:
        for row in cells:
            for i in ids:
                row[i] = row[i].replace("-", "")[-SHORT_ID:] if len(row[i]) > SHORT_ID else row[i]
        for i in ids:
            widths[i] = max([len(columns[i].header)] + [len(row[i]) for row in cells])
        shortened = True
        for i in cuttable:  # the room the ids gave back
            widths[i] = natural[i]
        shrink(cuttable, lambda i: MIN_CUT)
    texts = [i for i, c in enumerate(columns) if c.wrap and not c.right and not c.width]
    shrink(texts, lambda i: max(len(columns[i].header), 8))
    return widths, shortened


def table(columns: Sequence[Column], rows: Sequence[Any], title: str | None = None) -> None:
    if not stdout_is_tty():
        for line in plain_table(columns, rows):
            click.echo(line)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    cells = [[c.text(r) for c in columns] for r in rows]
    widths, shortened = fit(columns, cells, console.width)
    t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", highlight=False)
    for c, w in zip(columns, widths, strict=True):
        t.add_column(
            c.header,
            justify="right" if c.right else "left",
            overflow="ellipsis",
            no_wrap=True,
            max_width=w,
        )
    for texts in cells:
        t.add_row(*texts)
    console.print(t)
    if shortened:
        note(f"hueyctl: {IDS_SHORTENED}")


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """``key   value`` lines (``show``, ``status``); multi-line values are indented."""
    width = max((len(k) for k, _ in pairs), default=0)
    for key, v in pairs:
        text = "-" if v is None or v == "" else str(v)
        lines = text.splitlines() or [""]
        click.echo(f"{key.ljust(width)}  {lines[0]}".rstrip())
        for line in lines[1:]:
            click.echo(f"{' ' * width}  {line}".rstrip())


def listing(
    fmt: str,
    items: Sequence[Any],
    columns: Sequence[Column],
    drop: Iterable[str] = (),
    empty: str = "nothing to show",
) -> None:
    """Print a listing in the chosen format; an empty table says so on stderr."""
    if fmt != TEXT:
        drop = tuple(drop)
        emit_json([record(i, drop) for i in items], fmt)
        return
    if not items:
        note(empty)
        return
    table(columns, items)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    top = max(values, default=0)
    if not top:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1)))] for v in values)
