"""Admin commands: see a queue (status, listings, show, workers, periodic, events)
and steer it (enqueue, revoke/restore, retry, delete, purge, flush-locks).

Everything is read through ``engine.inspect`` and changed through the ``Huey``
facade. Every input is checked before anything changes, so a typo changes
nothing; errors are one line on stderr with exit 1 (failed, not found), 2
(usage) or 69 (store unreachable). Output formats are in ``render``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from click.shell_completion import CompletionItem

from engine import loader
from engine.api import Huey
from engine.exceptions import EngineError, ResultTimeout, TaskException
from engine.inspect import Inspector, TaskInfo

from . import render
from .cli import main
from .context import Connection, connection_options
from .errors import EXIT_UNAVAILABLE, EXIT_USAGE, CommandError, translate
from .render import Column

F = TypeVar("F", bound=Callable[..., Any])

PAGE = 500  # ids fetched per round trip by bulk operations
SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "sqlite",
    "memory",
    "redis+cluster",
    "rediss+cluster",
    "redis+sentinel",
    "rediss+sentinel",
)
POLL = 0.5  # seconds between polls of events --follow
_sleep = time.sleep  # tests replace it to drive --watch / --follow

# --- connection and errors ------------------------------------------------------------
_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)


def mask(text: str) -> str:
    """Hide every password of a URL in ``text``: ``redis://u:***@host``."""
    return _PASSWORD.sub(r"\1***@", text)


def _scrubbed(message: str, conn: Connection) -> str:
    if conn.url:
        password = urlsplit(conn.url).password if "://" in conn.url else None
        if password:
            message = message.replace(password, "***")
    return mask(message)


def guarded(fn: F) -> F:
    """Engine errors become one line (passwords masked); a driver error that got
    past the storage layer is reported as the store's, not as an internal error."""

    @functools.wraps(fn)
    def inner(*args: Any, conn: Connection, **kwargs: Any) -> Any:
        try:
            return fn(*args, conn=conn, **kwargs)
        except EngineError as exc:
            err = translate(exc)
            raise CommandError(_scrubbed(err.format_message(), conn), err.exit_code) from None
        except click.ClickException as exc:
            text = _scrubbed(exc.format_message(), conn)
            if text != exc.format_message():
                raise CommandError(text, exc.exit_code) from None
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("redis", "sqlite3"):
                raise
            text = _scrubbed(str(exc), conn)
            raise CommandError(
                f"the store failed: {type(exc).__name__}: {text}", EXIT_UNAVAILABLE
            ) from None

    return inner  # type: ignore[return-value]


def open_huey(conn: Connection) -> Huey:
    """The queue, checked before first use: a URL's scheme is validated here (with the
    password masked), and an SQLite file must exist (a typo must not create one)."""
    if conn.url and not conn.app:
        scheme = conn.url.split("://", 1)[0].lower() if "://" in conn.url else ""
        if scheme not in SCHEMES:
            raise CommandError(
                f"unsupported store URL {mask(conn.url)!r}: use redis://host[:port][/db], "
                "rediss:// (TLS), unix:///path/to/redis.sock, redis+cluster://node:port, "
                "redis+sentinel://host:26379/master or sqlite:///path/to/file.db",
                EXIT_USAGE,
            )
    huey = conn.huey
    store = huey.storage.describe()
    if store.startswith("sqlite:///"):
        path = store[len("sqlite:///") :]
        if path != ":memory:" and not os.path.isfile(path):
            raise CommandError(
                f"no SQLite store at {path}: check the path (hueyctl never creates a store; "
                "the application or its worker does)",
                EXIT_UNAVAILABLE,
            )
    return huey


def inspector(conn: Connection) -> Inspector:
    return Inspector(open_huey(conn))


def queue_label(conn: Connection) -> str:
    huey = conn.huey
    return f"queue {huey.name!r} on {huey.storage.describe()}"


# --- shared options ---------------------------------------------------------------------
def output_options(fn: F) -> F:
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    @click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON object per line.")
    @functools.wraps(fn)
    def inner(*args: Any, as_json: bool, as_jsonl: bool, **kwargs: Any) -> Any:
        if as_json and as_jsonl:
            raise CommandError("choose one of --json and --jsonl", EXIT_USAGE)
        fmt = render.JSON if as_json else render.JSONL if as_jsonl else render.TEXT
        return fn(*args, fmt=fmt, **kwargs)

    return inner  # type: ignore[return-value]


def _app_names(ctx: click.Context) -> list[str]:
    """Task names of the application, for shell completion (never raises)."""
    app = ctx.params.get("app") or os.environ.get("HUEYCTL_APP")
    if not app:
        return []
    try:
        huey = loader.load(app)
        return sorted(huey.tasks) if isinstance(huey, Huey) else []
    except Exception:
        return []


def complete_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Full task names matching what was typed, also by their last part (``print`` →
    ``tasks.print_time``)."""
    return [
        CompletionItem(n)
        for n in _app_names(ctx)
        if n.startswith(incomplete) or n.rsplit(".", 1)[-1].startswith(incomplete)
    ]


def listing_options(fn: F) -> F:
    @click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=50,
        show_default=True,
        metavar="N",
        help="Rows to show.",
    )
    @click.option(
        "--offset",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="N",
        help="Rows to skip.",
    )
    @click.option(
        "--task",
        "task",
        metavar="NAME",
        shell_complete=complete_task,
        help="Only this task (full name, or its last part: count_beans).",
    )
    @click.option("--id", "id_prefix", metavar="PREFIX", help="Only ids starting with PREFIX.")
    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return inner  # type: ignore[return-value]


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    try:
        ok = click.confirm(question, default=False, err=True)
    except click.Abort:  # end of input: no answer
        click.echo("", err=True)
        ok = False
    if not ok:
        raise CommandError("not confirmed: nothing changed (--yes skips the question)")


# --- times ------------------------------------------------------------------------------
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WHEN_HELP = (
    "an ISO date/time, read as LOCAL time unless it has an offset "
    "('2026-12-01 06:00', '2026-12-01T06:00+00:00'), or a duration from now "
    "('90s', '30m', '2h', '1d', '1h30m')"
)


def parse_duration(text: str) -> float | None:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1w``, ``1h30m`` → seconds; None if not a duration."""
    compact = text.strip().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        return None
    return sum(float(n) * _UNITS[u.lower()] for n, u in _DURATION.findall(compact))


