"""How the admin commands print: JSON for scripts, tables for people.

* ``--json``: one JSON document (an array for listings); ``--jsonl``: one object
  per line. Objects are the ``engine.inspect`` dataclasses as dicts (field names
  unchanged, times as epoch floats), so the shape only changes with the read model.
* Otherwise a table: drawn with rich when stdout is a terminal, plain text with
  aligned columns when it is not (pipes, files, ``grep``, ``awk``).

Data goes to stdout; messages (:func:`note`) go to stderr. rich is imported only
when a terminal is there to draw on, so scripted calls start fast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import click

TEXT, JSON, JSONL = "text", "json", "jsonl"


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def note(message: str) -> None:
    """A message for the person at the terminal (stderr; never part of the data)."""
    click.echo(message, err=True)


# --- values --------------------------------------------------------------------------
def record(obj: Any, drop: Iterable[str] = ()) -> Any:
    """A dataclass (or a list / dict of them) as JSON-ready data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: record(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for name in drop:
            out.pop(name, None)
        return out
    if isinstance(obj, dict):
        return {str(k): record(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [record(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    return repr(obj)


def dumps(obj: Any, indent: int | None = None) -> str:
    return json.dumps(record(obj), default=_default, ensure_ascii=False, indent=indent)


def emit_json(data: Any, fmt: str) -> None:
    """``data``: a list (a listing) or one object (status, show)."""
    if fmt == JSONL:
        for item in data if isinstance(data, list) else [data]:
            click.echo(dumps(item))
    else:
        click.echo(dumps(data, indent=2 if stdout_is_tty() else None))


# --- text --------------------------------------------------------------------------
def when(ts: float | None) -> str:
    """Local wall-clock time, to the second."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """``0.35s``, ``42s``, ``4m 10s``, ``3h 5m``, ``2d 4h``."""
    seconds = abs(seconds)
    if seconds < 10:
        return f"{seconds:.2f}s".replace(".00s", "s")
    s = int(round(seconds))
    for unit, size, sub, subsize in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if s >= size:
            rest = (s % size) // subsize
            return f"{s // size}{unit}" + (f" {rest}{sub}" if rest else "")
    if s >= 60:
        return f"{s // 60}m" + (f" {s % 60}s" if s % 60 else "")
    return f"{s}s"


def ago(ts: float | None, now: float | None = None) -> str:
    """``12s ago`` / ``in 4m`` relative to now."""
    if ts is None:
        return "-"
    delta = ts - (time.time() if now is None else now)
    if abs(delta) < 1:
        return "now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(delta)} ago"


def when_ago(ts: float | None, now: float | None = None) -> str:
    return "-" if ts is None else f"{when(ts)} ({ago(ts, now)})"


def shorten(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def value(v: Any) -> str:
    """A JSON value as it would be typed on the command line."""
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v, default=_default, ensure_ascii=False, separators=(", ", ": "))


def call_args(args: Any, kwargs: Any) -> str:
    """``1, "x", n=2`` from an envelope's (codec-encoded) args and kwargs."""
    args = [] if args is None else args
    kwargs = {} if kwargs is None else kwargs  # the envelope omits empty ones
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return "<encoded>"  # e.g. codec="pickle": base64, never unpickled here
    parts = [value(a) for a in args] + [f"{k}={value(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


# --- tables -------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[Any], Any]
    width: int | None = None  # cut longer cells (tables only; JSON is never cut)
    right: bool = False
    wrap: bool = True  # False: never folded on a terminal (ids stay copyable)


def _cell(col: Column, row: Any) -> str:
    v = col.get(row)
    text = "-" if v is None or v == "" else str(v)
    return shorten(text, col.width) if col.width else text


def plain_table(columns: Sequence[Column], rows: Sequence[Any]) -> list[str]:
    cells = [[c.header for c in columns]] + [[_cell(c, r) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    out = []
    for line in cells:
        parts = [
            text.rjust(w) if col.right else text.ljust(w)
            for text, w, col in zip(line, widths, columns, strict=True)
        ]
        out.append("  ".join(parts).rstrip())
    return out


def table(columns: Sequence[Column], rows: Sequence[Any], title: str | None = None) -> None:
    if not stdout_is_tty():
        for line in plain_table(columns, rows):
            click.echo(line)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", highlight=False)
    for c in columns:
        t.add_column(
            c.header,
            justify="right" if c.right else "left",
            overflow="fold",
            no_wrap=not c.wrap,
            min_width=None if c.wrap else len(c.header),
        )
    for r in rows:
        t.add_row(*(_cell(c, r) for c in columns))
    Console(highlight=False).print(t)


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """``key   value`` lines (``show``, ``status``); multi-line values are indented."""
    width = max((len(k) for k, _ in pairs), default=0)
    for key, v in pairs:
        text = "-" if v is None or v == "" else str(v)
        lines = text.splitlines() or [""]
        click.echo(f"{key.ljust(width)}  {lines[0]}".rstrip())
        for line in lines[1:]:
            click.echo(f"{' ' * width}  {line}".rstrip())


def listing(
    fmt: str,
    items: Sequence[Any],
    columns: Sequence[Column],
    drop: Iterable[str] = (),
    empty: str = "nothing to show",
) -> None:
    """Print a listing in the chosen format; an empty table says so on stderr."""
    if fmt != TEXT:
        emit_json([record(i, drop) for i in items], fmt)
        return
    if not items:
        note(empty)
        return
    table(columns, items)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    top = max(values, default=0)
    if not top:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1)))] for v in values)
