"""See the queue as a whole: ``status``, ``workers``, ``periodic``, ``revocations``
and ``events`` (the task listings and ``show`` are in ``tasks``)."""

from __future__ import annotations

import time
from typing import Any

import click

from engine.inspect import Event, Overview, TaskStats, WorkerInfo, name_matches
from engine.steering import Pause

from .. import present, render, resolve
from ..errors import EXIT_USAGE, CommandError
from ..options import Connection, complete_task, connection_options, output_options
from ..render import Column

POLL = 0.5  # seconds between polls of events --follow
EVENT_SCAN = 10_000  # events read when --task/--kind filter them (the stream keeps about as many)
sleep = time.sleep  # tests replace it to drive --watch / --follow


# --- status -------------------------------------------------------------------------------
def _status_record(
    overview: Overview, stats: list[TaskStats], pauses: list[Pause]
) -> dict[str, Any]:
    out: dict[str, Any] = render.record(overview)
    out["tasks"] = render.record(stats)
    out["pauses"] = render.record(pauses)
    return out


def _pause_notes(pauses: list[Pause], now: float) -> None:
    """The queue's pauses, one line each on stderr (data stays on stdout)."""
    for p in pauses:
        click.echo(f"note: {present.pause_line(p, now)}", err=True)


STORE_STATES = {
    "full": "the store is full (Redis maxmemory): it claims nothing new until writes succeed",
    "denied": "the store refuses one of its commands (ACL): see its log for the command",
    "transient": "the store is away or not serving: it retries",
}


def _store_warnings(workers: list[WorkerInfo]) -> None:
    """What live workers report about their store, on stderr (data stays on stdout)."""
    for w in workers:
        if w.alive and w.store_state != "ok":
            why = STORE_STATES.get(w.store_state, w.store_state)
            click.echo(f"warning: worker {w.id}: {why}", err=True)
    if any(w.alive and w.persistent is False for w in workers):
        click.echo(
            "warning: the store keeps nothing on disk: a Redis restart loses every queued"
            " task (turn on appendonly or a save schedule; see docs/operating.md)",
            err=True,
        )


def _status_text(rec: dict[str, Any], stats: list[TaskStats], minutes: int) -> None:
    rows = rec["throughput"]
    done = sum(m["count"] for m in rows)
    failed = sum(m["failures"] for m in rows)
    last = rows[-1]["count"] if rows else 0
    rate = f"{done / max(1, minutes):.1f}/min"
    spark = f"  {render.sparkline([m['count'] for m in rows])}" if render.stdout_is_tty() else ""
    render.fields(
        [
            ("queue", f"{rec['queue']} on {rec['store']}"),
            (present.state_label("ready"), rec["ready"]),
            ("scheduled", rec["scheduled"]),
            ("running", present.running(rec["running"], rec["claimed_ahead"])),
            (present.state_label("dead"), rec["dead"]),
            ("workers", f"{rec['workers']} alive"),
            (
                f"last {minutes}m",
                f"{done} done, {failed} failed, {rate}, {last} this minute{spark}",
            ),
            ("at", present.when(rec["at"])),
        ]
    )
    busiest = sorted(stats, key=lambda s: -s.count)[:8]
    if busiest:
        click.echo("")
        render.table(render.LISTINGS["stats"].columns(rec["at"], None), busiest)


@click.command()
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
def status(conn: Connection, fmt: str, minutes: int, watch: float | None) -> None:
    """Queue depth, workers and throughput at a glance.

    One screen: pending, scheduled, running, dead letters, live workers, and tasks
    run per minute over the last --minutes. JSON: the Overview fields plus "tasks"
    (TaskStats per task name over the same window).
    """
    if watch and fmt == render.JSON:
        raise CommandError("--watch prints a stream: use --jsonl, not --json", EXIT_USAGE)
    try:  # Ctrl-C at any point ends --watch, with exit status 0
        insp = conn.inspector()
        while True:
            stats = insp.task_stats(minutes)
            pauses = insp.pauses()
            rec = _status_record(insp.overview(minutes), stats, pauses)
            if fmt != render.TEXT:
                render.emit_json(rec, fmt)
            else:
                if watch and render.stdout_is_tty():
                    click.clear()
                _status_text(rec, stats, minutes)
                _pause_notes(pauses, time.time())
                _store_warnings(insp.workers())
            if not watch:
                return
            if fmt == render.TEXT and not render.stdout_is_tty():
                click.echo("")
            sleep(watch)
    except KeyboardInterrupt:
        if not watch:
            raise


