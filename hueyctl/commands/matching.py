"""Commands over everything a filter matches: the shared options and runner of the
bulk forms of ``retry``, ``delete``, ``revoke`` and ``cancel`` (and ``purge pending
--task``); ``cancel`` itself lives with ``pause`` and ``resume`` (``pausing``).

Each counts first, asks (``--yes`` skips the question; without a terminal it is
refused rather than asked), shows a progress bar on a terminal, and ends with an
exact report (``retried 10000 of 10000 matching; 0 skipped (already gone)``) that
is also the audit event's detail. The walking and acting is ``hueyctl.bulk``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from engine.api import Huey
from engine.inspect import Inspector

from .. import bulk, present, render, resolve
from ..errors import EXIT_USAGE, CommandError
from ..options import Connection, complete_task, confirm

F = TypeVar("F", bound=Callable[..., Any])
STATE_WORDS = {"ready": "ready", "pending": "ready", "scheduled": "scheduled", "dead": "dead"}
STATE_WORDS["failed"] = "dead"
NOUNS = {"ready": "pending task(s)", "scheduled": "scheduled task(s)", "dead": "dead letter(s)"}


def filter_options(fn: F) -> F:
    """Add --task, --error, --older-than, --state and -y/--yes (passed as ``filters``,
    a dict, and ``yes``)."""

    @click.option(
        "--task",
        "task",
        metavar="NAME",
        shell_complete=complete_task,
        help="Only this task (full name, or its last part).",
    )
    @click.option(
        "--error", "error", metavar="TEXT", help="Only dead letters whose error contains TEXT."
    )
    @click.option(
        "--older-than",
        "older_than",
        metavar="DURATION",
        help="Only tasks failed (dead letters) or enqueued at least this long ago: 90s, 1h, 2d.",
    )
    @click.option(
        "--state",
        "state",
        type=click.Choice(sorted(STATE_WORDS)),
        help="Which listing: ready (pending), scheduled or dead (failed).",
    )
    @click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
    @functools.wraps(fn)
    def inner(
        *args: Any,
        task: str | None,
        error: str | None,
        older_than: str | None,
        state: str | None,
        **kwargs: Any,
    ) -> Any:
        filters = {"task": task, "error": error, "older_than": older_than, "state": state}
        return fn(*args, filters=filters, **kwargs)

    return inner  # type: ignore[return-value]


def given(filters: dict[str, Any]) -> bool:
    """Whether any filter option was given."""
    return any(v is not None for v in filters.values())


def selection(action: bulk.Action, filters: dict[str, Any], default: str | None) -> bulk.Selection:
    """The Selection of the options, checked against what ``action`` works on."""
    state = STATE_WORDS[filters["state"]] if filters["state"] else None
    if filters["error"] is not None:
        if state not in (None, "dead"):
            raise CommandError(
                "--error filters dead letters: it goes with --state dead", EXIT_USAGE
            )
        state = "dead"
    state = state or default
    if state is None:
        raise CommandError(
            f"say which tasks to {action.name}: --state "
            + "|".join(action.states)
            + " (with --task, --error, --older-than to narrow it)",
            EXIT_USAGE,
        )
    if state not in action.states:
        raise CommandError(
            f"{action.name} works on {' and '.join(action.states)} tasks, not {state}", EXIT_USAGE
        )
    older = None
    if filters["older_than"] is not None:
        older = resolve.parse_duration(filters["older_than"])
        if older is None:
            raise CommandError(
                f"--older-than {filters['older_than']!r} is not a duration: 90s, 30m, 1h, 2d",
                EXIT_USAGE,
            )
    return bulk.Selection(state, filters["task"], filters["error"], older)


def ask(question: str, yes: bool) -> None:
    """The bulk question: ``--yes`` skips it; without a terminal to answer it the
    command is refused (a script must say --yes), never left waiting."""
    if yes:
        return
    if not render.stdin_is_tty():
        raise CommandError(f"{question} Not asked without a terminal: nothing changed (--yes)")
    confirm(question, yes)


def run(
    conn: Connection, action_name: str, filters: dict[str, Any], yes: bool, default: str | None
) -> None:
    """Count, ask, act with a progress bar, report: the whole bulk command."""
    action = bulk.ACTIONS[action_name]
    sel = selection(action, filters, default)
    insp = conn.inspector()  # an unseen queue is warned about: there is nothing to act on
    if sel.task is not None:
        unknown = resolve.unknown_filter(insp, conn.app_tasks(), sel.task)
        if unknown:
            render.note(unknown)
    cutoff = time.time()
    found = bulk.count(insp, action, sel, cutoff)
    what = f"{NOUNS[sel.state]} matching {sel.describe()} in {resolve.queue_label(insp)}"
    if not found.matched:
        left = bulk.Report(action, sel, 0, 0, found.ineligible).line().partition("; ")[2]
        left = left.partition("; ")[2]  # only the part on what was left as it is
        zero = f"{action.done} 0 of 0 matching" + (f"; {left}" if left else "")
        render.note(f"no {what}: {zero}")
        return
    ask(f"{action.name.capitalize()} {present.count(found.matched)} {what}?", yes)
    try:
        report = _with_progress(insp, conn.huey, action, sel, cutoff, found)
    except bulk.Interrupted as stop:
        raise CommandError(
            f"interrupted: {stop.report.line()}; run it again to {action.name} the rest"
        ) from None
    render.note(report.line())


def _with_progress(
    insp: Inspector,
    huey: Huey,
    action: bulk.Action,
    sel: bulk.Selection,
    cutoff: float,
    found: bulk.Count,
) -> bulk.Report:
    if not render.stderr_is_tty() or found.matched <= bulk.PAGE:
        return bulk.run(insp, huey, action, sel, cutoff, found)
    # rich only with a terminal to draw on: every command imports this module, and
    # scripted calls (cron, pipes) should not pay for it (see hueyctl.render).
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn(f"{action.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, force_terminal=True),
        transient=True,
    )
    with progress:
        bar = progress.add_task(action.name, total=found.matched)
        return bulk.run(insp, huey, action, sel, cutoff, found, lambda n: progress.advance(bar, n))


# ``cancel`` (one ID, or every queued task a filter matches) is in ``pausing``: it
# shares this module's options and runner.
COMMANDS: tuple[click.Command, ...] = ()
