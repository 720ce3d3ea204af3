"""Upgrade a store: ``migrate`` moves queues written by an earlier release to this
release's layout, keeping every task (the engine side is ``Storage.migrate``;
docs/deploy.md, "Upgrading to layout 2", says how to roll workers over)."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from .. import render
from ..options import (
    APP_HELP,
    CONNECTION,
    ROOT_OPTIONS,
    URL_FILE_ENV,
    URL_FILE_HELP,
    URL_HELP,
    Connection,
    output_options,
    pick,
    store_url,
)

STATES = ("ready", "scheduled", "running", "dead", "parked")


@click.command(
    epilog="Examples: 'hueyctl migrate --dry-run --url redis://host/0 --queue emails' (counts"
    " and bytes, nothing changed); 'hueyctl migrate --url redis://host/0 --queue emails"
    " --queue reports'. Stop the queue's workers first: a live worker's lease is refused."
    " A migration cut short is run again and goes on where it stopped."
)
@click.option(
    "--dry-run", is_flag=True, help="Count what would move and its bytes; change nothing."
)
@click.option("-A", "--app", envvar="HUEYCTL_APP", metavar="MODULE.ATTR", help=APP_HELP)
@click.option("--url", envvar="HUEYCTL_URL", metavar="URL", help=URL_HELP)
@click.option("--url-file", envvar=URL_FILE_ENV, metavar="PATH", help=URL_FILE_HELP)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    envvar="HUEYCTL_QUEUE",
    metavar="NAME",
    help="A queue to migrate; repeat it for several (default: the app's, or huey)"
    " [env HUEYCTL_QUEUE].",
)
@output_options
def migrate(
    dry_run: bool,
    app: str | None,
    url: str | None,
    url_file: str | None,
    queues: tuple[str, ...],
    fmt: str,
) -> None:
    """Move queues of an earlier release's store layout to this release's.

    Every task keeps its id and its place: ready tasks their order (priority, then
    first in first out), scheduled, running, dead and parked tasks their state. It
    runs in batches, each one atomic step, and refuses while a worker of the queue
    holds a live lease. A queue already in this layout is left as it is.
    """
    reports = []
    for conn in _connections(app, url, url_file, queues):
        report = _migrate(conn, dry_run)
        if fmt == render.TEXT:  # said at once: a later queue may be refused
            click.echo(_text(report, dry_run))
        reports.append(report)
    if fmt != render.TEXT:
        render.emit_json(reports, fmt)


def _connections(
    app: str | None, url: str | None, url_file: str | None, queues: tuple[str, ...]
) -> list[Connection]:
    """One connection per queue named (after the command, before it, or in the
    environment); the app's queue (or huey) when none is."""
    ctx = click.get_current_context()
    app, _ = pick(ctx, "app", app)
    url, url_given = store_url(ctx, url, url_file)
    root = ctx.meta.get(ROOT_OPTIONS, {})
    names: tuple[str | None, ...] = queues
    queue_given = ctx.get_parameter_source("queues") == ParameterSource.COMMANDLINE
    if not queue_given and "queue" in root:
        names, queue_given = (root["queue"],), True
    given = frozenset(n for n, g in (("url", url_given), ("queue", queue_given)) if g)
    conns = [Connection(app, url, name, given) for name in names or (None,)]
    ctx.meta[CONNECTION] = conns[0]  # the error boundary masks the URL's password
    return conns


def _migrate(conn: Connection, dry_run: bool) -> dict[str, Any]:
    huey = conn.huey
    report = huey.migrate_store(dry_run)
    where = huey.storage.describe()
    if report is None:  # a store of one layout
        return {"queue": huey.name, "store": where, "found": None, "dry_run": dry_run}
    return {"store": where, **render.record(report)}


def _text(report: dict[str, Any], dry_run: bool) -> str:
    name, found = report["queue"], report.get("found")
    if "counts" not in report:
        return f"queue {name!r} on {report['store']}: this store has one layout, nothing to migrate"
    if found is None:
        return f"queue {name!r} on {report['store']} holds nothing yet: nothing to migrate"
    if found != 1:
        return f"queue {name!r} is in layout {found} already: nothing to migrate"
    counts = report["counts"]
    tasks = ", ".join(f"{counts[s]} {s}" for s in STATES)
    if dry_run:
        sizes = report["bytes"]
        size = " + ".join(f"{k} {v:,}" for k, v in sizes.items())
        return (
            f"queue {name!r} is in layout 1: would move {tasks} ({counts['bodies']} bodies);"
            f" layout 1 keys use {sum(sizes.values()):,} bytes ({size}); nothing changed"
        )
    moved = report["moved"]
    dropped = f"; dropped {moved['dropped']} ready id(s) without a body" if moved["dropped"] else ""
    return (
        f"queue {name!r} migrated from layout 1: {tasks}; moved {moved['ready']} ready id(s) in"
        f" order and {moved['bodies']} bodies, marked {moved['parked']} parked{dropped}"
    )


COMMANDS = (migrate,)