def parse_when(text: str, option: str, now: float | None = None) -> float:
    """A future moment as epoch seconds, from an ISO datetime or a duration."""
    now = time.time() if now is None else now
    seconds = parse_duration(text)
    if seconds is not None:
        ts = now + seconds
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise CommandError(
                f"{option} {text!r} is not a time: give {WHEN_HELP}", EXIT_USAGE
            ) from None
        ts = moment.timestamp()  # naive: local time (Python's rule, and ours)
    if ts <= now:
        raise CommandError(
            f"{option} {text!r} is in the past ({render.when(ts)}, now {render.when(now)}): "
            "give a later time or a duration like 2h",
            EXIT_USAGE,
        )
    return ts


# --- names and ids ----------------------------------------------------------------------
_ID_LIKE = re.compile(r"[0-9a-fA-F][0-9a-fA-F-]{3,}")


def store_names(insp: Inspector) -> set[str]:
    """Task names this queue has seen: periodic specs, statistics, recent events,
    queued and dead tasks, revocations (no application code needed)."""
    names = {p.name for p in insp.periodic()}
    names.update(s.task for s in insp.task_stats(120))
    names.update(e.task for e in insp.events(None, 1000))
    for fetch in (insp.pending, insp.scheduled, insp.failed):
        names.update(i.name for i in fetch(0, PAGE, None, None))
    names.update(i.name for i in insp.running())
    names.update(r.target for r in insp.revocations() if r.kind == "task")
    names.discard("?")
    return names


def known_names(conn: Connection, insp: Inspector) -> set[str]:
    return set(conn.huey.tasks) if conn.app else store_names(insp)


def _suffix_matches(name: str, names: set[str]) -> list[str]:
    return sorted(n for n in names if n.endswith("." + name))


def _unknown_name(conn: Connection, name: str, names: set[str]) -> CommandError:
    close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    if conn.app:
        return CommandError(
            f"no task named {name!r} is registered in {conn.app}{hint}: check the name "
            "(--force uses it anyway)"
        )
    return CommandError(
        f"no task named {name!r} is known to queue {conn.huey.name!r}{hint}: check the name, "
        "load the application with --app, or pass --force to use it anyway"
    )


def resolve_name(conn: Connection, insp: Inspector, name: str, force: bool) -> str:
    """A full task name from a full or short (last dotted part) name."""
    names = known_names(conn, insp)
    if name in names:
        return name
    matches = _suffix_matches(name, names)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise CommandError(f"{name!r} could be {', '.join(matches)}: give the full name")
    if force:
        return name
    raise _unknown_name(conn, name, names)


def find_ids(insp: Inspector, prefix: str, results: bool = True) -> list[str]:
    """Ids starting with ``prefix`` in any state, and (``results``) among results."""
    found = set(insp.find(prefix))
    if not results:
        found = {i for i in found if insp.task(i) is not None}
    else:  # Inspector.find looks at the first 100 results only: page through all
        offset = 0
        while batch := insp.results(offset, PAGE):
            found.update(r.id for r in batch if r.id.startswith(prefix))
            offset += PAGE
    return sorted(found)


def resolve_id(conn: Connection, insp: Inspector, text: str, results: bool = True) -> str:
    """A full task id from an id or an unambiguous prefix."""
    if not text:
        raise CommandError("give a task id (or the first characters of one)", EXIT_USAGE)
    if insp.task(text) is not None or (results and insp.result(text) is not None):
        return text
    ids = find_ids(insp, text, results)
    if len(ids) == 1:
        return ids[0]
    if ids:
        more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
        raise CommandError(
            f"id prefix {text!r} matches {len(ids)} tasks ({', '.join(ids[:5])}{more}): "
            "give more characters"
        )
    raise CommandError(
        f"no task with id {text!r} in {queue_label(conn)}: it may have finished without "
        "a result or been deleted (pending/scheduled/failed/results --id PREFIX list ids)"
    )


# --- records ------------------------------------------------------------------------------
def with_revocations(insp: Inspector, items: Sequence[TaskInfo]) -> list[TaskInfo]:
    """Listings do not check revocations (only ``Inspector.task`` does): mark them here."""
    revs = insp.revocations()
    names = {r.target for r in revs if r.kind == "task"}
    ids = {r.target for r in revs if r.kind == "id"}
    return [
        dataclasses.replace(i, revoked=True) if (i.id in ids or i.name in names) else i
        for i in items
    ]


def _task_cell(i: TaskInfo) -> str:
    return f"{i.name} (revoked)" if i.revoked else i.name


def _args_cell(i: TaskInfo) -> str:
    return render.call_args(i.args, i.kwargs)


