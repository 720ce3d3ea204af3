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
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from click.shell_completion import CompletionItem

from engine import loader
from engine.api import Huey
from engine.exceptions import EngineError
from engine.inspect import Inspector, TaskInfo

from . import render
from .context import Connection
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


# The commands (they register themselves on ``main``).
from . import admin_act, admin_read  # noqa: E402,F401
