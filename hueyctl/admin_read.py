"""Admin commands that read: status, listings, show, workers, periodic, revocations,
events. Helpers and conventions are in ``hueyctl.admin``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from typing import Any

import click

from engine.api import Huey
from engine.exceptions import EngineError, TaskException
from engine.inspect import Inspector, TaskInfo

from . import admin, render
from .admin import (
    _footer,
    _task_listing,
    complete_task,
    guarded,
    inspector,
    listing_options,
    open_huey,
    output_options,
    resolve_id,
)
from .cli import main
from .context import Connection, connection_options
from .errors import EXIT_USAGE, CommandError
from .render import Column


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
            admin._sleep(watch)
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
        while len(items) < limit and (batch := insp.results(start, admin.PAGE)):
            for r in batch:
                if r.id.startswith(id_prefix):
                    if skipped < offset:
                        skipped += 1
                    elif len(items) < limit:
                        items.append(r)
            start += admin.PAGE
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
            admin._sleep(admin.POLL)
            # With nothing seen yet, "the latest" are all new; then, what follows the last.
            batch = insp.events(last, 1000)
            if batch:
                last = batch[-1].id
                emit([e for e in batch if wanted(e)])
    except KeyboardInterrupt:
        return
