"""Act on everything a filter matches: retry, delete, revoke or cancel in bulk.

Shared by the CLI (``retry``/``delete``/``revoke``/``cancel`` with ``--task``,
``--error``, ``--older-than``, ``--state``; ``purge pending --task``) and ``top``
(``R``/``D`` with a filter), and free of any UI: progress goes to a callback.

Bounded memory whatever the queue's size: a :class:`Selection` is counted by one
walk of the listing a page at a time, then :func:`sweep` walks it again and acts
on each page's matches as it goes (a page of ids at a time, never the whole list).

What "everything that matched" means while workers keep changing the queue:
only tasks that entered their state (failed, for a dead letter; enqueued,
otherwise) at or before the moment the command started (the ``cutoff``) are
taken, so a retried task that fails again, or a task enqueued meanwhile, is not
taken twice or by surprise. Positions shift while we act (tasks claimed ahead of
the page being read), so a walk that did fewer than were counted walks again
(at most :data:`PASSES` times); tasks still missing are reported as skipped
(already gone: claimed, retried or deleted by someone else).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from engine.api import Huey
from engine.inspect import UNREADABLE, Inspector, TaskInfo, name_matches

from . import audit, present

PAGE = 500  # tasks read (and acted on) per round trip
PASSES = 3  # walks of the listing that act, at most
STATES = ("ready", "scheduled", "dead")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which tasks a bulk action takes: those in ``state`` (ready, scheduled or
    dead) of task ``task`` (``--task``, the listings' rule), whose dead letter's
    error contains ``error`` (case-insensitive), that entered the state at least
    ``older_than`` seconds ago (a dead letter's failure time, otherwise its
    enqueue time), and that ``keep`` accepts (``top``'s filter; ``label`` says it)."""

    state: str
    task: str | None = None
    error: str | None = None
    older_than: float | None = None
    keep: Callable[[TaskInfo], bool] | None = None
    label: str | None = None

    def describe(self) -> str:
        """The selection as the audit trail and the messages say it:
        ``state=dead task=tasks.boom error~'timeout' older-than=1h``."""
        parts = [f"state={self.state}"]
        if self.task is not None:
            parts.append(f"task={self.task}")
        if self.error is not None:
            parts.append(f"error~{self.error!r}")
        if self.older_than is not None:
            parts.append(f"older-than={present.duration(self.older_than)}")
        if self.label is not None:
            parts.append(f"filter={self.label!r}")
        return " ".join(parts)

    def matches(self, info: TaskInfo, cutoff: float) -> bool:
        """Whether ``info`` is selected, for a command that started at ``cutoff``."""
        if not name_matches(info.name, self.task):
            return False
        if self.error is not None and self.error.lower() not in (info.error or "").lower():
            return False
        if self.keep is not None and not self.keep(info):
            return False
        since = info.failed_at if self.state == "dead" else info.enqueued_at
        latest = cutoff - (self.older_than or 0.0)
        if since is None:  # an unreadable record: no time to compare
            return self.older_than is None
        return since <= latest


@dataclass(frozen=True, slots=True)
class Action:
    """One bulk action: its name (the audit's ``admin.<name>``), the verb of the
    report, the states it works on, whether it takes the tasks out of the listing,
    which tasks it can act on, and the act itself (the count it changed)."""

    name: str
    done: str  # "retried"
    states: tuple[str, ...]
    removes: bool
    eligible: Callable[[TaskInfo], bool]
    apply: Callable[[Huey, Sequence[TaskInfo]], int]


def _readable(info: TaskInfo) -> bool:
    return not info.name.startswith(UNREADABLE)


def _retry(huey: Huey, items: Sequence[TaskInfo]) -> int:
    return huey.retry_failed_many([i.id for i in items])


def _delete(huey: Huey, items: Sequence[TaskInfo]) -> int:
    return huey.delete_tasks([i.id for i in items])


def _revoke(huey: Huey, items: Sequence[TaskInfo]) -> int:
    for i in items:
        huey.revoke_by_id(i.id)
    return len(items)


ACTIONS = {
    "retry": Action("retry", "retried", ("dead",), True, _readable, _retry),
    "delete": Action("delete", "deleted", STATES, True, lambda i: True, _delete),
    "revoke": Action("revoke", "revoked", STATES, False, lambda i: not i.revoked, _revoke),
    # Queued tasks only: cancelling a queued task is deleting it (a running one is
    # stopped by ``hueyctl cancel ID``, which this does not do).
    "cancel": Action("cancel", "cancelled", ("ready", "scheduled"), True, lambda i: True, _delete),
}


