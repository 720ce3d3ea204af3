"""The options commands share, and the queue they name.

``--app/-A module.attr`` imports the application's queue (task defaults and
periodic crontabs known); ``--url`` + ``--queue`` need no application code at
all (the envelope is readable without it). Both come from the environment too:
``HUEYCTL_APP``, ``HUEYCTL_URL``, ``HUEYCTL_QUEUE``. Nothing connects until a
command asks for ``conn.huey``. Also here: the output options (``--json`` /
``--jsonl``), the listing options, shell completion of task names and the
confirmation question, so a command module only declares what it is about.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource
from click.shell_completion import CompletionItem

from engine import loader
from engine.api import Huey
from engine.exceptions import StoreUnavailable
from engine.inspect import Inspector
from engine.urls import sqlite_path, url_secrets

from . import render
from .errors import EXIT_USAGE, CommandError
from .resolve import App

F = TypeVar("F", bound=Callable[..., Any])
CONNECTION = "hueyctl.connection"  # ctx.meta key: the error boundary reads the secrets
ROOT_OPTIONS = "hueyctl.root"  # ctx.meta key: -A/--url/--queue given before the subcommand
APP_HELP = "The application's queue, e.g. main.huey [env HUEYCTL_APP]."
URL_HELP = (
    "Store URL without app code: redis://, rediss://, unix://, sqlite:///path [env HUEYCTL_URL]."
)
QUEUE_HELP = "Queue name (default: the app's, or huey) [env HUEYCTL_QUEUE]."
URL_FILE_HELP = (
    "Read the store URL from this file (its first non-empty line): keeps a password off the"
    " command line [env HUEYCTL_URL_FILE]."
)
URL_FILE_ENV = "HUEYCTL_URL_FILE"


class Connection:
    """The queue named by --app or --url/--queue, opened on first use.

    With an app, its own store and queue name hold unless --url/--queue are given on
    the command line (``given``): HUEYCTL_URL/HUEYCTL_QUEUE exported for admin work
    never redirect an app (``--app X --queue Y`` is X's tasks on queue Y)."""

    def __init__(
        self,
        app: str | None,
        url: str | None,
        queue: str | None,
        given: frozenset[str] = frozenset(),
    ) -> None:
        self.app, self.url, self.queue = app, url, queue
        self.given = given
        self._huey: Huey | None = None

    @property
    def huey(self) -> Huey:
        if self._huey is None:
            self._huey = self._resolve()
        return self._huey

    def _resolve(self) -> Huey:
        if self.app:
            huey = loader.load_queue(self.app)
            url = self.url if "url" in self.given else None
            queue = self.queue if "queue" in self.given else None
            if url or queue:
                huey.use_store(url, queue)
            return huey
        if self.url:
            # The engine owns the URL schemes: an unknown one is its ConfigurationError.
            return loader.connect(self.url, self.queue or "huey")
        raise click.UsageError(
            "say which queue: --app module.attr (or HUEYCTL_APP), "
            "or --url URL --queue NAME (or HUEYCTL_URL / HUEYCTL_QUEUE)"
        )

    def inspector(self, write: bool = False, force: bool = False) -> Inspector:
        """The read model of the queue, checked first: an SQLite file must exist (a
        typo must not create one), and a queue named by --queue (or the default
        ``huey`` of --url) that the store has never seen is warned about (a read) or
        refused (a ``write`` without ``force``)."""
        insp = Inspector(self.huey)
        path = sqlite_path(insp.describe())
        if path and path != ":memory:" and not os.path.isfile(path):
            raise StoreUnavailable(
                f"no SQLite store at {path}: check the path (hueyctl never creates a "
                "store; the application or its worker does)"
            )
        insp.check_format()  # a queue of an earlier (or a later) release's layout: one line
        if not self.app or "queue" in self.given:
            unseen = unseen_queue(insp)
            if unseen and write and not force:
                raise CommandError(f"{unseen} (--force uses it anyway)")
            if unseen:
                render.note(f"hueyctl: warning: {unseen}")
        return insp

    def app_tasks(self) -> App | None:
        """The application's task names when --app loaded it (None with --url alone)."""
        return App(self.app, frozenset(self.huey.tasks)) if self.app else None

    def secrets(self) -> list[str]:
        """Passwords and other secrets in --url, which no message may show."""
        return url_secrets(self.url) if self.url else []


UTC_HELP = "Show times in UTC (as TZ=UTC does); otherwise local time, TZ honoured."


def _use_utc(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # Every time hueyctl shows is local time labelled with its zone: --utc makes the
    # local zone UTC for this process, so the CLI, top and the demo all follow it.
    if value:
        os.environ["TZ"] = "UTC"
        time.tzset()


def utc_option(fn: F) -> F:
    """Add ``--utc`` (no parameter reaches the command: it switches the zone at once)."""
    return click.option(
        "--utc", is_flag=True, expose_value=False, is_eager=True, callback=_use_utc, help=UTC_HELP
    )(fn)


def root_options(fn: F) -> F:
    """-A/--app, --url, --queue before the subcommand (``hueyctl -A main.huey status``,
    as ``celery -A app ...``); kept in ``ctx.meta`` for the subcommand. The
    environment is read by the subcommand's own options."""

    @utc_option
    @click.option("-A", "--app", "root_app", metavar="MODULE.ATTR", help=APP_HELP)
    @click.option("--url", "root_url", metavar="URL", help=URL_HELP)
    @click.option("--url-file", "root_url_file", metavar="PATH", help=URL_FILE_HELP)
    @click.option("--queue", "root_queue", metavar="NAME", help=QUEUE_HELP)
    @functools.wraps(fn)
    def inner(
        *args: Any,
        root_app: str | None,
        root_url: str | None,
        root_url_file: str | None,
        root_queue: str | None,
        **kwargs: Any,
    ) -> Any:
        given = {
            "app": root_app,
            "url": root_url,
            "url_file": root_url_file,
            "queue": root_queue,
        }
        click.get_current_context().meta[ROOT_OPTIONS] = {
            k: v for k, v in given.items() if v is not None
        }
        return fn(*args, **kwargs)

    return inner  # type: ignore[return-value]


def pick(ctx: click.Context, name: str, value: Any) -> tuple[Any, bool]:
    """A connection option's value and whether the command line gave it: after the
    subcommand, else before it (the root's), else the environment's (not given)."""
    if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
        return value, True
    root = ctx.meta.get(ROOT_OPTIONS, {})
    if name in root:
        return root[name], True
    return value, False


def read_url_file(path: str) -> str:
    """The URL in ``path``: its first non-empty line, stripped. One line to fix it when
    the file cannot be read or holds nothing; a warning when it holds a secret and every
    local user can read it."""
    try:
        with open(path, encoding="utf-8") as f:
            url = next((line.strip() for line in f if line.strip()), "")
            mode = os.fstat(f.fileno()).st_mode
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise CommandError(f"cannot read --url-file {path}: {why}", EXIT_USAGE) from None
    if not url:
        raise CommandError(f"--url-file {path} holds no URL (an empty file?)", EXIT_USAGE)
    if mode & stat.S_IROTH and url_secrets(url):
        render.note(
            f"hueyctl: warning: --url-file {path} holds a password and every local user can"
            f" read it: chmod o-r {path}"
        )
    return url


def store_url(
    ctx: click.Context, url: str | None, url_file: str | None, fix: str | None = None
) -> tuple[str | None, bool]:
    """The store URL and whether the command line gave it, from --url or --url-file
    (after the subcommand or before it), else HUEYCTL_URL or HUEYCTL_URL_FILE. Giving
    both at one level is refused: which one was meant is not clear. With ``fix`` (a
    long-running process: the worker), a password typed in --url, where ``ps`` shows it
    to every local user as long as it runs, is warned about in one line on stderr
    (``fix`` says what to do instead)."""
    url, url_given = pick(ctx, "url", url)
    path, path_given = pick(ctx, "url_file", url_file)
    if url_given and path_given:
        raise CommandError("give --url or --url-file, not both", EXIT_USAGE)
    if path_given:
        return read_url_file(path), True
    if url_given:
        if fix and url and url_secrets(url):
            render.note(
                "hueyctl: warning: --url holds a password, visible to every local user in ps"
                f" while this runs: {fix}"
            )
        return url, True
    if url and path:
        raise CommandError(f"both HUEYCTL_URL and {URL_FILE_ENV} are set: unset one", EXIT_USAGE)
    return (read_url_file(path) if path else url), False


def unseen_queue(insp: Inspector) -> str | None:
    """What to say when the store has never seen this queue (a misspelled --queue,
    or --url without --queue), listing the queues it has; None when it has seen it
    or cannot say."""
    found = insp.seen_queue()
    if found is None:
        return None
    names, complete = found
    name = insp.huey.name
    if name in names or not complete:
        return None
    listed = ", ".join(repr(n) for n in names[:10]) + (" ..." if len(names) > 10 else "")
    has = f"it has {listed}" if names else "it holds no queue yet"
    return f"queue {name!r} has never been seen on {insp.describe()}: {has} (check --queue)"


def connection_options(fn: F) -> F:
    """Add --app/--url/--queue and pass ``conn: Connection`` to the command."""

    @utc_option
    @click.option("-A", "--app", envvar="HUEYCTL_APP", metavar="MODULE.ATTR", help=APP_HELP)
    @click.option("--url", envvar="HUEYCTL_URL", metavar="URL", help=URL_HELP)
    @click.option("--url-file", envvar=URL_FILE_ENV, metavar="PATH", help=URL_FILE_HELP)
    @click.option("--queue", envvar="HUEYCTL_QUEUE", metavar="NAME", help=QUEUE_HELP)
    @functools.wraps(fn)
    def inner(
        *args: Any,
        app: str | None,
        url: str | None,
        url_file: str | None,
        queue: str | None,
        **kwargs: Any,
    ) -> Any:
        ctx = click.get_current_context()
        app, _ = pick(ctx, "app", app)
        url, url_given = store_url(ctx, url, url_file)
        queue, queue_given = pick(ctx, "queue", queue)
        given = frozenset(n for n, g in (("url", url_given), ("queue", queue_given)) if g)
        conn = Connection(app, url, queue, given)
        ctx.meta[CONNECTION] = conn
        return fn(*args, conn=conn, **kwargs)

    return inner  # type: ignore[return-value]


def output_options(fn: F) -> F:
    """Add --json/--jsonl and pass ``fmt`` (``render.TEXT``, ``JSON`` or ``JSONL``)."""

    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    @click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON object per line.")
    @functools.wraps(fn)
    def inner(*args: Any, as_json: bool, as_jsonl: bool, **kwargs: Any) -> Any:
        if as_json and as_jsonl:
            raise CommandError("choose one of --json and --jsonl", EXIT_USAGE)
        fmt = render.JSON if as_json else render.JSONL if as_jsonl else render.TEXT
        return fn(*args, fmt=fmt, **kwargs)

    return inner  # type: ignore[return-value]


def _given(ctx: click.Context, name: str, env: str) -> str | None:
    """A connection option as completion sees it: after the subcommand, before it (the
    root group's), or from the environment."""
    root = ctx.parent.params if ctx.parent is not None else {}
    value = ctx.params.get(name) or root.get(f"root_{name}") or os.environ.get(env)
    return str(value) if value else None


def app_task_names(ctx: click.Context) -> list[str]:
    """Task names for shell completion (never raises): the application's with --app,
    else those the registered workers of --url/--queue publish (their catalogs)."""
    app = _given(ctx, "app", "HUEYCTL_APP")
    url = _given(ctx, "url", "HUEYCTL_URL")
    try:
        if app:
            return sorted(loader.load_queue(app).tasks)
        if url:
            huey = loader.connect(url, _given(ctx, "queue", "HUEYCTL_QUEUE") or "huey")
            try:
                return sorted(Inspector(huey).published_names())
            finally:
                huey.storage.close()
    except Exception:
        pass
    return []


def complete_task(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Full task names matching what was typed, also by their last part (``print`` →
    ``tasks.print_time``)."""
    return [
        CompletionItem(n)
        for n in app_task_names(ctx)
        if n.startswith(incomplete) or n.rsplit(".", 1)[-1].startswith(incomplete)
    ]


TABLE_ROWS = 50  # rows a table shows unless --limit/--all say otherwise


def row_cap(fmt: str, limit: int | None, all_: bool) -> int | None:
    """How many rows a listing prints (None: every one). JSON is for scripts, so it
    is complete unless --limit says otherwise; a table stops at TABLE_ROWS and says
    how many more there are."""
    if all_ and limit is not None:
        raise CommandError("give --limit N or --all, not both", EXIT_USAGE)
    if all_:
        return None
    if limit is not None:
        return limit
    return TABLE_ROWS if fmt == render.TEXT else None


def listing_options(fn: F) -> F:
    """Add --limit/--all/--offset/--task/--id to a listing."""

    @click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help=f"Rows to show [default: every row with --json/--jsonl, {TABLE_ROWS} in a table].",
    )
    @click.option("--all", "all_", is_flag=True, help="Every row, in a table too.")
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
    """Ask on stderr (``--yes`` skips it); anything but yes changes nothing."""
    if yes:
        return
    try:
        ok = click.confirm(question, default=False, err=True)
    except click.Abort:  # end of input: no answer
        click.echo("", err=True)
        ok = False
    if not ok:
        raise CommandError("not confirmed: nothing changed (--yes skips the question)")


# --- signing keys ------------------------------------------------------------------------------
SIGNING_KEY_ENV = "HUEYCTL_SIGNING_KEY"
SIGNING_KEY_FILE_HELP = (
    f"Sign messages with the key in this file (a signed queue) [or env {SIGNING_KEY_ENV}]."
)


def apply_signing_key(huey: Huey, key_file: str | None) -> None:
    """Sign what this command writes: ``--signing-key-file`` wins, then the
    ``HUEYCTL_SIGNING_KEY`` environment variable when the queue has no key of its own
    (an --app with a signing_key keeps it). The key never goes on a command line."""
    key: bytes | None = None
    if key_file is not None:
        try:
            with open(key_file, "rb") as f:
                key = f.read().rstrip(b"\r\n")
        except OSError as exc:
            raise CommandError(
                f"cannot read --signing-key-file {key_file}: {exc.strerror}", EXIT_USAGE
            ) from None
        if not key:
            raise CommandError(f"--signing-key-file {key_file} is empty", EXIT_USAGE)
    elif huey.envelope.signing_key is None and os.environ.get(SIGNING_KEY_ENV):
        key = os.environ[SIGNING_KEY_ENV].encode()
    if key is not None:
        huey.use_signing_key(key)