ID = Column("ID", lambda i: i.id, wrap=False)
TASK = Column("TASK", _task_cell)
ARGS = Column("ARGS", _args_cell, width=60)
COLUMNS: dict[str, list[Column]] = {
    "pending": [
        ID,
        TASK,
        Column("PRIORITY", lambda i: i.priority, right=True),
        Column("ENQUEUED", lambda i: render.ago(i.enqueued_at)),
        Column("ATTEMPT", lambda i: i.attempt, right=True),
        ARGS,
    ],
    "scheduled": [
        ID,
        TASK,
        Column("ETA", lambda i: render.when(i.eta)),
        Column("DUE", lambda i: render.ago(i.eta)),
        Column("PRIORITY", lambda i: i.priority, right=True),
        ARGS,
    ],
    "running": [
        ID,
        TASK,
        Column("WORKER", lambda i: i.consumer),
        Column("STARTED", lambda i: render.ago(i.eta)),
        Column("DELIVERIES", lambda i: i.deliveries, right=True),
        ARGS,
    ],
    "failed": [
        ID,
        TASK,
        Column("FAILED", lambda i: render.ago(i.eta)),
        Column("REASON", lambda i: i.reason),
        Column("ATTEMPT", lambda i: i.attempt, right=True),
        Column("ERROR", lambda i: render.first_line(i.error), width=70),
    ],
}
EMPTY = {
    "pending": "no pending tasks",
    "scheduled": "no scheduled tasks",
    "running": "no running tasks",
    "failed": "no dead letters",
}
LISTING_DROP = ("envelope",)  # in `show` only: listings stay one short line per task


def _footer(conn: Connection, shown: int, offset: int, limit: int, total: int | None) -> None:
    """On a terminal, say where this page sits (stderr)."""
    if not render.stdout_is_tty() or not shown:
        return
    of = f" of {total}" if total is not None else ""
    more = shown == limit if total is None else offset + shown < total
    tail = f"; --offset {offset + shown} for more" if more else ""
    render.note(f"{offset + 1}-{offset + shown}{of} ({queue_label(conn)}){tail}")


def _task_listing(
    kind: str,
    conn: Connection,
    fmt: str,
    limit: int,
    offset: int,
    task: str | None,
    id_prefix: str | None,
) -> None:
    insp = inspector(conn)
    if kind == "running":
        items = insp.running(task, id_prefix)[offset : offset + limit]
    else:
        fetch = {"pending": insp.pending, "scheduled": insp.scheduled, "failed": insp.failed}
        items = fetch[kind](offset, limit, task, id_prefix)
    items = with_revocations(insp, items)
    render.listing(fmt, items, COLUMNS[kind], LISTING_DROP, EMPTY[kind])
    if fmt == render.TEXT:
        total = None
        if task is None and id_prefix is None:
            counts = insp.overview(1)
            total = {
                "pending": counts.ready,
                "scheduled": counts.scheduled,
                "running": counts.running,
                "failed": counts.dead,
            }[kind]
        _footer(conn, len(items), offset, limit, total)


# --- status -------------------------------------------------------------------------------
def _status_record(insp: Inspector, minutes: int) -> dict[str, Any]:
    overview = insp.overview(minutes)
    out: dict[str, Any] = render.record(overview)
    out["tasks"] = render.record(insp.task_stats(minutes))
    return out


def _status_text(rec: dict[str, Any], minutes: int) -> None:
    rows = rec["throughput"]
    done = sum(m["count"] for m in rows)
    failed = sum(m["failures"] for m in rows)
    last = rows[-1]["count"] if rows else 0
    rate = f"{done / max(1, minutes):.1f}/min"
    spark = f"  {render.sparkline([m['count'] for m in rows])}" if render.stdout_is_tty() else ""
    render.fields(
        [
            ("queue", f"{rec['queue']} on {rec['store']}"),
            ("pending", rec["ready"]),
            ("scheduled", rec["scheduled"]),
            ("running", rec["running"]),
            ("dead", rec["dead"]),
            ("workers", f"{rec['workers']} alive"),
            (
                f"last {minutes}m",
                f"{done} done, {failed} failed, {rate}, {last} this minute{spark}",
            ),
            ("at", render.when(rec["at"])),
        ]
    )
    tasks = sorted(rec["tasks"], key=lambda t: -t["count"])[:8]
    if tasks:
        click.echo("")
        render.table(
            [
                Column("TASK", lambda t: t["task"]),
                Column("RUNS", lambda t: t["count"], right=True),
                Column("FAILED", lambda t: t["failures"], right=True),
                Column("AVG", lambda t: render.duration(t["avg"]), right=True),
                Column("MAX", lambda t: render.duration(t["max"]), right=True),
            ],
            tasks,
        )


@main.command()
@click.option(
    "--minutes",
    type=click.IntRange(1, 120),
    default=15,
    show_default=True,
    help="Throughput window.",
)
@click.option(
    "--watch",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Refresh every SECONDS until Ctrl-C.",
)
@output_options
@connection_options
@guarded
def status(conn: Connection, fmt: str, minutes: int, watch: float | None) -> None:
    """Queue depth, workers and throughput at a glance.

    One screen: pending, scheduled, running, dead letters, live workers, and tasks
    run per minute over the last --minutes. JSON: the Overview fields plus "tasks"
    (TaskStats per task name over the same window).
    """
    if watch and fmt == render.JSON:
        raise CommandError("--watch prints a stream: use --jsonl, not --json", EXIT_USAGE)
    try:  # Ctrl-C at any point ends --watch, with exit status 0
        insp = inspector(conn)
        while True:
            rec = _status_record(insp, minutes)
            if fmt != render.TEXT:
                render.emit_json(rec, fmt)
            else:
                if watch and render.stdout_is_tty():
                    click.clear()
                _status_text(rec, minutes)
            if not watch:
                return
            if fmt == render.TEXT and not render.stdout_is_tty():
                click.echo("")
            _sleep(watch)
    except KeyboardInterrupt:
        if not watch:
            raise


# --- listings -----------------------------------------------------------------------------
def _make_listing(kind: str, doc: str) -> None:
    @listing_options
    @output_options
    @connection_options
    @guarded
    def command(
        conn: Connection,
        fmt: str,
        limit: int,
        offset: int,
        task: str | None,
        id_prefix: str | None,
    ) -> None:
        _task_listing(kind, conn, fmt, limit, offset, task, id_prefix)

    command.__doc__ = doc
    main.command(name=kind)(command)


