"""Clean up: ``retry`` failed tasks (dead letters), ``delete`` one task, ``purge``
a whole listing, ``flush-locks``. Each asks before it changes much (``--yes``
skips the question) and shows a progress bar on a terminal for thousands; the
bulk forms (filters) run through ``commands.matching``. Each change is an event
of the audit trail (``hueyctl.audit``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from engine.api import Huey
from engine.inspect import UNREADABLE, Inspector

from .. import audit, present, render, resolve
from ..errors import EXIT_USAGE, CommandError
from ..options import Connection, complete_task, confirm, connection_options
from . import matching


@click.command(
    epilog="Examples: 'hueyctl retry 0190ab12'; 'hueyctl retry --task send_mail --error "
    "Timeout --older-than 1h' (asks first; --yes for scripts)."
)
@click.argument("task_id", metavar="[ID]", required=False)
@click.option("--all", "all_", is_flag=True, help="Every dead letter (filters narrow it).")
@matching.filter_options
@connection_options
def retry(
    conn: Connection, task_id: str | None, all_: bool, filters: dict[str, Any], yes: bool
) -> None:
    """Put dead letters back on the queue.

    One by ID (a prefix works), or every one --all or a filter matches (--task,
    --error, --older-than): counted, confirmed, then reported exactly.
    """
    bulk_form = all_ or matching.given(filters)
    if task_id and bulk_form:
        raise CommandError("give a dead letter's ID, or --all/filters, not both", EXIT_USAGE)
    if not task_id and not bulk_form:
        raise CommandError(
            "give a dead letter's ID, or --all (--task NAME, --error TEXT, --older-than 1h "
            "narrow it)",
            EXIT_USAGE,
        )
    if bulk_form:
        matching.run(conn, "retry", filters, yes, "dead")
        return
    assert task_id is not None
    insp = conn.inspector()
    huey = conn.huey
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
    audit.record(huey, "retry", resolved, task_id=resolved, task=info.name, count=1)
    render.note(f"retried {info.name} {resolved}: it is pending again")


@click.command(
    epilog="Examples: 'hueyctl delete 0190ab12'; 'hueyctl delete --state failed --task "
    "import_feed --older-than 7d' (asks first; --yes for scripts)."
)
@click.argument("task_id", metavar="[ID]", required=False)
@matching.filter_options
@connection_options
def delete(conn: Connection, task_id: str | None, filters: dict[str, Any], yes: bool) -> None:
    """Delete one queued or dead task, or every one a filter matches.

    A pending, scheduled or dead task, or the result of a finished one. ID may be a
    prefix. A running task cannot be deleted: revoke it instead. With --state
    (and --task, --error, --older-than) every match is deleted, after a count and
    a question.
    """
    if task_id and matching.given(filters):
        raise CommandError("give a task's ID, or filters, not both", EXIT_USAGE)
    if not task_id:
        if not matching.given(filters):
            raise CommandError(
                "give a task's ID, or filters: --state failed --task NAME ...", EXIT_USAGE
            )
        matching.run(conn, "delete", filters, yes, None)
        return
    insp = conn.inspector()
    huey = conn.huey
    resolved = resolve.resolve_id(insp, task_id)
    info = insp.task(resolved)
    if info is None:
        confirm(f"Delete the result of task {resolved}?", yes)
        if not huey.delete(resolved):
            raise CommandError(f"the result of {resolved} is gone already: nothing changed")
        audit.record(huey, "delete", resolved, task_id=resolved, count=1, detail="its result")
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
    audit.record(
        huey, "delete", resolved, task_id=resolved, task=info.name, count=1, detail=info.state
    )
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


@click.command(
    epilog="Example: 'hueyctl purge pending --task send_newsletter' drops a flood of one task."
)
@click.argument("what", type=click.Choice(list(PURGE_WHAT)))
@click.option(
    "--task",
    "task",
    metavar="NAME",
    shell_complete=complete_task,
    help="Only this task's (pending, scheduled, failed).",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
def purge(conn: Connection, what: str, task: str | None, yes: bool) -> None:
    """Delete every pending, scheduled, failed or result.

    WHAT is pending (ready tasks), scheduled, failed (dead letters) or results.
    With --task only that task's are deleted (a bulk delete: counted, confirmed,
    reported).
    """
    if task is not None:
        if what == "results":
            raise CommandError(
                "results cannot be purged by --task: a stored result does not record its "
                "task's name",
                EXIT_USAGE,
            )
        filters = {"task": task, "error": None, "older_than": None, "state": what}
        matching.run(conn, "delete", filters, yes, None)
        return
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
    audit.record(huey, "purge", what, count=n, detail=f"purged {n} {PURGE_WHAT[what]}")
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
    audit.record(huey, "flush-locks", ", ".join(names) or "all", count=len(cleared))
    listed = f": {', '.join(sorted(cleared))}" if cleared else ""
    render.note(f"cleared {len(cleared)} lock(s){listed}")
    missing = sorted(set(names) - cleared)
    if missing:
        render.note(f"not held: {', '.join(missing)}")


COMMANDS = (retry, delete, purge, flush_locks)
