"""The one text layer: how hueyctl writes a duration, a moment, "ago", a call's
arguments and a task's state, for the CLI (``render``) and ``top`` (``tui``) alike.

Pure functions of their arguments (the clock and the time zone are passed in), no
IO and no rich, so both front ends print the same thing for the same fact and a
test can hold them to it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from engine.steering import Pause

# The engine's state words are the truth; these are the words the operator reads
# (the commands are named after them: `hueyctl pending`, `hueyctl failed`).
STATE_LABEL = {
    "ready": "pending",
    "scheduled": "scheduled",
    "running": "running",
    "dead": "failed",
    "finished": "finished",
}


# A task's moments, as `show` and `top`'s detail label them: (label, TaskInfo field).
MOMENTS = (
    ("eta", "eta"),
    ("claimed", "claimed_at"),
    ("started", "started_at"),
    ("failed at", "failed_at"),
    ("finished", "finished_at"),
)

#: What an orphaned task (its worker's lease lapsed) waits for.
ORPHANED = "orphaned: its worker is gone; requeued when a worker sweeps"


def state_label(state: str) -> str:
    """``ready`` → ``pending``, ``dead`` → ``failed``; other states as they are."""
    return STATE_LABEL.get(state, state)


def label_state(label: str) -> str:
    """Back from the operator's word to the engine's: ``pending`` → ``ready``,
    ``failed`` → ``dead``; other words as they are."""
    return _LABEL_STATE.get(label, label)


_LABEL_STATE = {label: state for state, label in STATE_LABEL.items()}


def count(n: int) -> str:
    """``1,234``."""
    return f"{n:,}"


def duration(seconds: float) -> str:
    """``0.35s``, ``4s``, ``42s``, ``4m 10s``, ``3h 5m``, ``2d 4h`` (sign dropped)."""
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


def runtime(seconds: float | None) -> str:
    """A task's run time: ``17µs``, ``3ms``, then as :func:`duration`."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f}µs"
    return duration(seconds)


def ago(ts: float | None, now: float) -> str:
    """``12s ago`` or ``in 4m`` relative to ``now``; ``now`` within a second."""
    if ts is None:
        return "-"
    delta = ts - now
    if abs(delta) < 1:
        return "now"
    return f"in {duration(delta)}" if delta > 0 else f"{duration(delta)} ago"


def _moment(ts: float, tz: dt.tzinfo | None) -> dt.datetime:
    # astimezone() on a naive local moment gives it the local zone's name (TZ honoured).
    moment = dt.datetime.fromtimestamp(ts, tz)
    return moment if moment.tzinfo is not None else moment.astimezone()


def zone(ts: float, tz: dt.tzinfo | None = None) -> str:
    """The zone a moment is shown in: ``UTC``, ``CET``, or ``+0545`` when it has no name."""
    moment = _moment(ts, tz)
    name = moment.tzname() or ""
    if not name or name.startswith(("UTC+", "UTC-")):
        name = moment.strftime("%z")
    return name


def when(ts: float | None, tz: dt.tzinfo | None = None) -> str:
    """``2026-12-01 06:00:00 UTC`` in ``tz`` (local time when None), with its zone."""
    if ts is None:
        return "-"
    return f"{_moment(ts, tz).strftime('%Y-%m-%d %H:%M:%S')} {zone(ts, tz)}"


def clock(ts: float | None, now: float, tz: dt.tzinfo | None = None) -> str:
    """``06:00:00 UTC`` when ``ts`` falls on the same day as ``now``, else with the date."""
    if ts is None:
        return "-"
    moment, today = _moment(ts, tz), _moment(now, tz)
    if moment.date() != today.date():
        return when(ts, tz)
    return f"{moment.strftime('%H:%M:%S')} {zone(ts, tz)}"


def stamp(ts: float, tz: dt.tzinfo | None = None) -> str:
    """A log line's moment to the millisecond: ``2026-12-01 06:00:00.123 UTC``."""
    moment = _moment(ts, tz)
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} {zone(ts, tz)}"


def when_ago(ts: float | None, now: float, tz: dt.tzinfo | None = None) -> str:
    """``2026-12-01 06:00:00 UTC (in 2h)``."""
    return "-" if ts is None else f"{when(ts, tz)} ({ago(ts, now)})"