_make_listing(
    "pending",
    "List tasks ready to run.\n\nIn the order workers claim them (priority, then "
    "first in, first out). JSON: TaskInfo objects.",
)
_make_listing(
    "scheduled",
    "List tasks waiting for their eta.\n\nSoonest first. JSON: TaskInfo objects.",
)
_make_listing(
    "running",
    "List tasks workers are running now.\n\nJSON: TaskInfo objects; eta is when the "
    "task was claimed, consumer the worker that holds it.",
)
_make_listing(
    "failed",
    "List dead letters, newest first.\n\nTasks that failed for good, or could not be "
    "decoded or run (reason says which). JSON: TaskInfo objects; eta is when it failed. "
    "'hueyctl retry' puts them back on the queue.",
)


@main.command()
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, metavar="N")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, metavar="N")
@click.option("--task", "task", metavar="NAME", help="Not supported: see below.")
@click.option("--id", "id_prefix", metavar="PREFIX", help="Only ids starting with PREFIX.")
@output_options
@connection_options
@guarded
def results(
    conn: Connection,
    fmt: str,
    limit: int,
    offset: int,
    task: str | None,
    id_prefix: str | None,
) -> None:
    """List stored results.

    JSON: ResultInfo objects (id, ok, value, error).

    A stored result does not record its task's name, so --task cannot filter them;
    use --id, or 'hueyctl show ID'.
    """
    if task is not None:
        raise CommandError(
            "results cannot be filtered by --task: a stored result does not record its "
            "task's name; filter by --id PREFIX",
            EXIT_USAGE,
        )
    insp = inspector(conn)
    if id_prefix is None:
        items = insp.results(offset, limit)
    else:
        items, skipped, start = [], 0, 0
        while len(items) < limit and (batch := insp.results(start, PAGE)):
            for r in batch:
                if r.id.startswith(id_prefix):
                    if skipped < offset:
                        skipped += 1
                    elif len(items) < limit:
                        items.append(r)
            start += PAGE
    columns = [
        Column("ID", lambda r: r.id, wrap=False),
        Column("STATUS", lambda r: "ok" if r.ok else "error"),
        Column("VALUE", lambda r: render.value(r.value) if r.ok else r.error, width=70),
    ]
    render.listing(fmt, items, columns, empty="no results")
    if fmt == render.TEXT:
        total = open_huey(conn).result_count() if id_prefix is None else None
        _footer(conn, len(items), offset, limit, total)


# --- show -----------------------------------------------------------------------------------
def _result_detail(huey: Huey, insp: Inspector, task_id: str) -> dict[str, Any] | None:
    info = insp.result(task_id)
    if info is None:
        return None
    out: dict[str, Any] = {**render.record(info), "traceback": None}
    if not info.ok:
        try:  # the traceback is in the stored error; ResultInfo keeps only its message
            huey.result(task_id, preserve=True)
        except TaskException as exc:
            out["traceback"] = exc.traceback
        except EngineError:
            pass
    return out


def show_record(conn: Connection, insp: Inspector, task_id: str) -> dict[str, Any]:
    info = insp.task(task_id)
    result = _result_detail(conn.huey, insp, task_id)
    if info is not None and info.state in ("dead", "running") and info.eta is None:
        # Inspector.task() leaves eta (failure / claim time) empty; the listings have it
        same = (
            insp.failed(0, 1, None, task_id)
            if info.state == "dead"
            else insp.running(None, task_id)
        )
        if same and same[0].id == task_id:
            info = dataclasses.replace(info, eta=same[0].eta)
    if info is not None:
        rec: dict[str, Any] = render.record(info)
    else:  # finished: only its result is left
        rec = {f.name: None for f in dataclasses.fields(TaskInfo)}
        rec.update(id=task_id, state="finished", revoked=False, envelope={})
    rec["result"] = result
    return rec


def _show_text(rec: dict[str, Any]) -> None:
    state = rec["state"]
    if rec.get("reason"):
        state += f" ({rec['reason']})"
    if rec["revoked"]:
        state += ", revoked"
    pairs: list[tuple[str, Any]] = [("id", rec["id"]), ("task", rec["name"]), ("state", state)]
    if rec["state"] != "finished":
        eta_label = {"running": "started", "dead": "failed at", "scheduled": "eta"}.get(
            rec["state"], "eta"
        )
        pairs += [
            ("args", render.call_args(rec["args"], rec["kwargs"]) or "(none)"),
            ("priority", rec["priority"]),
            ("attempt", f"{rec['attempt']} ({rec['retries']} retries left)"),
            ("deliveries", rec["deliveries"]),
            ("enqueued", render.when_ago(rec["enqueued_at"])),
            (eta_label, render.when_ago(rec["eta"])),
            ("expires", render.when_ago(rec["expires"])),
            ("worker", rec["consumer"]),
        ]
        if rec.get("error"):
            pairs.append(("error", rec["error"]))
    res = rec["result"]
    if res is not None:
        if res["ok"]:
            pairs.append(("result", render.value(res["value"])))
        else:
            pairs.append(("result", f"error: {res['error']}"))
            if res.get("traceback") and not rec.get("error"):
                pairs.append(("traceback", res["traceback"].rstrip()))
    elif rec["state"] != "finished":
        pairs.append(("result", "(none yet)"))
    if rec["envelope"]:
        pairs.append(("envelope", json.dumps(rec["envelope"], sort_keys=True)))
    render.fields(pairs)