# --- workers, periodic, revocations ---------------------------------------------------------
@click.command()
@output_options
@connection_options
def workers(conn: Connection, fmt: str) -> None:
    """List workers: host, pid, load, heartbeat.

    The registry: host, pid, uptime, concurrency, busy threads, current tasks, last
    heartbeat. JSON: WorkerInfo objects (alive: its lease still holds).
    """
    insp = conn.inspector()
    spec = render.LISTINGS["workers"]
    render.listing(fmt, insp.workers(), spec.columns(time.time(), None), empty=spec.empty)
    if fmt == render.TEXT:
        _pause_notes(insp.pauses(), time.time())


@click.command()
@output_options
@connection_options
def periodic(conn: Connection, fmt: str) -> None:
    """List periodic tasks and their next runs.

    Crontab, next run, last run and revocation of each. From the application with
    --app, else as workers published them. JSON: PeriodicInfo objects.
    """
    insp = conn.inspector()
    spec = render.LISTINGS["periodic"]
    render.listing(fmt, insp.periodic(), spec.columns(time.time(), None), empty=spec.empty)


@click.command()
@output_options
@connection_options
def revocations(conn: Connection, fmt: str) -> None:
    """List revoked task names and task ids.

    JSON: Revocation objects (target, kind "task" or "id", until, once).
    """
    insp = conn.inspector()
    now = time.time()
    columns = [
        Column("TARGET", lambda r: r.target),
        Column("KIND", lambda r: "task name" if r.kind == "task" else "task id"),
        Column("UNTIL", lambda r: present.when_ago(r.until, now) if r.until else "restored"),
        Column("ONCE", lambda r: "yes" if r.once else "no"),
    ]
    render.listing(fmt, insp.revocations(), columns, empty="nothing is revoked")


# --- events -----------------------------------------------------------------------------------
def event_line(e: Event) -> str:
    """One event as a log line (``events`` without --json)."""
    stamp = present.stamp(e.ts)
    name = click.style(f"{e.event:<12}", bold=True) if render.stdout_is_tty() else f"{e.event:<12}"
    if e.admin:  # who did what: admin.retry  alice@ops1  state=dead task=x  retried 3 of 3 ...
        what = e.detail or (f"({e.count})" if e.count is not None else "")
        return f"{stamp}  {name}  {e.actor or e.worker}  {e.target or ''}  {what}".rstrip()
    detail = e.error or (present.runtime(e.runtime) if e.runtime is not None else "")
    return f"{stamp}  {name}  {e.task}  {e.task_id}  {e.worker}  {detail}".rstrip()


@click.command()
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
@click.option(
    "--kind",
    "kind",
    metavar="KIND",
    help="Only events of this kind: complete, error ... or admin (every operator action, "
    "admin.retry ...).",
)
@output_options
@connection_options
def events(
    conn: Connection, fmt: str, follow: bool, limit: int, task: str | None, kind: str | None
) -> None:
    """Print the event stream (--follow: like tail -f).

    Recent events (enqueued, executing, complete, error, retrying, revoked ...),
    oldest first, like 'tail'; --follow then prints new ones as they come until
    Ctrl-C. JSON: Event objects.

    Operators' actions are there too, as admin.<action> (admin.retry, admin.purge,
    admin.revoke ...) with who did it (user@host, or $HUEYCTL_ACTOR), the target or
    filter, the count and what was done: 'hueyctl events --kind admin' is the audit
    trail (as far back as the capped stream keeps).
    """
    if follow and fmt == render.JSON:
        raise CommandError("--follow prints a stream: use --jsonl, not --json", EXIT_USAGE)
    insp = conn.inspector()

    def wanted(e: Event) -> bool:
        return name_matches(e.task, task) and e.of_kind(kind)

    def emit(items: list[Event]) -> None:
        if fmt != render.TEXT:
            render.emit_json(items, render.JSONL if follow else fmt)
        else:
            for e in items:
                click.echo(event_line(e))

    if not follow:
        narrow = task is None and kind is None
        shown = [e for e in insp.events(None, limit if narrow else EVENT_SCAN) if wanted(e)]
        if fmt == render.TEXT and not shown:
            render.note("no events yet")
        unknown = resolve.unknown_filter(insp, conn.app_tasks(), task) if task else None
        if unknown and not shown:
            render.note(unknown)
        emit(shown[-limit:])
        return
    try:  # Ctrl-C at any point ends the stream, with exit status 0
        batch = insp.events(None, limit if task is None and kind is None else EVENT_SCAN)
        emit([e for e in batch if wanted(e)][-limit:])
        last = batch[-1].id if batch else None
        while True:
            sleep(POLL)
            # With nothing seen yet, "the latest" are all new; then, what follows the last.
            batch = insp.events(last, 1000)
            if batch:
                last = batch[-1].id
                emit([e for e in batch if wanted(e)])
    except KeyboardInterrupt:
        return


COMMANDS = (status, workers, periodic, revocations, events)
