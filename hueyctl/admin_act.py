"""Admin commands that change a queue: enqueue, revoke/restore, retry, delete,
purge, flush-locks. Helpers and conventions are in ``hueyctl.admin``."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from engine.api import Huey
from engine.exceptions import ResultTimeout, TaskException
from engine.inspect import Inspector

from . import admin, render
from .admin import (
    _ID_LIKE,
    WHEN_HELP,
    _suffix_matches,
    _unknown_name,
    complete_task,
    confirm,
    find_ids,
    guarded,
    inspector,
    known_names,
    open_huey,
    parse_duration,
    parse_when,
    queue_label,
    resolve_id,
    resolve_name,
)
from .cli import main
from .context import Connection, connection_options
from .errors import EXIT_USAGE, CommandError


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
    while batch := insp.failed(offset, admin.PAGE, task, None):
        ids.extend(i.id for i in batch)
        offset += len(batch)
        if len(batch) < admin.PAGE:
            break
    return list(dict.fromkeys(ids))


def batches(items: Sequence[Any], label: str) -> Iterator[Sequence[Any]]:
    """``items`` in batches of admin.PAGE, with a progress bar on a terminal (stderr)."""
    chunks = [items[i : i + admin.PAGE] for i in range(0, len(items), admin.PAGE)]
    if not render.stderr_is_tty() or len(items) <= admin.PAGE:
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
        fetch, remove = (lambda: [r.id for r in insp.results(0, admin.PAGE)]), huey.delete
    else:
        lister = {"pending": insp.pending, "scheduled": insp.scheduled, "failed": insp.failed}[what]
        fetch, remove = (
            (lambda: [i.id for i in lister(0, admin.PAGE, None, None)]),
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
    if render.stderr_is_tty() and total > admin.PAGE:
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
