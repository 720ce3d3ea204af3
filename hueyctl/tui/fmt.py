"""Small, pure formatting helpers shared by the widgets (numbers, times, ids, args)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def count(n: int) -> str:
    return f"{n:,}"


def duration(seconds: float) -> str:
    """A compact duration: ``0.42s``, ``12s``, ``3m05s``, ``2h03m``, ``4d02h``."""
    s = abs(seconds)
    if s < 10:
        return f"{s:.2f}s" if s < 1 else f"{s:.1f}s"
    s = int(s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def runtime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f}µs"
    return duration(seconds)


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    delta = now - ts
    return "just now" if abs(delta) < 0.5 else (f"{duration(delta)} ago" if delta > 0 else "soon")


def countdown(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    delta = ts - now
    return f"in {duration(delta)}" if delta >= 0.5 else "due"


def clock_time(ts: float | None, tz: dt.tzinfo | None, with_date: bool = False) -> str:
    """``HH:MM:SS`` (or ``YYYY-MM-DD HH:MM:SS``) in ``tz``; local time when ``tz`` is None."""
    if ts is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ts, tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def first_line(text: str | None, width: int = 80) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return clip(line, width)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _value(v: Any) -> str:
    """One argument as the envelope's typed JSON shows it, in Python-ish form."""
    if isinstance(v, dict):
        if len(v) == 1:
            ((key, inner),) = v.items()
            if key == "$tuple" and isinstance(inner, list):
                body = ", ".join(_value(x) for x in inner)
                return f"({body},)" if len(inner) == 1 else f"({body})"
            if key == "$set" and isinstance(inner, list):
                return "{" + ", ".join(_value(x) for x in inner) + "}"
            if key.startswith("$"):
                return str(inner) if not isinstance(inner, (dict, list)) else _value(inner)
        return "{" + ", ".join(f"{_value(k)}: {_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else repr(v)


def call_args(args: Any, kwargs: Any, width: int = 40) -> str:
    parts = [_value(a) for a in (args or [])] if isinstance(args, list) else []
    if isinstance(kwargs, dict):
        parts += [f"{k}={_value(v)}" for k, v in kwargs.items()]
    return clip(", ".join(parts), width)
