"""Stop work for a while or for good: ``pause`` and ``resume`` a queue or a task name,
``cancel`` a call (a waiting one is deleted, a running one is stopped by its worker).

The engine side is ``engine.steering``; each action is one store write and one event
naming who did it (``user@host``, or ``$HUEYCTL_ACTOR``).
"""

from __future__ import annotations

import time
from typing import Any

import click

from engine import steering
from engine.inspect import Inspector

from .. import present, render, resolve
from ..errors import EXIT_USAGE, CommandError
from ..options import Connection, complete_task, connection_options
from . import matching

CANCEL_POLL = 0.1  # cancel --wait looks this often


def _task_name(conn: Connection, insp: Inspector, task: str | None, force: bool) -> str | None:
    if task is None:
        return None
    return resolve.resolve_name(insp, conn.app_tasks(), task, force)


@click.command(
    epilog="Examples: 'hueyctl pause' (the whole queue, until resumed); 'hueyctl pause "
    "--for 30m'; 'hueyctl pause tasks.send_mail' (its calls are set aside as workers meet "
    "them, and put back in order on resume). Scheduled and periodic tasks still fall due "
    "and join the queue while it is paused; they run on resume."
)
@click.argument("task", required=False, shell_complete=complete_task)
@click.option(
    "--for", "for_", metavar="DURATION", help="Resume by itself after this long: 90s, 30m, 2h."
)
@click.option("--force", is_flag=True, help="Pause a task name this queue does not know.")
@connection_options
def pause(conn: Connection, task: str | None, for_: str | None, force: bool) -> None:
    """Stop workers claiming from the queue, or calls of TASK.

    Workers stop claiming within a second, finish what they are running and keep
    their heartbeat; the pause holds across worker restarts until 'hueyctl resume'
    (or --for has passed). A pause in force is replaced.
    """
    seconds = None
    if for_ is not None:
        seconds = resolve.parse_duration(for_)
        if seconds is None or seconds <= 0:
            raise CommandError(
                f"--for {for_!r} is not a duration: give 90s, 30m, 2h or 1h30m", EXIT_USAGE
            )
    insp = conn.inspector(write=True, force=force)
    name = _task_name(conn, insp, task, force)
    now = time.time()
    steering.pause(conn.huey, name, seconds, now=now)
    what = "queue " + repr(conn.huey.name) if name is None else f"task {name}"
    until = f" until {present.when_ago(now + seconds, now)}" if seconds else ""
    undo = "hueyctl resume" + (f" {name}" if name else "")
    render.note(f"paused {what}{until}; '{undo}' undoes it")


@click.command()
@click.argument("task", required=False, shell_complete=complete_task)
@connection_options
def resume(conn: Connection, task: str | None) -> None:
    """Let workers claim again from the queue, or calls of TASK (its parked calls go
    back on the queue, in order)."""
    insp = conn.inspector(write=True, force=True)
    name = task
    if task is not None:
        paused = {p.task for p in steering.pauses(conn.huey) if p.task}
        if task not in paused:
            name = _task_name(conn, insp, task, force=True)
            ends = sorted(n for n in paused if n.endswith("." + task))
            if name not in paused and len(ends) == 1:
                name = ends[0]
    was, moved = steering.resume(conn.huey, name)
    what = "queue " + repr(conn.huey.name) if name is None else f"task {name}"
    if not was:
        render.note(f"{what} was not paused: nothing to resume")
        return
    back = f"; {moved} parked call(s) back on the queue" if name is not None else ""
    render.note(f"resumed {what}{back}")


@click.command(
    epilog="A running call stops at its next check of huey.is_cancelled() (or "
    "task.cancelled), or at its next lock, rate limit or result wait, which raises "
    "TaskCancelled; under -k asyncio its coroutine gets CancelledError at its await; under "
    "-k process its process is interrupted at once, and killed and replaced if it has not "
    "stopped within the grace (5 s). It ends like CancelExecution: not retried, its result "
    "raises TaskException. With filters (--task, --older-than, --state ready|scheduled) "
    "every queued match is deleted, after a count and a question."
)
@click.argument("task_id", metavar="[ID]", required=False)
@click.option("--wait", is_flag=True, help="Wait (up to --timeout) until the call has stopped.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="With --wait: give up after.",
)
@matching.filter_options
@connection_options
def cancel(
    conn: Connection,
    task_id: str | None,
    wait: bool,
    timeout: float,
    filters: dict[str, Any],
    yes: bool,
) -> None:
    """Cancel a call: delete it if it waits, stop it if it runs; or every queued
    task a filter matches.

    ID is a task id or its first characters. A call that has already ended is left
    as it is (exit status 0, and a message that says so).
    """
    if task_id and matching.given(filters):
        raise CommandError("give an ID or filters, not both", EXIT_USAGE)
    if task_id:
        _cancel_one(conn, task_id, wait, timeout)
        return
    if not matching.given(filters):
        raise CommandError(
            "give a task's ID, or filters: --task NAME, --older-than 1h, --state ready",
            EXIT_USAGE,
        )
    if wait:
        raise CommandError("--wait goes with one ID, not with filters", EXIT_USAGE)
    matching.run(conn, "cancel", filters, yes, "ready")


def _cancel_one(conn: Connection, task_id: str, wait: bool, timeout: float) -> None:
    insp = conn.inspector(write=True, force=True)
    full = resolve.resolve_id(insp, task_id)
    done, state = steering.cancel(conn.huey, full)
    if done == steering.DELETED:
        render.note(f"cancelled task {full}: it was {state}, now deleted")
        return
    if done == steering.GONE:
        render.note(f"task {full} has already finished: nothing to cancel")
        return
    if done == steering.DEAD:
        render.note(f"task {full} has already ended (a dead letter): nothing to cancel")
        return
    if not wait:
        render.note(
            f"asked the worker running task {full} to stop it (within about a second); "
            f"'hueyctl show {full}' tells when it has"
        )
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = insp.task(full)
        if info is None or info.state != "running":
            render.note(f"cancelled task {full}: it has stopped")
            return
        time.sleep(CANCEL_POLL)
    raise CommandError(
        f"task {full} is still running {timeout:g}s after the cancel: its worker stops it "
        "when it next checks (a thread worker cannot stop code that never does)"
    )


COMMANDS = (pause, resume, cancel)
