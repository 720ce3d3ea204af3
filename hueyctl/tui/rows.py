"""Columns and rows of every table, as pure functions of the read model.

User data (task names, ids, args, errors) always goes into ``rich.text.Text``
so that brackets in it are shown, never parsed as markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from engine.inspect import Event, PeriodicInfo, Revocation, TaskInfo, TaskStats, WorkerInfo

from . import fmt
from .actions import Target

STALE_AFTER = 10.0  # seconds without a heartbeat before a worker is flagged


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[Text, ...]
    target: Target | None = None


def _t(value: object, style: str = "", right: bool = False) -> Text:
    return Text(
        str(value),
        style=style,
        justify="right" if right else "left",
        no_wrap=True,
        overflow="ellipsis",
    )


COLUMNS: dict[str, tuple[Column, ...]] = {
    "stats": (
        Column("task", "task"),
        Column("runs", "runs", True),
        Column("failures", "failures", True),
        Column("rate", "fail %", True),
        Column("avg", "avg", True),
        Column("max", "max", True),
    ),
    "workers": (
        Column("host", "host"),
        Column("pid", "pid", True),
        Column("id", "worker"),
        Column("uptime", "uptime", True),
        Column("busy", "busy", True),
        Column("current", "current tasks"),
        Column("done", "done", True),
        Column("failed", "failed", True),
        Column("heartbeat", "heartbeat", True),
        Column("state", "state"),
    ),
    "pending": (
        Column("n", "#", True),
        Column("id", "id"),
        Column("task", "task"),
        Column("args", "args"),
        Column("prio", "prio", True),
        Column("age", "age", True),
        Column("revoked", "revoked"),
    ),
    "scheduled": (
        Column("id", "id"),
        Column("task", "task"),
        Column("args", "args"),
        Column("eta", "eta", True),
        Column("countdown", "countdown", True),
        Column("attempt", "attempt", True),
        Column("revoked", "revoked"),
    ),
    "running": (
        Column("id", "id"),
        Column("task", "task"),
        Column("args", "args"),
        Column("worker", "worker"),
        Column("elapsed", "running for", True),
        Column("deliveries", "deliveries", True),
        Column("revoked", "revoked"),
    ),
    "periodic": (
        Column("task", "task"),
        Column("crontab", "crontab"),
        Column("next", "next run", True),
        Column("in", "in", True),
        Column("last", "last run", True),
        Column("revoked", "revoked"),
    ),
    "failed": (
        Column("id", "id"),
        Column("task", "task"),
        Column("failed", "failed", True),
        Column("reason", "reason"),
        Column("attempt", "attempt", True),
        Column("error", "error"),
    ),
    "events": (
        Column("time", "time"),
        Column("event", "event"),
        Column("task", "task"),
        Column("id", "id"),
        Column("worker", "worker"),
        Column("runtime", "runtime", True),
        Column("error", "error"),
    ),
}

EVENT_STYLE = {
    "complete": "green",
    "error": "bold red",
    "timeout": "bold red",
    "retrying": "yellow",
    "revoked": "magenta",
    "expired": "magenta",
    "canceled": "magenta",
    "interrupted": "yellow",
    "locked": "yellow",
    "rate-limited": "yellow",
    "executing": "cyan",
}


class Revoked:
    """Which rows are revoked, from one ``Inspector.revocations()`` read."""

    def __init__(self, revocations: Iterable[Revocation]) -> None:
        self.by_id: dict[str, Revocation] = {}
        self.by_name: dict[str, Revocation] = {}
        for r in revocations:
            (self.by_id if r.kind == "id" else self.by_name)[r.target] = r

    def label(self, task_id: str, name: str, tz: dt.tzinfo | None) -> Text:
        rev = self.by_id.get(task_id)
        scope = ""
        if rev is None:
            rev, scope = self.by_name.get(name), "task "
        if rev is None:
            return Text("")
        return Text(scope + revocation_text(rev.until, rev.once, tz), style="magenta")


def revocation_text(until: float | None, once: bool, tz: dt.tzinfo | None) -> str:
    """``revoked``, ``revoked once``, ``revoked until 12:30:00`` ..."""
    text = "revoked once" if once else "revoked"
    return f"{text} until {fmt.clock_time(until, tz)}" if until is not None else text


def task_target(info: TaskInfo) -> Target:
    return Target(info.id, info.name, info.state)


def pending_rows(
    infos: Sequence[TaskInfo], now: float, revoked: Revoked, tz: dt.tzinfo | None
) -> list[Row]:
    return [
        Row(
            i.id,
            (
                _t(n, "dim", True),
                _t(i.id),
                _t(i.name, "bold"),
                _t(fmt.call_args(i.args, i.kwargs)),
                _t(i.priority or "", right=True),
                _t(fmt.duration(now - i.enqueued_at) if i.enqueued_at else "-", right=True),
                revoked.label(i.id, i.name, tz),
            ),
            task_target(i),
        )
        for n, i in enumerate(infos, 1)
    ]


def scheduled_rows(
    infos: Sequence[TaskInfo], now: float, revoked: Revoked, tz: dt.tzinfo | None
) -> list[Row]:
    return [
        Row(
            i.id,
            (
                _t(i.id),
                _t(i.name, "bold"),
                _t(fmt.call_args(i.args, i.kwargs)),
                _t(fmt.clock_time(i.eta, tz), right=True),
                _t(fmt.countdown(i.eta, now), "cyan", True),
                _t(i.attempt, right=True),
                revoked.label(i.id, i.name, tz),
            ),
            task_target(i),
        )
        for i in infos
    ]


def running_rows(
    infos: Sequence[TaskInfo], now: float, revoked: Revoked, tz: dt.tzinfo | None
) -> list[Row]:
    return [
        Row(
            i.id,
            (
                _t(i.id),
                _t(i.name, "bold"),
                _t(fmt.call_args(i.args, i.kwargs)),
                _t(i.consumer or "-"),
                _t(fmt.duration(now - i.eta) if i.eta else "-", right=True),
                _t(i.deliveries, "bold yellow" if i.deliveries > 1 else "", True),
                revoked.label(i.id, i.name, tz),
            ),
            task_target(i),
        )
        for i in infos
    ]


def failed_rows(
    infos: Sequence[TaskInfo], now: float, revoked: Revoked, tz: dt.tzinfo | None
) -> list[Row]:
    return [
        Row(
            i.id,
            (
                _t(i.id),
                _t(i.name, "bold"),
                _t(fmt.ago(i.eta, now), right=True),
                _t(i.reason or "-", "yellow"),
                _t(i.attempt, right=True),
                _t(fmt.first_line(i.error, 60), "red"),
            ),
            task_target(i),
        )
        for i in infos
    ]


def worker_rows(workers: Sequence[WorkerInfo], now: float) -> list[Row]:
    rows = []
    for w in workers:
        age = now - w.heartbeat
        stale = not w.alive or age > STALE_AFTER
        busy = len(w.running)
        current = ", ".join(sorted({t.name for t in w.running})) or "-"
        rows.append(
            Row(
                w.id,
                (
                    _t(w.host, "bold"),
                    _t(w.pid, right=True),
                    _t(w.id, "dim"),
                    _t(fmt.duration(now - w.started), right=True),
                    _t(f"{busy}/{w.concurrency}", "yellow" if busy >= w.concurrency else "", True),
                    _t(fmt.clip(current, 40)),
                    _t(fmt.count(w.processed), right=True),
                    _t(fmt.count(w.failed), "red" if w.failed else "", True),
                    _t(fmt.ago(w.heartbeat, now), "bold red" if stale else "", True),
                    Text("STALE", style="bold white on red") if stale else Text("ok", "green"),
                ),
                Target(w.running[0].id, w.running[0].name, "running") if w.running else None,
            )
        )
    return rows


def periodic_rows(periodic: Sequence[PeriodicInfo], now: float, tz: dt.tzinfo | None) -> list[Row]:
    rows = []
    for p in periodic:
        revoked = (
            Text(revocation_text(p.revoked_until, p.revoke_once, tz), style="magenta")
            if p.revoked
            else Text("")
        )
        rows.append(
            Row(
                p.name,
                (
                    _t(p.name, "bold"),
                    _t(p.crontab),
                    _t(fmt.clock_time(p.next_run, tz), right=True),
                    _t(fmt.countdown(p.next_run, now), "cyan", True),
                    _t(fmt.ago(p.last_run, now), right=True),
                    revoked,
                ),
                Target(None, p.name, None),
            )
        )
    return rows


def event_rows(events: Sequence[Event], tz: dt.tzinfo | None) -> list[Row]:
    return [
        Row(
            e.id,
            (
                _t(fmt.clock_time(e.ts, tz), "dim"),
                _t(e.event, EVENT_STYLE.get(e.event, "")),
                _t(e.task, "bold"),
                _t(e.task_id),
                _t(e.worker, "dim"),
                _t(fmt.runtime(e.runtime) if e.runtime is not None else "", right=True),
                _t(fmt.first_line(e.error, 60), "red"),
            ),
            Target(e.task_id, e.task, None),
        )
        for e in events
    ]


STAT_KEYS: dict[str, Callable[[TaskStats], Any]] = {
    "task": lambda s: s.task,
    "runs": lambda s: s.count,
    "failures": lambda s: s.failures,
    "rate": lambda s: s.failures / s.count if s.count else 0.0,
    "avg": lambda s: s.avg,
    "max": lambda s: s.max,
}


def stats_rows(stats: Sequence[TaskStats], sort: str, reverse: bool) -> list[Row]:
    key = STAT_KEYS.get(sort, STAT_KEYS["runs"])
    ordered = sorted(stats, key=lambda s: (key(s), s.task), reverse=reverse)
    return [
        Row(
            s.task,
            (
                _t(s.task, "bold"),
                _t(fmt.count(s.count), right=True),
                _t(fmt.count(s.failures), "red" if s.failures else "", True),
                _t(f"{100 * s.failures / s.count:.1f}" if s.count else "-", right=True),
                _t(fmt.runtime(s.avg), right=True),
                _t(fmt.runtime(s.max), right=True),
            ),
            Target(None, s.task, None),
        )
        for s in ordered
    ]