def attempt_text(state: str, attempt: int, retries: int, attempts: Any) -> str:
    """The ``attempt`` line of ``show`` and ``top``'s detail. A dead letter its worker
    kept for a retry (its history ends with its attempt) holds the retries a retry
    gets: it reads "3 (a retry runs attempt 4 with 2 retries)"."""
    if state == "finished":
        return str(attempt)
    last = attempts[-1].get("n") if attempts else None
    if state == "dead" and last == attempt:
        return f"{attempt} (a retry runs attempt {attempt + 1} with {retries} retries)"
    return f"{attempt} ({retries} retries left)"


def attempt_lines(attempts: Any, now: float, tz: dt.tzinfo | None = None) -> list[str]:
    """One line per attempt (oldest first): number, start, worker, run time, error."""
    lines = []
    for a in attempts:
        at = a.get("at")
        start = when_ago(at, now, tz) if isinstance(at, (int, float)) else "-"
        took = a.get("took")
        took_text = runtime(took) if isinstance(took, (int, float)) else "-"
        error = a.get("error")
        lines.append(
            f"#{a.get('n', '?')}  {start}  on {a.get('worker') or '-'}  took {took_text}  "
            + (clip(str(error), 120) if error else "ok")
        )
    return lines


def clip(text: str, width: int) -> str:
    """One line of at most ``width`` characters, cut with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def first_line(text: str | None) -> str:
    """The first non-blank line of an error (its summary)."""
    stripped = (text or "").strip()
    return stripped.splitlines()[0] if stripped else ""


def arg(v: Any) -> str:
    """One argument as the envelope's typed JSON holds it, written as Python would
    (``(2, 3)`` for a tuple, ``{1, 2}`` for a set, ``None``)."""
    if isinstance(v, dict):
        if len(v) == 1:
            ((key, inner),) = v.items()
            if key == "$tuple" and isinstance(inner, list):
                body = ", ".join(arg(x) for x in inner)
                return f"({body},)" if len(inner) == 1 else f"({body})"
            if key == "$set" and isinstance(inner, list):
                return "{" + ", ".join(arg(x) for x in inner) + "}"
            if key.startswith("$"):
                return str(inner) if not isinstance(inner, (dict, list)) else arg(inner)
        return "{" + ", ".join(f"{arg(k)}: {arg(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(arg(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else repr(v)


def call_args(args: Any, kwargs: Any) -> str:
    """``1, "x", n=2`` from an envelope's (codec-encoded) args and kwargs."""
    args = [] if args is None else args
    kwargs = {} if kwargs is None else kwargs  # the envelope omits empty ones
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return "<encoded>"  # e.g. codec="pickle": base64, never unpickled here
    return ", ".join([arg(a) for a in args] + [f"{k}={arg(v)}" for k, v in kwargs.items()])


def revocation(until: float | None, once: bool, now: float, tz: dt.tzinfo | None = None) -> str:
    """``revoked``, ``revoked once``, ``revoked until 12:30:00`` ..."""
    text = "revoked once" if once else "revoked"
    return f"{text} until {clock(until, now, tz)}" if until is not None else text


def periodic_revocation(
    until: float | None, once: bool, slot: float | None, now: float, tz: dt.tzinfo | None = None
) -> str:
    """What a periodic task's revocation does to its runs: ``skipped until 21:49:40``,
    ``revoked until restored``, ``skips the 18:50:00 run``."""
    if not once:
        if until is None:
            return "revoked until restored"
        return f"skipped until {clock(until, now, tz)}"
    if slot is not None and (until is None or slot < until):
        return f"skips the {clock(slot, now, tz)} run"
    return f"revoked once until {clock(until, now, tz)}"


def running(total: int, claimed_ahead: int) -> str:
    """The store's running count told apart: ``12 (4 started, 8 claimed ahead)``."""
    if not claimed_ahead:
        return count(total)
    started = count(total - claimed_ahead)
    return f"{count(total)} ({started} started, {count(claimed_ahead)} claimed ahead)"


def pause_line(p: Pause, now: float) -> str:
    """``queue paused by ops@box at 12:00:03 (5m ago), until 12:30:03 (in 25m)``."""
    what = "queue" if p.task is None else f"task {p.task}"
    since = f" at {when_ago(p.at, now)}" if p.at is not None else ""
    if not p.in_force:
        return f"{what}: pause by {p.who}{since} has lapsed (a worker tidies it)"
    until = f", until {when_ago(p.until, now)}" if p.until is not None else ""
    parked = f"; {p.parked} call(s) parked" if p.task is not None else ""
    return f"{what} paused by {p.who}{since}{until}{parked}"
