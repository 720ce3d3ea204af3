"""Steer the queue: ``enqueue`` a call, ``revoke`` a task name or id, ``restore`` it.

Every input is resolved (``resolve``) before anything changes, so a typo changes
nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from engine.api import Huey
from engine.exceptions import ResultTimeout, TaskException
from engine.inspect import Inspector, Revocation
from engine.telemetry import queue_is_signed

from .. import audit, present, render, replay, resolve
from ..errors import EXIT_USAGE, CommandError
from ..options import (
    SIGNING_KEY_ENV,
    SIGNING_KEY_FILE_HELP,
    Connection,
    apply_signing_key,
    complete_task,
    connection_options,
)
from . import matching


def print_value(v: Any) -> None:
    if isinstance(v, str):
        click.echo(v)
    else:
        click.echo(render.dumps(v))


@click.command(
    epilog="Arguments are JSON values when they parse, strings otherwise: "
    "'hueyctl enqueue tasks.add 1 2', 'hueyctl enqueue tasks.greet Ann', "
    '\'hueyctl enqueue tasks.f "[1, 2]" --kwargs "{\\"x\\": null}"\'. '
    "Use -- before arguments that start with a dash: 'hueyctl enqueue tasks.add -- -1 2'. "
    "'hueyctl enqueue --from dead.jsonl' replays a 'hueyctl failed --export' file."
)
@click.argument("task_name", metavar="TASK", required=False, shell_complete=complete_task)
@click.argument("args", nargs=-1)
@click.option("--kwargs", "kwargs_json", metavar="JSON", help="Keyword arguments, a JSON object.")
@click.option("--delay", metavar="SECONDS", help="Run after this long: 30, 90s, 5m, 2h.")
@click.option("--eta", metavar="WHEN", help=f"Run at this time: {resolve.WHEN_HELP}.")
@click.option("--priority", type=int, metavar="N", help="Higher runs first (default: the task's).")
@click.option(
    "--retries", type=click.IntRange(min=0), metavar="N", help="Retries (default: the task's)."
)
@click.option("--wait", is_flag=True, help="Wait for the result and print it.")
@click.option(
    "--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="With --wait: give up after."
)
@click.option(
    "--force",
    is_flag=True,
    help="Enqueue a task name this queue does not know, or arguments its signature refuses.",
)
@click.option(
    "--from",
    "from_file",
    metavar="FILE.jsonl",
    type=click.Path(dir_okay=False),
    help="Enqueue every task record of this file (from 'failed --export'), exactly.",
)
@click.option(
    "--signing-key-file",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help=SIGNING_KEY_FILE_HELP,
)
@connection_options
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
    from_file: str | None,
    signing_key_file: str | None,
) -> None:
    """Enqueue a call of TASK; print its id.

    With --wait, wait for the result and print it instead (the id goes to stderr).

    TASK is a registered name (tasks.count_beans) or its last part (count_beans) when
    that is unambiguous: one the app registers (--app), or one a registered worker
    publishes, or one this queue has seen; any other is refused unless --force. The
    arguments are checked against the task's signature when it is known (the app's
    function, or what the worker published; --force skips the check).

    A signed queue (its workers have a signing_key) needs the key: in the file
    --signing-key-file names, or in HUEYCTL_SIGNING_KEY; without one the command refuses.

    --from FILE replays task records (a 'hueyctl failed --export' file): each keeps its
    id, args, kwargs and options exactly; every line is checked before any is
    enqueued, and each record is signed with the queue's key (a signature in the file
    is never trusted).
    """
    if from_file is not None:
        if task_name or args or kwargs_json or delay or eta or priority is not None:
            raise CommandError(
                "--from enqueues the file's records as they are: give no TASK, arguments, "
                "--kwargs, --delay, --eta or --priority with it",
                EXIT_USAGE,
            )
        if retries is not None or wait or timeout is not None:
            raise CommandError("--from goes without --retries, --wait and --timeout", EXIT_USAGE)
        _enqueue_from(conn, from_file, force, signing_key_file)
        return
    if task_name is None:
        raise CommandError("give the TASK to enqueue (or --from FILE.jsonl)", EXIT_USAGE)
    values = resolve.parse_args(args)
    kwargs = resolve.parse_kwargs(kwargs_json)
    if delay is not None and eta is not None:
        raise CommandError("give --delay or --eta, not both", EXIT_USAGE)
    when: float | None = None
    if delay is not None:
        when = resolve.parse_delay(delay, time.time())
    elif eta is not None:
        when = resolve.parse_when(eta, "--eta", time.time())
    if timeout is not None and not wait:
        raise CommandError("--timeout goes with --wait", EXIT_USAGE)
    insp = conn.inspector(write=True, force=force)
    huey = conn.huey
    _signing(huey, signing_key_file)
    name = resolve.resolve_name(insp, conn.app_tasks(), task_name, force)
    problem = None if force else insp.check_call(name, values, kwargs)
    if problem:
        raise CommandError(f"{problem}: fix the arguments (--force sends them anyway)", EXIT_USAGE)
    res = huey.enqueue_by_name(name, values, kwargs, eta=when, priority=priority, retries=retries)
    later = f", due {present.when_ago(when, time.time())}" if when else ""
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
    print_value(v)


def _signing(huey: Huey, signing_key_file: str | None) -> None:
    """Sign with the key given; refuse a signed queue without one."""
    apply_signing_key(huey, signing_key_file)
    if huey.envelope.signing_key is None and queue_is_signed(huey.storage):
        raise CommandError(
            f"queue {huey.name!r} is signed (its workers verify signatures): give its key "
            f"in {SIGNING_KEY_ENV} or with --signing-key-file PATH",
            EXIT_USAGE,
        )


def _enqueue_from(conn: Connection, path: str, force: bool, signing_key_file: str | None) -> None:
    insp = conn.inspector(write=True, force=force)
    huey = conn.huey
    _signing(huey, signing_key_file)
    total = replay.check(huey, path)
    if not total:
        render.note(f"{path} holds no task records: nothing enqueued")
        return
    where = resolve.queue_label(insp)
    if render.stderr_is_tty() and total > replay.BATCH:
        with click.progressbar(length=total, label="enqueuing", file=sys.stderr) as bar:
            done = replay.enqueue(huey, path, bar.update)
    else:
        done = replay.enqueue(huey, path)
    signed = ", signed with the queue's key" if huey.envelope.signing_key else ""
    audit.record(huey, "replay", path, count=done, detail=f"enqueued {done} record(s){signed}")
    render.note(
        f"enqueued {done} task(s) from {path} on {where} (ids, args and options kept{signed})"
    )


# --- revoke / restore ------------------------------------------------------------------------
def covers(a: Revocation, b: Revocation) -> bool:
    """Whether revocation ``a`` stops every call ``b`` would stop (same target)."""
    if not a.once:  # a window (no end: every call from now on)
        return a.until is None or (b.until is not None and b.until <= a.until)
    # a once-skip stops the next call (before its until): only another once-skip fits
    return b.once and (a.until is None or (b.until is not None and b.until <= a.until))


def spell(r: Revocation, now: float) -> str:
    """``every call until 21:49:40 (in 3h)``, ``the next call``, ``every call, no end``."""
    what = "the next call" if r.once else "every call"
    if r.until is None:
        return what if r.once else f"{what}, until restored"
    return (
        f"{what} before {present.when_ago(r.until, now)}"
        if r.once
        else (f"{what} until {present.when_ago(r.until, now)}")
    )


def in_force(insp: Inspector, kind: str, target: str) -> Revocation | None:
    return next((r for r in insp.revocations() if r.kind == kind and r.target == target), None)


@click.command(
    epilog="Examples: 'hueyctl revoke print_time --until \"2026-12-01 06:00\"' pauses a "
    "periodic task until then (local time); 'hueyctl revoke tasks.send_mail --until 2h'; "
    "'hueyctl revoke 0190ab12' cancels one queued call. A revocation in force is never "
    "shortened or dropped: one that covers the new one is kept (nothing changes), a new one "
    "that covers it extends it, and any other is refused unless --replace. "
    "'hueyctl revoke --state pending --task send_mail --older-than 1h' revokes each matching "
    "call by its id (asks first; --yes for scripts)."
)
@click.argument("target", required=False, shell_complete=complete_task)
@click.option("--once", is_flag=True, help="Skip only the next run of the task.")
@click.option("--until", "until", metavar="WHEN", help=f"Until {resolve.WHEN_HELP}.")
@click.option(
    "--replace", is_flag=True, help="Replace the revocation in force, even if that shortens it."
)
@click.option("--force", is_flag=True, help="Revoke a task name this queue does not know.")
@matching.filter_options
@connection_options
def revoke(
    conn: Connection,
    target: str | None,
    once: bool,
    until: str | None,
    replace: bool,
    force: bool,
    filters: dict[str, Any],
    yes: bool,
) -> None:
    """Revoke a task name or one task id, or every call a filter matches.

    TARGET is a task name (every call, periodic runs included) or a task id (that one
    call; a prefix works). Undo with 'hueyctl restore TARGET'.

    TARGET may be a task's last name part (print_time for tasks.print_time) when that is
    unambiguous. Without --until or --once it stays revoked until restored.

    With --state (and --task, --error, --older-than) and no TARGET, each call that
    matches is revoked by its id, after a count and a question.
    """
    if matching.given(filters):
        if target is not None or until is not None or once or replace:
            raise CommandError(
                "filters revoke each matching call by id, until restored: give no TARGET, "
                "--until, --once or --replace with them",
                EXIT_USAGE,
            )
        matching.run(conn, "revoke", filters, yes, None)
        return
    if target is None:
        raise CommandError(
            "give a task name or id to revoke, or filters: --state pending --task NAME",
            EXIT_USAGE,
        )
    now = time.time()
    until_ts = resolve.parse_when(until, "--until", now) if until is not None else None
    insp = conn.inspector(write=True, force=force)
    huey = conn.huey
    kind, resolved = resolve.resolve_target(insp, conn.app_tasks(), target, force)
    new = Revocation(resolved, kind, until_ts, once or kind == "id")
    label = resolved if kind == "task" else f"task {resolved}"
    current = in_force(insp, kind, resolved)
    if current is not None and not replace:
        if covers(current, new):
            render.note(
                f"{label} is already revoked ({spell(current, now)}), which covers "
                f"{spell(new, now)}: nothing changed (--replace sets the new one instead)"
            )
            return
        if not covers(new, current):
            raise CommandError(
                f"{label} is already revoked ({spell(current, now)}); revoking "
                f"{spell(new, now)} would drop that: nothing changed (--replace sets the new "
                "one instead)"
            )
    if kind == "task":
        huey.revoke_all(resolved, revoke_until=until_ts, revoke_once=once)
    else:
        huey.revoke_by_id(resolved, revoke_until=until_ts, revoke_once=True)
    was = f" (was: {spell(current, now)})" if current is not None else ""
    span = f" until {present.when_ago(until_ts, now)}" if until_ts else ""
    audit.record(
        huey,
        "revoke",
        resolved,
        task_id=resolved if kind == "id" else "",
        task=resolved if kind == "task" else "",
        detail=spell(new, now),
    )
    if kind == "task":
        what = "the next run of" if once else "every call of"
        render.note(f"revoked {what} {resolved}{span}{was}; 'hueyctl restore {resolved}' undoes it")
        return
    info = insp.task(resolved)
    state = info.state if info is not None else "unknown"
    extra = " (it is running now: this stops only its retries)" if state == "running" else ""
    name = info.name if info else "?"
    render.note(f"revoked task {resolved} ({name}, {state}){span}{was}{extra}")


@click.command()
@click.argument("target", shell_complete=complete_task)
@connection_options
def restore(conn: Connection, target: str) -> None:
    """Lift a revocation (undo revoke).

    TARGET is a revoked task name (its last part works) or task id (a prefix works).
    """
    insp = conn.inspector()
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
            render.note(
                f"{target!r} is not revoked in {resolve.queue_label(insp)}: nothing to restore "
                "('hueyctl revocations' lists what is)"
            )
            return
        kind, resolved = candidates[0]
    done = huey.restore_all(resolved) if kind == "task" else huey.restore_by_id(resolved)
    if not done:
        render.note(f"{resolved} was no longer revoked: nothing to restore")
        return
    label = f"task {resolved}" if kind == "id" else f"every call of {resolved}"
    audit.record(
        huey,
        "restore",
        resolved,
        task_id=resolved if kind == "id" else "",
        task=resolved if kind == "task" else "",
    )
    render.note(f"restored {label}")


COMMANDS = (enqueue, revoke, restore)
