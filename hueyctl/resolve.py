"""What the operator meant: times, call arguments, task names and task ids.

Pure, apart from reading the queue through the ``Inspector`` it is given: no
click context, no printing. A bad input raises ``CommandError`` with a message
that says how to fix it (exit 2 for a malformed input, 1 for one that names
nothing), before anything changes. ``now`` is a parameter wherever time is read,
so every rule here is unit-tested without a terminal (tests/unit/test_resolve.py).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.inspect import PAGE as INSPECT_PAGE
from engine.inspect import Inspector

from . import present
from .errors import EXIT_USAGE, CommandError

PAGE = INSPECT_PAGE  # ids fetched per round trip when paging through a queue

# --- task ids ---------------------------------------------------------------------------
_HEX_DASH = re.compile(r"[0-9a-f][0-9a-f-]{3,}", re.IGNORECASE)


def looks_like_id(text: str) -> bool:
    """The one rule (CLI and ``top`` alike) for "this is a task id or its start":
    4+ hex digits and dashes, beginning with a digit of it, and holding a decimal
    digit or a dash or 8+ characters, so words such as ``add`` or ``cafe`` stay
    task names while ``0190ab`` and ``ffffffff-ffff`` are ids."""
    if not _HEX_DASH.fullmatch(text):
        return False
    return len(text) >= 8 or "-" in text or any(c.isdigit() for c in text)


# --- times ------------------------------------------------------------------------------
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WHEN_HELP = (
    "an ISO date/time, read as LOCAL time unless it has an offset "
    "('2026-12-01 06:00', '2026-12-01T06:00+00:00'), or a duration from now "
    "('90s', '30m', '2h', '1d', '1h30m')"
)


def parse_duration(text: str) -> float | None:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1w``, ``1h30m`` → seconds; None if not a duration."""
    compact = text.strip().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        return None
    return sum(float(n) * _UNITS[u.lower()] for n, u in _DURATION.findall(compact))


def parse_when(text: str, option: str, now: float) -> float:
    """A future moment as epoch seconds, from an ISO datetime or a duration."""
    seconds = parse_duration(text)
    if seconds is not None:
        ts = now + seconds
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise CommandError(
                f"{option} {text!r} is not a time: give {WHEN_HELP}", EXIT_USAGE
            ) from None
        ts = moment.timestamp()  # naive: local time (Python's rule, and ours)
    if ts <= now:
        raise CommandError(
            f"{option} {text!r} is in the past ({present.when(ts)}, now {present.when(now)}): "
            "give a later time or a duration like 2h",
            EXIT_USAGE,
        )
    return ts


def parse_delay(text: str, now: float) -> float | None:
    """``--delay``: seconds (``30``) or a duration (``5m``) → the eta; None for no delay."""
    seconds = parse_duration(text)
    if seconds is None:
        try:
            seconds = float(text)
        except ValueError:
            raise CommandError(
                f"--delay {text!r} is not a duration: give seconds (30) or 90s, 5m, 2h, 1d",
                EXIT_USAGE,
            ) from None
    if seconds < 0:
        raise CommandError(f"--delay {text!r} is negative", EXIT_USAGE)
    return now + seconds if seconds else None


# --- call arguments ---------------------------------------------------------------------
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
    """``--kwargs``: a JSON object, or nothing."""
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


# --- task names -------------------------------------------------------------------------
def store_names(insp: Inspector) -> set[str]:
    """Task names this queue knows: those its registered workers publish (their
    catalogs), periodic specs, statistics, recent events, queued and dead tasks,
    revocations (no application code needed)."""
    names = insp.published_names()
    names.update(p.name for p in insp.periodic())
    names.update(s.task for s in insp.task_stats(120))
    names.update(e.task for e in insp.events(None, 1000))
    for fetch in (insp.pending, insp.scheduled, insp.failed):
        names.update(i.name for i in fetch(0, PAGE, None, None))
    names.update(i.name for i in insp.running())
    names.update(r.target for r in insp.revocations() if r.kind == "task")
    names.discard("?")
    return names


@dataclass(frozen=True)
class App:
    """The application loaded with --app: its import path and its registered task names."""

    path: str
    tasks: frozenset[str]


def known_names(insp: Inspector, app: App | None) -> set[str]:
    """With the application loaded, its registry; else what the store has seen."""
    return set(app.tasks) if app else store_names(insp)


def suffix_matches(name: str, names: set[str]) -> list[str]:
    """Full names whose last dotted part(s) are ``name``."""
    return sorted(n for n in names if n.endswith("." + name))