@dataclass(frozen=True, slots=True)
class Count:
    """What a selection matches now: ``matched`` tasks the action can take, and
    ``ineligible`` ones it cannot (unreadable letters for retry, revoked calls
    for revoke)."""

    matched: int
    ineligible: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    """What a bulk action did: ``done`` of the ``matched`` tasks counted first."""

    action: Action
    selection: Selection
    matched: int
    done: int
    ineligible: int = 0
    warning: str | None = None  # the audit event could not be written
    interrupted: bool = False  # Ctrl-C: the rest is left as it was

    @property
    def skipped(self) -> int:
        """Counted but not acted on: gone meanwhile (claimed, retried, deleted)."""
        return max(0, self.matched - self.done)

    def line(self) -> str:
        """``retried 10000 of 10000 matching; 0 skipped (already gone)``."""
        why = "left (interrupted)" if self.interrupted else "skipped (already gone)"
        text = f"{self.action.done} {self.done} of {self.matched} matching; {self.skipped} {why}"
        if self.ineligible:
            why = "unreadable, delete them" if self.action.name == "retry" else "revoked already"
            text += f"; {self.ineligible} left as they are ({why})"
        return text


class Interrupted(Exception):
    """Ctrl-C stopped a bulk action; ``report`` says what was done by then."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.line())
        self.report = report


def pages(insp: Inspector, state: str, page: int = PAGE) -> Iterator[list[TaskInfo]]:
    """The listing of ``state``, a page at a time (positions as read: a walk, not a
    snapshot)."""
    offset = 0
    while True:
        batch = insp.tasks(state, offset, page)
        if batch:
            yield batch
        if len(batch) < page:
            return
        offset += len(batch)


def count(insp: Inspector, action: Action, sel: Selection, cutoff: float) -> Count:
    """How many tasks ``sel`` matches at ``cutoff`` that ``action`` can take (one walk)."""
    matched = ineligible = 0
    for batch in pages(insp, sel.state):
        for info in batch:
            if sel.matches(info, cutoff):
                if action.eligible(info):
                    matched += 1
                else:
                    ineligible += 1
    return Count(matched, ineligible)


def sweep(
    insp: Inspector,
    huey: Huey,
    action: Action,
    sel: Selection,
    cutoff: float,
    expected: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Act on every task ``sel`` matches at ``cutoff``, a page at a time; returns
    how many changed. ``expected`` is the count taken first: a walk that did fewer
    walks again (positions shift under a busy queue). ``progress(n)`` after each
    page that changed ``n``."""
    done = 0
    for _ in range(PASSES if action.removes else 1):
        offset = acted = 0
        while True:
            batch = insp.tasks(sel.state, offset, PAGE)
            chosen = [i for i in batch if action.eligible(i) and sel.matches(i, cutoff)]
            n = action.apply(huey, chosen) if chosen else 0
            acted += n
            if n and progress is not None:
                progress(n)
            # Those chosen left the listing either way (acted on, or gone already).
            offset += len(batch) - (len(chosen) if action.removes else 0)
            if len(batch) < PAGE:
                break
        done += acted
        if acted == 0 or done >= expected:
            break
    return done


def run(
    insp: Inspector,
    huey: Huey,
    action: Action,
    sel: Selection,
    cutoff: float,
    matched: Count,
    progress: Callable[[int], None] | None = None,
    quiet: bool = False,
) -> Report:
    """:func:`sweep`, then the audit event (``admin.<action>`` with the selection,
    the count and the report's line); ``quiet``: a failed audit write is only in
    ``Report.warning``, not printed."""
    so_far = [0]

    def count_and_show(n: int) -> None:
        so_far[0] += n
        if progress is not None:
            progress(n)

    try:
        done = sweep(insp, huey, action, sel, cutoff, matched.matched, count_and_show)
    except KeyboardInterrupt:
        # What was done is done: the audit trail says so, and so does the message.
        report = Report(action, sel, matched.matched, so_far[0], matched.ineligible)
        report = replace(report, interrupted=True)
        line = f"interrupted: {report.line()}"
        audit.record(huey, action.name, sel.describe(), task=sel.task or "", count=so_far[0],
                     detail=line, quiet=quiet)  # fmt: skip
        raise Interrupted(report) from None
    report = Report(action, sel, max(matched.matched, done), done, matched.ineligible)
    warning = audit.record(
        huey,
        action.name,
        sel.describe(),
        task=sel.task or "",
        count=done,
        detail=report.line(),
        quiet=quiet,
    )
    return replace(report, warning=warning)