@main.command()
@click.argument("task_id", metavar="ID")
@output_options
@connection_options
@guarded
def show(conn: Connection, fmt: str, task_id: str) -> None:
    """Show everything known about one task.

    Envelope, args, state, attempts, result or error with traceback. ID may be a
    prefix that matches exactly one task.

    JSON: the TaskInfo fields (envelope included) plus "result" (id, ok, value, error,
    traceback, or null); state is "finished" when only the result is left.
    """
    insp = inspector(conn)
    rec = show_record(conn, insp, resolve_id(conn, insp, task_id))
    if fmt != render.TEXT:
        render.emit_json(rec, fmt)
    else:
        _show_text(rec)


# --- workers, periodic, revocations ---------------------------------------------------------
@main.command()
@output_options
@connection_options
@guarded
def workers(conn: Connection, fmt: str) -> None:
    """List workers: host, pid, load, heartbeat.

    The registry: host, pid, uptime, concurrency, busy threads, current tasks, last
    heartbeat. JSON: WorkerInfo objects (alive: its lease still holds).
    """
    insp = inspector(conn)
    now = time.time()
    columns = [
        Column("WORKER", lambda w: w.id, wrap=False),
        Column("HOST", lambda w: w.host),
        Column("PID", lambda w: w.pid, right=True),
        Column("UPTIME", lambda w: render.duration(now - w.started)),
        Column("TYPE", lambda w: w.worker_type),
        Column("CONC", lambda w: w.concurrency, right=True),
        Column("BUSY", lambda w: len(w.running), right=True),
        Column("DONE", lambda w: w.processed, right=True),
        Column("FAILED", lambda w: w.failed, right=True),
        Column("HEARTBEAT", lambda w: render.ago(w.heartbeat, now)),
        Column("ALIVE", lambda w: "yes" if w.alive else "NO"),
        Column("CURRENT", lambda w: ", ".join(t.name for t in w.running), width=60),
    ]
    render.listing(fmt, insp.workers(), columns, empty="no workers registered")


def _revocation_cell(p: Any) -> str:
    if not p.revoked:
        return "-"
    if p.revoked_until is not None:
        return f"until {render.when(p.revoked_until)}"
    return "next run only" if p.revoke_once else "yes"


@main.command()
@output_options
@connection_options
@guarded
def periodic(conn: Connection, fmt: str) -> None:
    """List periodic tasks and their next runs.

    Crontab, next run, last run and revocation of each. From the application with
    --app, else as workers published them. JSON: PeriodicInfo objects.
    """
    insp = inspector(conn)
    columns = [
        Column("TASK", lambda p: p.name),
        Column("CRONTAB", lambda p: p.crontab),
        Column("CLOCK", lambda p: "UTC" if p.utc else "local"),
        Column("NEXT RUN", lambda p: render.when_ago(p.next_run)),
        Column("LAST RUN", lambda p: render.when_ago(p.last_run)),
        Column("REVOKED", _revocation_cell),
    ]
    render.listing(
        fmt,
        insp.periodic(),
        columns,
        empty="no periodic tasks known (load the app with --app, or start a worker)",
    )


@main.command()
@output_options
@connection_options
@guarded
def revocations(conn: Connection, fmt: str) -> None:
    """List revoked task names and task ids.

    JSON: Revocation objects (target, kind "task" or "id", until, once).
    """
    insp = inspector(conn)
    columns = [
        Column("TARGET", lambda r: r.target),
        Column("KIND", lambda r: "task name" if r.kind == "task" else "task id"),
        Column("UNTIL", lambda r: render.when_ago(r.until) if r.until else "restored"),
        Column("ONCE", lambda r: "yes" if r.once else "no"),
    ]
    render.listing(fmt, insp.revocations(), columns, empty="nothing is revoked")


# --- enqueue ---------------------------------------------------------------------------------
def parse_args(values: Sequence[str]) -> list[Any]:
    """Each argument as a JSON value when it parses (1, 2.5, true, null, [1], {"a": 1},
    "quoted"), else as the string itself. Something that looks like JSON but does not
    parse is an error, not a string."""
    out = []
    for n, text in enumerate(values, 1):
        try:
            out.append(json.loads(text))
        except ValueError as exc:
            if text.lstrip()[:1] in ("[", "{", '"'):
                msg = getattr(exc, "msg", str(exc))
                raise CommandError(
                    f"argument {n} {text!r} looks like JSON but does not parse ({msg}): "
                    "fix it, or quote it as a JSON string",
                    EXIT_USAGE,
                ) from None
            out.append(text)
    return out