def close_names(name: str, names: set[str]) -> list[str]:
    """Up to three known names like ``name``, compared whole and by their last dotted
    part (``fsat`` → ``tasks.fast``, as it would be typed)."""
    found = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    by_short: dict[str, list[str]] = {}
    for full in sorted(names):
        by_short.setdefault(full.rsplit(".", 1)[-1], []).append(full)
    short = name.rsplit(".", 1)[-1]
    for match in difflib.get_close_matches(short, sorted(by_short), n=3, cutoff=0.6):
        found += [n for n in by_short[match] if n not in found]
    return found[:3]


def did_you_mean(name: str, names: set[str]) -> str:
    close = close_names(name, names)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def unknown_name(insp: Inspector, app: App | None, name: str, names: set[str]) -> CommandError:
    """The error for a name nobody knows, with "did you mean …?"."""
    hint = did_you_mean(name, names)
    if app:
        return CommandError(
            f"no task named {name!r} is registered in {app.path}{hint}: check the name "
            "(--force uses it anyway)"
        )
    return CommandError(
        f"no task named {name!r} is known to queue {insp.huey.name!r}{hint}: check the name, "
        "load the application with --app, or pass --force to use it anyway"
    )


def unknown_filter(insp: Inspector, app: App | None, task: str) -> str | None:
    """For a ``--task NAME`` filter that listed nothing: a note when no task by that
    name is known (the app's registry, or what the store has seen), else None."""
    names = known_names(insp, app)
    if task in names or suffix_matches(task, names):
        return None
    hint = did_you_mean(task, names)
    where = f"registered in {app.path}" if app else f"seen on {queue_label(insp)}"
    return f"no task named {task!r} is {where}{hint}: check --task"


def resolve_name(insp: Inspector, app: App | None, name: str, force: bool) -> str:
    """A full task name from a full or short (last dotted part) name."""
    names = known_names(insp, app)
    if name in names:
        return name
    matches = suffix_matches(name, names)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise CommandError(f"{name!r} could be {', '.join(matches)}: give the full name")
    if force:
        return name
    raise unknown_name(insp, app, name, names)


# --- task ids ---------------------------------------------------------------------------
def queue_label(insp: Inspector) -> str:
    """``queue 'orders' on redis://host:6379/0``, for messages."""
    return f"queue {insp.huey.name!r} on {insp.describe()}"


def find_ids(insp: Inspector, prefix: str, results: bool = True) -> list[str]:
    """Ids starting with ``prefix`` in any state, and (``results``) among results.

    ``Inspector.find`` already lists every stored result under the prefix (one
    ``keys`` read), so no further walk of the results is needed."""
    found = insp.find(prefix)
    if not results:
        found = [i for i in found if insp.task(i) is not None]
    return sorted(found)


def resolve_id(insp: Inspector, text: str, results: bool = True) -> str:
    """A full task id from an id or an unambiguous prefix."""
    if not text:
        raise CommandError("give a task id (or the first characters of one)", EXIT_USAGE)
    if insp.task(text) is not None:
        return text
    if results and (insp.result(text) is not None or insp.finished(text) is not None):
        return text
    ids = find_ids(insp, text, results)
    if len(ids) == 1:
        return ids[0]
    if ids:
        more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
        raise CommandError(
            f"id prefix {text!r} matches {len(ids)} tasks ({', '.join(ids[:5])}{more}): "
            "give more characters"
        )
    raise CommandError(
        f"no task with id {text!r} in {queue_label(insp)}: it may have finished without "
        "a result or been deleted (pending/scheduled/failed/results --id PREFIX list ids)"
    )


def resolve_target(insp: Inspector, app: App | None, target: str, force: bool) -> tuple[str, str]:
    """("task", full name) or ("id", task id) for a revoke TARGET."""
    names = known_names(insp, app)
    if target in names:
        return "task", target
    id_like = looks_like_id(target)
    ids: list[str] = []
    if id_like:
        ids = [target] if insp.task(target) is not None else find_ids(insp, target, False)
    matches = suffix_matches(target, names)
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
    if id_like:
        if insp.result(target) is not None:
            raise CommandError(f"task {target} has already finished: nothing to revoke")
        raise CommandError(
            f"no task named {target!r}, and no queued task whose id starts with it, in "
            f"{queue_label(insp)}: check it ('hueyctl pending --id PREFIX' lists ids)"
        )
    raise unknown_name(insp, app, target, names)
