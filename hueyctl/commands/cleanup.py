"""Clean up: ``retry`` failed tasks (dead letters), ``delete`` one task, ``purge``
a whole listing, ``flush-locks``. Each asks before it changes much (``--yes``
skips the question) and shows a progress bar on a terminal for thousands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from engine.api import Huey
from engine.inspect import UNREADABLE, Inspector, name_matches, scan

from .. import present, render, resolve
from ..errors import EXIT_USAGE, CommandError
from ..options import Connection, complete_task, confirm, connection_options


def dead_ids(insp: Inspector, task: str | None, readable: bool = False) -> list[str]:
    """Every dead letter's id (optionally one task's; ``readable``: not the unreadable
    ones, which cannot run), snapshotted before acting so tasks that fail again while
    we work are not picked up twice."""

    def keep(i: Any) -> bool:
        return name_matches(i.name, task) and not (readable and i.name.startswith(UNREADABLE))

    dead = scan(insp.failed, keep, page=resolve.PAGE)
    return list(dict.fromkeys(i.id for i in dead.items))


def batches(items: Sequence[Any], label: str) -> Iterator[Sequence[Any]]:
    """``items`` in batches of resolve.PAGE, with a progress bar on a terminal (stderr)."""
    chunks = [items[i : i + resolve.PAGE] for i in range(0, len(items), resolve.PAGE)]
    if not render.stderr_is_tty() or len(items) <= resolve.PAGE:
        yield from chunks
        return
    with click.progressbar(length=len(items), label=label, file=sys.stderr) as bar:
        for chunk in chunks:
            yield chunk
            bar.update(len(chunk))


@click.command()
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
    insp = conn.inspector()
    huey = conn.huey
    if task_id:
        dead = [i.id for i in insp.failed(0, 2, None, task_id)]
        if insp.task(task_id) is None and len(dead) == 1:
            resolved = dead[0]  # a prefix is looked up among dead letters first
        else:
            resolved = resolve.resolve_id(insp, task_id, results=False)
        info = insp.task(resolved)
        if info is None or info.state != "dead":
            state = info.state if info else "finished"
            raise CommandError(f"task {resolved} is {state}, not a dead letter: nothing to retry")
        if info.name.startswith(UNREADABLE):
            raise CommandError(
                f"task {resolved} is {info.name}: it cannot run, so it is not retried"
                " (delete it with hueyctl delete)"
            )
        if not huey.retry_failed(resolved):
            raise CommandError(f"task {resolved} left the dead letters meanwhile: nothing changed")
        render.note(f"retried {info.name} {resolved}: it is pending again")
        return
    ids = dead_ids(insp, task, readable=True)
    which = f" of {task}" if task else ""
    if not ids:
        render.note(f"no dead letters{which} to retry")
        return
    confirm(f"Put {len(ids)} dead letter(s){which} back on {resolve.queue_label(insp)}?", yes)
    done = 0
    for chunk in batches(ids, "retrying"):
        done += sum(1 for i in chunk if huey.retry_failed(i))
    gone = len(ids) - done
    render.note(
        f"retried {done} dead letter(s){which}" + (f"; {gone} had left meanwhile" if gone else "")
    )


@click.command()
@click.argument("task_id", metavar="ID")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
def delete(conn: Connection, task_id: str, yes: bool) -> None:
    """Delete one queued or dead task.

    A pending, scheduled or dead task, or the result of a finished one. ID may be a
    prefix. A running task cannot be deleted: revoke it instead.
    """
    insp = conn.inspector()
    huey = conn.huey
    resolved = resolve.resolve_id(insp, task_id)
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
    return insp.overview(1).in_state(present.label_state(what))


def _purge_in_batches(insp: Inspector, huey: Huey, what: str, total: int) -> int:
    """Delete page by page so a progress bar can follow; what is left at the end
    (added meanwhile) goes in one step."""
    fetch: Callable[[], list[str]]
    remove: Callable[[str], bool]
    if what == "results":
        fetch, remove = (lambda: [r.id for r in insp.results(0, resolve.PAGE)]), huey.delete
    else:
        state = present.label_state(what)
        fetch, remove = (
            (lambda: [i.id for i in insp.tasks(state, 0, resolve.PAGE)]),
            huey.delete_task,
        )
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


@click.command()
@click.argument("what", type=click.Choice(list(PURGE_WHAT)))
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
def purge(conn: Connection, what: str, yes: bool) -> None:
    """Delete every pending, scheduled, failed or result.

    WHAT is pending (ready tasks), scheduled, failed (dead letters) or results.
    """
    insp = conn.inspector()
    huey = conn.huey
    total = _count(insp, huey, what)
    if not total:
        render.note(f"no {PURGE_WHAT[what]} in {resolve.queue_label(insp)}: nothing to purge")
        return
    confirm(f"Delete {total} {PURGE_WHAT[what]} from {resolve.queue_label(insp)}?", yes)
    try:
        if render.stderr_is_tty() and total > resolve.PAGE:
            n = _purge_in_batches(insp, huey, what, total)
        else:
            n = huey.purge(what)
    except KeyboardInterrupt:
        left = _count(insp, huey, what)
        raise CommandError(
            f"interrupted: {present.count(max(0, total - left))} of {present.count(total)} "
            f"{PURGE_WHAT[what]} purged, {present.count(left)} left in "
            f"{resolve.queue_label(insp)}"
        ) from None
    render.note(f"purged {n} {PURGE_WHAT[what]} from {resolve.queue_label(insp)}")


@click.command("flush-locks")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
def flush_locks(conn: Connection, names: tuple[str, ...], yes: bool) -> None:
    """Clear task locks.

    The NAMEd ones, or all of them (e.g. one left behind by a killed worker).
    """
    insp = conn.inspector()
    huey = conn.huey
    which = ", ".join(names) if names else "every task lock"
    confirm(
        f"Clear {which} of {resolve.queue_label(insp)}? A task holding one may then run twice.", yes
    )
    cleared = huey.flush_locks(*names)
    listed = f": {', '.join(sorted(cleared))}" if cleared else ""
    render.note(f"cleared {len(cleared)} lock(s){listed}")
    missing = sorted(set(names) - cleared)
    if missing:
        render.note(f"not held: {', '.join(missing)}")


COMMANDS = (retry, delete, purge, flush_locks)