def parse_kwargs(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        raise CommandError(
            f"--kwargs is not valid JSON ({msg}): give an object, e.g. --kwargs '{{\"n\": 1}}'",
            EXIT_USAGE,
        ) from None
    if not isinstance(value, dict):
        raise CommandError(
            f"--kwargs must be a JSON object, got {type(value).__name__}: "
            "e.g. --kwargs '{\"n\": 1}'",
            EXIT_USAGE,
        )
    return value


def _print_value(v: Any) -> None:
    if isinstance(v, str):
        click.echo(v)
    else:
        click.echo(render.dumps(v))


@main.command(
    epilog="Arguments are JSON values when they parse, strings otherwise: "
    "'hueyctl enqueue tasks.add 1 2', 'hueyctl enqueue tasks.greet Ann', "
    '\'hueyctl enqueue tasks.f "[1, 2]" --kwargs "{\\"x\\": null}"\'. '
    "Use -- before arguments that start with a dash: 'hueyctl enqueue tasks.add -- -1 2'."
)
@click.argument("task_name", metavar="TASK", shell_complete=complete_task)
@click.argument("args", nargs=-1)
@click.option("--kwargs", "kwargs_json", metavar="JSON", help="Keyword arguments, a JSON object.")
@click.option("--delay", metavar="SECONDS", help="Run after this long: 30, 90s, 5m, 2h.")
@click.option("--eta", metavar="WHEN", help=f"Run at this time: {WHEN_HELP}.")
@click.option("--priority", type=int, metavar="N", help="Higher runs first (default: the task's).")
@click.option(
    "--retries", type=click.IntRange(min=0), metavar="N", help="Retries (default: the task's)."
)
@click.option("--wait", is_flag=True, help="Wait for the result and print it.")
@click.option(
    "--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="With --wait: give up after."
)
@click.option("--force", is_flag=True, help="Enqueue a task name this queue does not know.")
@connection_options
@guarded
def enqueue(
    conn: Connection,
    task_name: str,
    args: tuple[str, ...],
    kwargs_json: str | None,
    delay: str | None,
    eta: str | None,
    priority: int | None,
    retries: int | None,
    wait: bool,
    timeout: float | None,
    force: bool,
) -> None:
    """Enqueue a call of TASK; print its id.

    With --wait, wait for the result and print it instead (the id goes to stderr).

    TASK is a registered name (tasks.count_beans) or its last part (count_beans) when
    that is unambiguous. A task this queue has never seen is refused unless --force.
    """
    values = parse_args(args)
    kwargs = parse_kwargs(kwargs_json)
    if delay is not None and eta is not None:
        raise CommandError("give --delay or --eta, not both", EXIT_USAGE)
    when: float | None = None
    if delay is not None:
        seconds = parse_duration(delay)
        if seconds is None:
            try:
                seconds = float(delay)
            except ValueError:
                raise CommandError(
                    f"--delay {delay!r} is not a duration: give seconds (30) or 90s, 5m, 2h, 1d",
                    EXIT_USAGE,
                ) from None
        if seconds < 0:
            raise CommandError(f"--delay {delay!r} is negative", EXIT_USAGE)
        when = time.time() + seconds if seconds else None
    elif eta is not None:
        when = parse_when(eta, "--eta")
    if timeout is not None and not wait:
        raise CommandError("--timeout goes with --wait", EXIT_USAGE)
    insp = inspector(conn)
    huey = conn.huey
    name = resolve_name(conn, insp, task_name, force)
    res = huey.enqueue_by_name(name, values, kwargs, eta=when, priority=priority, retries=retries)
    later = f", due {render.when_ago(when)}" if when else ""
    if not wait:
        click.echo(res.id)
        render.note(f"enqueued {name} as {res.id}{later}")
        return
    render.note(f"enqueued {name} as {res.id}{later}; waiting for its result (Ctrl-C stops)")
    try:
        v = huey.result(res.id, blocking=True, timeout=timeout)
    except TaskException as exc:
        raise CommandError(
            f"task {res.id} failed: {exc.error} ('hueyctl show {res.id}' has the traceback)"
        ) from None
    except ResultTimeout:
        raise CommandError(
            f"no result within {timeout:g}s: task {res.id} is still queued or running"
        ) from None
    except KeyboardInterrupt:
        raise CommandError(f"stopped waiting: task {res.id} stays queued") from None
    _print_value(v)


# --- revoke / restore ------------------------------------------------------------------------
def resolve_target(conn: Connection, insp: Inspector, target: str, force: bool) -> tuple[str, str]:
    """("task", full name) or ("id", task id) for a revoke/restore TARGET."""
    names = known_names(conn, insp)
    if target in names:
        return "task", target
    ids: list[str] = []
    if _ID_LIKE.fullmatch(target):
        ids = [target] if insp.task(target) is not None else find_ids(insp, target, False)
    matches = _suffix_matches(target, names)
    if ids and matches:
        raise CommandError(
            f"{target!r} could be task {matches[0]} or an id ({ids[0]}): give the full "
            "name or more of the id"
        )
    if len(ids) == 1:
        return "id", ids[0]
    if len(ids) > 1:
        raise CommandError(
            f"id prefix {target!r} matches {len(ids)} tasks ({', '.join(ids[:5])}): give "
            "more characters"
        )
    if len(matches) == 1:
        return "task", matches[0]
    if len(matches) > 1:
        raise CommandError(f"{target!r} could be {', '.join(matches)}: give the full name")
    if force:
        return "task", target
    if _ID_LIKE.fullmatch(target):
        if insp.result(target) is not None:
            raise CommandError(f"task {target} has already finished: nothing to revoke")
        raise CommandError(
            f"no task named {target!r}, and no queued task whose id starts with it, in "
            f"{queue_label(conn)}: check it ('hueyctl pending --id PREFIX' lists ids)"
        )
    raise _unknown_name(conn, target, names)


@main.command(
    epilog="Examples: 'hueyctl revoke print_time --until \"2026-12-01 06:00\"' pauses a "
    "periodic task until then (local time); 'hueyctl revoke tasks.send_mail --until 2h'; "
    "'hueyctl revoke 0190ab12' cancels one queued call."
)
@click.argument("target", shell_complete=complete_task)
@click.option("--once", is_flag=True, help="Skip only the next run of the task.")
@click.option("--until", "until", metavar="WHEN", help=f"Until {WHEN_HELP}.")
@click.option("--force", is_flag=True, help="Revoke a task name this queue does not know.")
@connection_options
@guarded
def revoke(conn: Connection, target: str, once: bool, until: str | None, force: bool) -> None:
    """Revoke a task name or one task id.

    TARGET is a task name (every call, periodic runs included) or a task id (that one
    call; a prefix works). Undo with 'hueyctl restore TARGET'.

    TARGET may be a task's last name part (print_time for tasks.print_time) when that is
    unambiguous. Without --until or --once it stays revoked until restored.
    """
    until_ts = parse_when(until, "--until") if until is not None else None
    insp = inspector(conn)
    huey = conn.huey
    kind, resolved = resolve_target(conn, insp, target, force)
    span = f" until {render.when_ago(until_ts)}" if until_ts else ""
    if kind == "task":
        huey.revoke_all(resolved, revoke_until=until_ts, revoke_once=once)
        what = "the next run of" if once else "every call of"
        render.note(f"revoked {what} {resolved}{span}; 'hueyctl restore {resolved}' undoes it")
        return
    info = insp.task(resolved)
    huey.revoke_by_id(resolved, revoke_until=until_ts, revoke_once=True)
    state = info.state if info is not None else "unknown"
    extra = " (it is running now: this stops only its retries)" if state == "running" else ""
    render.note(f"revoked task {resolved} ({info.name if info else '?'}, {state}){span}{extra}")


@main.command()
@click.argument("target", shell_complete=complete_task)
@connection_options
@guarded
def restore(conn: Connection, target: str) -> None:
    """Lift a revocation (undo revoke).

    TARGET is a revoked task name (its last part works) or task id (a prefix works).
    """
    insp = inspector(conn)
    huey = conn.huey
    revs = insp.revocations()
    exact = [r for r in revs if r.target == target]
    if exact:
        kind, resolved = exact[0].kind, target
    else:
        ids = [r.target for r in revs if r.kind == "id" and r.target.startswith(target)]
        names = [r.target for r in revs if r.kind == "task" and r.target.endswith("." + target)]
        candidates = [("id", i) for i in ids] + [("task", n) for n in names]
        if len(candidates) > 1:
            listed = ", ".join(c[1] for c in candidates[:5])
            raise CommandError(f"{target!r} matches several revocations ({listed}): be precise")
        if not candidates:
            raise CommandError(
                f"{target!r} is not revoked in {queue_label(conn)}: nothing changed "
                "('hueyctl revocations' lists what is)"
            )
        kind, resolved = candidates[0]
    done = huey.restore_all(resolved) if kind == "task" else huey.restore_by_id(resolved)
    if not done:
        raise CommandError(f"{resolved} was no longer revoked: nothing changed")
    label = f"task {resolved}" if kind == "id" else f"every call of {resolved}"
    render.note(f"restored {label}")


# --- retry / delete / purge / flush-locks ----------------------------------------------------
def _dead_ids(insp: Inspector, task: str | None) -> list[str]:
    """Every dead letter's id (optionally one task's), snapshotted before acting so
    tasks that fail again while we work are not picked up twice."""
    ids: list[str] = []
    offset = 0
    while batch := insp.failed(offset, PAGE, task, None):
        ids.extend(i.id for i in batch)
        offset += len(batch)
        if len(batch) < PAGE:
            break
    return list(dict.fromkeys(ids))


def batches(items: Sequence[Any], label: str) -> Iterator[Sequence[Any]]:
    """``items`` in batches of PAGE, with a progress bar on a terminal (stderr)."""
    chunks = [items[i : i + PAGE] for i in range(0, len(items), PAGE)]
    if not render.stderr_is_tty() or len(items) <= PAGE:
        yield from chunks
        return
    with click.progressbar(length=len(items), label=label, file=sys.stderr) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(len(chunk))


@main.command()
@click.argument("task_id", metavar="[ID]", required=False)
@click.option("--all", "all_", is_flag=True, help="Every dead letter (or every one of --task).")
@click.option(
    "--task",
    "task",
    metavar="NAME",
    shell_complete=complete_task,
    help="With --all: only this task's dead letters.",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (--all).")
@connection_options
@guarded
def retry(conn: Connection, task_id: str | None, all_: bool, task: str | None, yes: bool) -> None:
    """Put dead letters back on the queue.

    One by ID (a prefix works), or --all of them (--task narrows it to one task).
    """
    if task is not None and not all_:
        raise CommandError("--task goes with --all", EXIT_USAGE)
    if bool(task_id) == all_:
        raise CommandError(
            "give a dead letter's ID, or --all (with --task NAME to narrow it)", EXIT_USAGE
        )
    insp = inspector(conn)
    huey = conn.huey
    if task_id:
        dead = [i.id for i in insp.failed(0, 2, None, task_id)]
        if insp.task(task_id) is None and len(dead) == 1:
            resolved = dead[0]  # a prefix is looked up among dead letters first
        else:
            resolved = resolve_id(conn, insp, task_id, results=False)
        info = insp.task(resolved)
        if info is None or info.state != "dead":
            state = info.state if info else "finished"
            raise CommandError(f"task {resolved} is {state}, not a dead letter: nothing to retry")
        if not huey.retry_failed(resolved):
            raise CommandError(f"task {resolved} left the dead letters meanwhile: nothing changed")
        render.note(f"retried {info.name} {resolved}: it is pending again")
        return
    ids = _dead_ids(insp, task)
    which = f" of {task}" if task else ""
    if not ids:
        render.note(f"no dead letters{which} to retry")
        return
    confirm(f"Put {len(ids)} dead letter(s){which} back on {queue_label(conn)}?", yes)
    done = 0
    for chunk in batches(ids, "retrying"):
        done += sum(1 for i in chunk if huey.retry_failed(i))
    gone = len(ids) - done
    render.note(
        f"retried {done} dead letter(s){which}" + (f"; {gone} had left meanwhile" if gone else "")
    )


@main.command()
@click.argument("task_id", metavar="ID")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@guarded
def delete(conn: Connection, task_id: str, yes: bool) -> None:
    """Delete one queued or dead task.

    A pending, scheduled or dead task, or the result of a finished one. ID may be a
    prefix. A running task cannot be deleted: revoke it instead.
    """
    insp = inspector(conn)
    huey = conn.huey
    resolved = resolve_id(conn, insp, task_id)
    info = insp.task(resolved)
    if info is None:
        confirm(f"Delete the result of task {resolved}?", yes)
        if not huey.delete(resolved):
            raise CommandError(f"the result of {resolved} is gone already: nothing changed")
        render.note(f"deleted the result of {resolved}")
        return
    if info.state == "running":
        raise CommandError(
            f"task {resolved} is running and cannot be deleted: 'hueyctl revoke {resolved}' "
            "stops its retries"
        )
    confirm(f"Delete task {resolved} ({info.name}, {info.state})?", yes)
    if not huey.delete_task(resolved):
        raise CommandError(f"task {resolved} was claimed or removed meanwhile: nothing changed")
    render.note(f"deleted task {resolved} ({info.name}, was {info.state})")


PURGE_WHAT = {
    "pending": "pending tasks",
    "scheduled": "scheduled tasks",
    "failed": "dead letters",
    "results": "results",
}


def _count(insp: Inspector, huey: Huey, what: str) -> int:
    if what == "results":
        return huey.result_count()
    o = insp.overview(1)
    return {"pending": o.ready, "scheduled": o.scheduled, "failed": o.dead}[what]


def _purge_in_batches(insp: Inspector, huey: Huey, what: str, total: int) -> int:
    """Delete page by page so a progress bar can follow; what is left at the end
    (added meanwhile) goes in one step."""
    fetch: Callable[[], list[str]]
    remove: Callable[[str], bool]
    if what == "results":
        fetch, remove = (lambda: [r.id for r in insp.results(0, PAGE)]), huey.delete
    else:
        lister = {"pending": insp.pending, "scheduled": insp.scheduled, "failed": insp.failed}[what]
        fetch, remove = (lambda: [i.id for i in lister(0, PAGE, None, None)]), huey.delete_task
    done = 0
    with click.progressbar(
        length=total, label=f"purging {PURGE_WHAT[what]}", file=sys.stderr
    ) as bar:
        while ids := fetch():
            n = sum(1 for i in ids if remove(i))
            done += n
            bar.update(n)
            if not n:
                break
    return done + huey.purge(what)


@main.command()
@click.argument("what", type=click.Choice(list(PURGE_WHAT)))
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@guarded
def purge(conn: Connection, what: str, yes: bool) -> None:
    """Delete every pending, scheduled, failed or result.

    WHAT is pending (ready tasks), scheduled, failed (dead letters) or results.
    """
    insp = inspector(conn)
    huey = conn.huey
    total = _count(insp, huey, what)
    if not total:
        render.note(f"no {PURGE_WHAT[what]} in {queue_label(conn)}: nothing to purge")
        return
    confirm(f"Delete {total} {PURGE_WHAT[what]} from {queue_label(conn)}?", yes)
    if render.stderr_is_tty() and total > PAGE:
        n = _purge_in_batches(insp, huey, what, total)
    else:
        n = huey.purge(what)
    render.note(f"purged {n} {PURGE_WHAT[what]} from {queue_label(conn)}")


@main.command("flush-locks")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
@guarded
def flush_locks(conn: Connection, names: tuple[str, ...], yes: bool) -> None:
    """Clear task locks.

    The NAMEd ones, or all of them (e.g. one left behind by a killed worker).
    """
    huey = open_huey(conn)
    which = ", ".join(names) if names else "every task lock"
    confirm(f"Clear {which} of {queue_label(conn)}? A task holding one may then run twice.", yes)
    cleared = huey.flush_locks(*names)
    listed = f": {', '.join(sorted(cleared))}" if cleared else ""
    render.note(f"cleared {len(cleared)} lock(s){listed}")
    missing = sorted(set(names) - cleared)
    if missing:
        render.note(f"not held: {', '.join(missing)}")


# --- events -----------------------------------------------------------------------------------
def _event_line(e: Any) -> str:
    stamp = dt.datetime.fromtimestamp(e.ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    detail = e.error or (f"{e.runtime:.3f}s" if e.runtime is not None else "")
    name = click.style(f"{e.event:<12}", bold=True) if render.stdout_is_tty() else f"{e.event:<12}"
    return f"{stamp}  {name}  {e.task}  {e.task_id}  {e.worker}  {detail}".rstrip()


@main.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many recent events to print first.",
)
@click.option(
    "--task",
    "task",
    metavar="NAME",
    shell_complete=complete_task,
    help="Only this task's events (full or last part of the name).",
)
@output_options
@connection_options
@guarded
def events(conn: Connection, fmt: str, follow: bool, limit: int, task: str | None) -> None:
    """Print the event stream (--follow: like tail -f).

    Recent events (enqueued, executing, complete, error, retrying, revoked ...),
    oldest first, like 'tail'; --follow then prints new ones as they come until
    Ctrl-C. JSON: Event objects.
    """
    if follow and fmt == render.JSON:
        raise CommandError("--follow prints a stream: use --jsonl, not --json", EXIT_USAGE)
    insp = inspector(conn)

    def wanted(e: Any) -> bool:
        return task is None or e.task == task or e.task.endswith("." + task)

    def emit(items: list[Any]) -> None:
        if fmt != render.TEXT:
            render.emit_json(items, render.JSONL if follow else fmt)
        else:
            for e in items:
                click.echo(_event_line(e))

    if not follow:
        shown = [e for e in insp.events(None, limit if task is None else 1000) if wanted(e)]
        if fmt == render.TEXT and not shown:
            render.note("no events yet")
        emit(shown[-limit:])
        return
    try:  # Ctrl-C at any point ends the stream, with exit status 0
        batch = insp.events(None, limit if task is None else 1000)
        emit([e for e in batch if wanted(e)][-limit:])
        last = batch[-1].id if batch else None
        while True:
            _sleep(POLL)
            # With nothing seen yet, "the latest" are all new; then, what follows the last.
            batch = insp.events(last, 1000)
            if batch:
                last = batch[-1].id
                emit([e for e in batch if wanted(e)])
    except KeyboardInterrupt:
        return
