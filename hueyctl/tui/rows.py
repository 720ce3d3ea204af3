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

from engine.inspect import (
    Event,
    PeriodicInfo,
    Revocation,
    RevocationIndex,
    TaskInfo,
    TaskStats,
    WorkerInfo,
)

from .. import present, render
from .actions import Target


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


def _spec(listing: str) -> tuple[Column, ...]:
    """A listing's columns as ``render.LISTINGS`` defines them (the CLI's too)."""
    columns = render.LISTINGS[listing].columns(0.0, None)
    return tuple(Column(c.key, c.header.lower(), c.right) for c in columns)


COLUMNS: dict[str, tuple[Column, ...]] = {
    **{listing: _spec(listing) for listing in render.LISTINGS},
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
    """Which rows are revoked, from one ``Inspector.revocations()`` read, by the read
    model's rule (``RevocationIndex``: the call's id first, then its task's name)."""

    def __init__(self, revocations: Iterable[Revocation]) -> None:
        self.index = RevocationIndex(revocations)

    def label(self, task_id: str, name: str, now: float, tz: dt.tzinfo | None) -> Text:
        """What the revoked cell says: by what, and until when ("" when not revoked)."""
        rev = self.index.of(task_id, name)
        if rev is None:
            return Text("")
        scope = "task " if rev.kind == "task" else ""
        return Text(scope + present.revocation(rev.until, rev.once, now, tz), style="magenta")


def task_target(info: TaskInfo) -> Target:
    return Target(info.id, info.name, info.state)


def cell(col: render.Column, row: Any) -> Text:
    """A cell as the CLI writes it, in the column's style."""
    return _t(col.text(row), col.style_of(row), col.right)


def task_rows(
    listing: str, infos: Sequence[TaskInfo], now: float, revoked: Revoked, tz: dt.tzinfo | None
) -> list[Row]:
    """Rows of a task listing (``pending``, ``scheduled``, ``running``, ``failed``): the
    CLI's cells, styled; the revoked cell says by what and until when."""
    columns = render.LISTINGS[listing].columns(now, tz)

    def task_cell(col: render.Column, info: TaskInfo) -> Text:
        if col.key == "revoked":
            return revoked.label(info.id, info.name, now, tz)
        return cell(col, info)

    return [Row(i.id, tuple(task_cell(c, i) for c in columns), task_target(i)) for i in infos]


def worker_rows(workers: Sequence[WorkerInfo], now: float, tz: dt.tzinfo | None) -> list[Row]:
    """Rows of the Workers tab; a row points at its worker (Enter: its detail)."""
    columns = render.LISTINGS["workers"].columns(now, tz)
    return [Row(w.id, tuple(cell(c, w) for c in columns), Target(worker=w.id)) for w in workers]


def worker_summary(worker: WorkerInfo, now: float, tz: dt.tzinfo | None) -> str:
    """One line about a worker, from the Workers tab's own columns."""
    columns = render.LISTINGS["workers"].columns(now, tz)
    skip = ("worker", "current")
    return " · ".join(f"{c.key} {c.text(worker)}" for c in columns if c.key not in skip)


def periodic_rows(periodic: Sequence[PeriodicInfo], now: float, tz: dt.tzinfo | None) -> list[Row]:
    """Rows of the Periodic tab; a row points at its task name."""
    columns = render.LISTINGS["periodic"].columns(now, tz)
    return [
        Row(p.name, tuple(cell(c, p) for c in columns), Target(None, p.name, None))
        for p in periodic
    ]


def event_rows(events: Sequence[Event], now: float, tz: dt.tzinfo | None) -> list[Row]:
    """The Events tab: a task's signal, or an operator's action (``admin.<action>``:
    the target in the task column, who in the worker column, what was done last)."""
    return [
        Row(
            e.id,
            (
                _t(present.clock(e.ts, now, tz), "dim"),
                _t(e.event, "bold magenta" if e.admin else EVENT_STYLE.get(e.event, "")),
                _t((e.task or e.target or "") if e.admin else e.task, "bold"),
                _t(e.task_id),
                _t(e.worker, "dim"),
                _t(present.runtime(e.runtime) if e.runtime is not None else "", right=True),
                _t(present.clip(present.first_line(e.detail), 60))
                if e.admin
                else _t(present.clip(present.first_line(e.error), 60), "red"),
            ),
            Target(e.task_id or None, e.task or None, None),
        )
        for e in events
    ]


STAT_KEYS: dict[str, Callable[[TaskStats], Any]] = {  # sort keys of the task table
    "task": lambda s: s.task,
    "runs": lambda s: s.count,
    "failures": lambda s: s.failures,
    "fail %": lambda s: s.failures / s.count if s.count else 0.0,
    "avg": lambda s: s.avg,
    "max": lambda s: s.max,
}


def stats_rows(stats: Sequence[TaskStats], sort: str, reverse: bool) -> list[Row]:
    """The task table, ordered by the column ``sort``."""
    key = STAT_KEYS.get(sort, STAT_KEYS["runs"])
    ordered = sorted(stats, key=lambda s: (key(s), s.task), reverse=reverse)
    columns = render.LISTINGS["stats"].columns(0.0, None)
    return [
        Row(s.task, tuple(cell(c, s) for c in columns), Target(None, s.task, None)) for s in ordered
    ]
