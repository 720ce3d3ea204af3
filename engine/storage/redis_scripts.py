"""The Lua scripts of the Redis store: the one table of their KEYS and ARGV, and their loader.

Every multi-key transition of :mod:`engine.storage.redis` is one script, a file
``engine/storage/lua/<name>.lua`` shipped as package data. Each file starts with its
Redis 7 flags line, then a header naming its KEYS and ARGV in order::

    #!lua
    -- KEYS: ready msg prio wake
    -- ARGV: id priority data

The flags decide what a full Redis (``maxmemory`` reached) does with the script. A
script that adds work (enqueue, schedule, retry a dead letter, a counter, telemetry)
has no flags (``#!lua``): Redis refuses it *before it writes anything*, and the store
raises :class:`~engine.exceptions.StoreFull`. A script that finishes, heartbeats,
claims, recovers, releases or deletes work is ``#!lua flags=allow-oom``: those are how
the queue drains and frees the memory. (Without a flags line at all, Redis 7.0 applies
its pre-7 rule, refusing a script only if it has not written yet, so a script whose
first write is a deletion slips past the limit.) The finish script also enqueues a
retry or the next pipeline stage in the same step as the ack: it stays allowed, since
draining matters more than strictness there.

and binds them to locals of those names. :data:`SCRIPTS` below repeats each header as a
:class:`Script`; it is the only place on the Python side where key order is written
(``RedisStorage`` builds every KEYS list from it by name), and
``tests/unit/test_lua_scripts.py`` holds the headers against it. A name ending in ``...``
is a variable-length tail (``(a b)...`` repeats a group). Every key of a queue shares
the hash tag ``{<queue>}``. A script's KEYS name the keys it touches, except layout 2's
ready lists and body buckets (:mod:`engine.storage.redis_layout`): ``ready`` and ``msg``
are their prefixes (``hueyctl:{q}:r:``, ``hueyctl:{q}:m:``) and the script makes
``ready .. p``, ``msg .. bucket_of(id)`` and ``msg .. 'big'`` itself. Redis Cluster
allows such undeclared keys because they are in the declared keys' slot (it refuses
keys of another slot or of another node; tests/contract runs every script on Cluster).

Loading (:func:`source`) does three things to a file, once, in Python (the flags line
stays first, as Redis requires):

- ``-- #include lib`` becomes the definitions of ``lua/lib.lua`` (the functions several
  scripts share, such as ``claim`` for claim.lua and round.lua) that the script uses,
  directly or through another definition, in the file's order (lib includes
  ``lua/bucket.lua``, which enqueue_new.lua takes alone). Redis runs a script's whole
  text at every call, so each ``local function`` it holds is a closure made per call:
  the definitions a script never reaches are left out, and an indented include (inside
  a block of a path most calls skip) defines what only that block uses (see
  :func:`_includes`).
- ``-- #layout NAME i k`` and ``-- #item NAME group j`` become the locals of a
  :class:`Layout` (see there): the finish script's per-task arguments, so the Python
  packing (:meth:`Layout.pack`) and the Lua offsets come from one schema.
- Each name of :data:`CONSTANTS` the script uses is defined at its top as a Lua local,
  so the refusal strings of ``storage/base.py`` and the wake cap have one home here
  rather than a copy in Lua. (Injected rather than mapped from numeric codes: finish
  returns the very strings ``finish_many`` returns, with no table to keep in step.)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .base import LEASE_LOST, NOT_OWNER, NOT_RUNNING
from .redis_layout import BUCKET_TAIL, BUCKETS, SMALL

_WAITER, _NOTIFY = "\x00waiter", "\x00notify"  # per result key, for wait_result

#: Wake tokens kept for idle consumers, at most (the scripts' wake_up, and the fresh
#: enqueue's LPUSH + LTRIM in engine/storage/redis.py).
WAKE_CAP = 64

#: Names a script may use as Lua constants; the loader defines the ones it uses.
CONSTANTS: dict[str, int | str] = {
    "WAKE_CAP": WAKE_CAP,
    "NOT_RUNNING": NOT_RUNNING,
    "NOT_OWNER": NOT_OWNER,
    "LEASE_LOST": LEASE_LOST,
    # Layout 2's body buckets (engine/storage/redis_layout.py).
    "BUCKETS": BUCKETS,
    "BUCKET_TAIL": BUCKET_TAIL,
    "SMALL": SMALL,
}


@dataclass(frozen=True, slots=True)
class Script:
    """One ``lua/<name>.lua``: its KEYS and ARGV names, in order, as its header lists them."""

    name: str
    keys: tuple[str, ...]
    argv: tuple[str, ...]
    #: Redis 7 script flags (the file's ``#!lua flags=...`` line): ``allow-oom`` for the
    #: scripts that drain the queue, none for those that add work (refused when full).
    flags: tuple[str, ...] = ()
    #: The keys before any variable-length tail (which the caller appends).
    fixed_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fixed = tuple(k for k in self.keys if not k.endswith("..."))
        object.__setattr__(self, "fixed_keys", fixed)


@dataclass(frozen=True, slots=True)
class Group:
    """A counted run in a :class:`Layout`: ARGV holds the count, then ``fields`` per
    item; when ``keys`` is set, each item also has those keys in KEYS."""

    name: str
    fields: tuple[str, ...]
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Layout:
    """A variable-length record in ARGV (and KEYS) that Python packs and Lua reads.

    ``fields`` are plain ARGV entries (``str``) or counted runs (:class:`Group`). In
    Lua, ``-- #layout NAME i k`` defines a local per field, ``<group>_n`` (the count),
    and ``next_i``/``next_k`` (where the next record starts), for a record whose ARGV
    start at index ``i`` and whose keys start at KEYS index ``k``; ``-- #item NAME
    group j`` defines the fields and keys of the group's item ``j`` (from 0).
    """

    name: str
    fields: tuple[str | Group, ...]
    # Per field: None for a plain entry, else how many keys a group item has.
    _key_counts: tuple[int | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = tuple(None if isinstance(f, str) else len(f.keys) for f in self.fields)
        object.__setattr__(self, "_key_counts", counts)

    def pack(self, values: Sequence[Any], keys: list[Any], args: list[Any]) -> None:
        """Append one record: ``values`` in field order, a group's as a sequence of
        item tuples (its keys first, then its fields)."""
        # (on the finish path for every task: one pass, no per-field type checks)
        for nk, value in zip(self._key_counts, values, strict=True):
            if nk is None:
                args.append(value)
            elif nk:
                args.append(len(value))
                for item in value:
                    keys += item[:nk]
                    args += item[nk:]
            else:
                args.append(len(value))
                for item in value:
                    args += item

    def group(self, name: str) -> Group:
        return next(f for f in self.fields if isinstance(f, Group) and f.name == name)

    def lua_record(self, i: str, k: str) -> str:
        """The Lua locals of one record starting at ARGV[i] and KEYS[k]."""
        lines, base, off, kbase = [], i, 0, k
        for f in self.fields:
            if isinstance(f, str):
                lines.append(f"local {f} = ARGV[{_plus(base, off)}]")
                off += 1
                continue
            count = f"{f.name}_n"
            lines.append(f"local {count} = tonumber(ARGV[{_plus(base, off)}])")
            lines.append(f"local {f.name}_at = {_plus(base, off + 1)}")
            lines.append(f"local {f.name}_end = {f.name}_at + {_times(len(f.fields), count)}")
            base, off = f"{f.name}_end", 0
            if f.keys:
                lines.append(f"local {f.name}_k = {kbase}")
                kbase = f"{f.name}_k + {_times(len(f.keys), count)}"
        lines.append(f"local next_i, next_k = {_plus(base, off)}, {kbase}")
        return "\n".join(lines)

    def lua_item(self, group: str, j: str) -> str:
        """The Lua locals of item ``j`` (from 0) of a group, inside its record."""
        g = self.group(group)
        lines = []
        if g.fields:
            at = f"{g.name}_at + {_times(len(g.fields), j)}"
            values = ", ".join(f"ARGV[{_plus(at, n)}]" for n in range(len(g.fields)))
            lines.append(f"local {', '.join(g.fields)} = {values}")
        if g.keys:
            at = f"{g.name}_k + {_times(len(g.keys), j)}"
            values = ", ".join(f"KEYS[{_plus(at, n)}]" for n in range(len(g.keys)))
            lines.append(f"local {', '.join(g.keys)} = {values}")
        return "\n".join(lines)


def _plus(base: str, off: int) -> str:
    return f"{base} + {off}" if off else base


def _times(width: int, var: str) -> str:
    return var if width == 1 else f"{width} * {var}"


#: One finished task in the finish script's ARGV: its results (each with the result
#: key; the script makes the key a waiter sets and the key that wakes it, the result key
#: and _WAITER or _NOTIFY: undeclared keys of the result's slot), the result TTL, why it
#: died (empty: it did not) and the body its dead letter keeps (empty: as claimed), the
#: dead set's caps (letters, bytes), its finished record (empty: none), and the tasks it
#: enqueues and schedules.
FINISH_TASK = Layout(
    "FINISH_TASK",
    (
        "now",
        "id",
        Group("results", ("value",), keys=("result",)),
        "ttl_ms",
        "dead_reason",
        "dead_error",
        "dead_data",
        "dead_cap",
        "dead_cap_bytes",
        "finished",
        Group("enqueue", ("new_id", "new_priority", "new_data")),
        Group("schedule", ("new_id", "new_priority", "new_eta", "new_data")),
    ),
)
#: A plain success (no dead letter, nothing enqueued or scheduled: most finishes) in
#: fewer ARGV entries: the fields of :data:`FINISH_TASK` it needs. Each finished task's
#: record is preceded by its kind, ``p`` (this one) or ``f`` (:data:`FINISH_TASK`).
FINISH_PLAIN = Layout(
    "FINISH_PLAIN",
    (
        "now",
        "id",
        Group("results", ("value",), keys=("result",)),
        "ttl_ms",
        "finished",
    ),
)
LAYOUTS = {FINISH_TASK.name: FINISH_TASK, FINISH_PLAIN.name: FINISH_PLAIN}

_ROUND_KEYS = ("ready", "levels", "msg", "running", "deliv", "leases")
# clock: 'server' (leases on the Redis server's clock, TIME in the script) or 'caller'
# (leases on the caller's now: the storage contract's injected clock).
_ROUND_ARGV = ("consumer", "now", "limit", "lease", "clock")
_DRAIN = ("allow-oom",)

ENQUEUE = Script(
    "enqueue",
    (
        "ready",
        "msg",
        "prio",
        "wake",
        "sched",
        "dead",
        "deadinfo",
        "running",
        "deliv",
        "levels",
        "parkedin",
    ),
    ("(id priority data)...",),
)
ENQUEUE_NEW = Script(
    "enqueue_new", ("ready", "msg", "prio", "wake", "levels"), ("id", "priority", "data")
)
ENQUEUE_UNIQUE = Script(
    "enqueue_unique",
    ("ready", "msg", "prio", "wake", "sched", "dead", "deadinfo", "unique", "levels", "parkedin"),
    ("ttl_ms", "id", "priority", "data"),
)
SCHEDULE = Script(
    "schedule",
    ("sched", "msg", "prio", "wake", "ready", "dead", "deadinfo", "running", "deliv", "parkedin"),
    ("(id priority eta data)...",),
)
PROMOTE = Script("promote", ("sched", "ready", "prio", "wake", "levels"), ("now", "limit"), _DRAIN)
CLAIM = Script("claim", _ROUND_KEYS, _ROUND_ARGV, _DRAIN)
ROUND = Script(
    "round", (*_ROUND_KEYS, "watched", "sched", "prio", "wake", "pauses"), _ROUND_ARGV, _DRAIN
)
FINISH = Script(
    "finish",
    (
        "running",
        "msg",
        "deliv",
        "leases",
        "ready",
        "sched",
        "prio",
        "dead",
        "deadinfo",
        "wake",
        "done_a",
        "done_b",
        "done_gen",
        "levels",
        "parkedin",
        "tasks...",
    ),
    ("consumer", "n_tasks", "clock", "done_cap", "tasks..."),
    _DRAIN,
)
RECOVER = Script(
    "recover",
    ("running", "leases", "ready", "deliv", "dead", "deadinfo", "msg", "prio", "wake", "levels"),
    ("now", "max_deliveries", "dead_cap", "dead_cap_bytes", "clock"),
    _DRAIN,
)
HEARTBEAT = Script("heartbeat", ("leases",), ("consumer", "now", "lease", "clock"), _DRAIN)
SET_ASIDE = Script(
    "set_aside",
    ("running", "msg", "deliv", "prio", "dead", "deadinfo"),
    ("consumer", "now", "dead_cap", "dead_cap_bytes", "(id new_id reason error)..."),
    _DRAIN,
)
RELEASE = Script(
    "release",
    ("running", "leases", "ready", "deliv", "prio", "wake", "levels"),
    ("consumer", "all", "count", "task_ids..."),
    _DRAIN,
)
PARK = Script(
    "park",
    ("running", "deliv", "pauses", "parked", "ready", "prio", "wake", "levels", "parkedin"),
    ("consumer", "name", "task_ids..."),
    _DRAIN,
)
UNPARK = Script(
    "unpark",
    ("pauses", "parked", "msg", "ready", "prio", "wake", "levels", "parkedin"),
    ("name", "check", "record"),
    _DRAIN,
)
REMOVE = Script(
    "remove",
    ("ready", "sched", "dead", "running", "msg", "prio", "deadinfo", "deliv", "parkedin"),
    ("id",),
    _DRAIN,
)
RETRY_DEAD = Script(
    "retry_dead", ("dead", "deadinfo", "deliv", "ready", "prio", "wake", "levels"), ("id",)
)
FLUSH = Script(
    "flush",
    ("zset", "ready", "levels", "msg", "prio", "deadinfo", "deliv"),
    ("lists", "batch"),
    _DRAIN,
)
RECORD = Script(
    "record",
    ("events", "minutes..."),
    ("cap", "ttl_ms", "n_events", "events...", "(slot task count failures total max)..."),
)
MAP_DELETE_IF_EQUAL = Script("map_delete_if_equal", ("map",), ("field", "value"), _DRAIN)
# The consumers' registry only (storage.redis.map_set): written even when full, see there.
MAP_PUT = Script("map_put", ("map",), ("field", "value"), _DRAIN)
WAIT_RESULT = Script(
    "wait_result", ("result", "waiter", "notify", "own..."), ("pop", "ttl_ms", "inbox..."), _DRAIN
)
DELETE_IF_EQUAL = Script("delete_if_equal", ("key",), ("value",), _DRAIN)
INCR = Script("incr", ("key",), ("ttl_ms",))
# hueyctl migrate (engine/storage/redis_format.py): old_ready and old_msg are layout 1's
# zset and hash; ready and msg are layout 2's prefixes (``P r:``, ``P m:``).
MIGRATE = Script(
    "migrate",
    ("old_ready", "old_msg", "ready", "msg", "prio", "levels", "leases", "fmt"),
    ("format", "(id bucket)..."),
    _DRAIN,
)

#: Every script, in no particular order.
SCRIPTS: tuple[Script, ...] = (
    ENQUEUE,
    ENQUEUE_NEW,
    ENQUEUE_UNIQUE,
    SCHEDULE,
    PROMOTE,
    CLAIM,
    ROUND,
    FINISH,
    RECOVER,
    HEARTBEAT,
    SET_ASIDE,
    RELEASE,
    PARK,
    UNPARK,
    REMOVE,
    RETRY_DEAD,
    FLUSH,
    RECORD,
    MAP_DELETE_IF_EQUAL,
    MAP_PUT,
    WAIT_RESULT,
    DELETE_IF_EQUAL,
    INCR,
    MIGRATE,
)

_DIRECTIVE = re.compile(r"^([ \t]*)-- #(include|layout|item) (.+?)\s*$", re.M)


def lua_file(name: str) -> str:
    """The text of ``lua/<name>.lua`` as shipped (header, directives and all)."""
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")


@functools.cache
def source(name: str) -> str:
    """The Lua that Redis runs for script ``name``: its file with the directives expanded
    (each include cut to the definitions the script uses, see :func:`_includes`) and the
    constants it uses defined at the top."""
    flags, _, rest = lua_file(name).partition("\n")  # the #!lua line must stay first
    body = expand(_includes(rest))
    used = [c for c in CONSTANTS if re.search(rf"\b{c}\b", body)]
    return "\n".join([flags, *(f"local {c} = {_lua_literal(CONSTANTS[c])}" for c in used), body])


def expand(text: str) -> str:
    """``text`` with its ``-- #include`` (the whole file), ``-- #layout`` and ``-- #item``
    lines expanded."""
    return _DIRECTIVE.sub(_expand, text)


def _expand(match: re.Match[str]) -> str:
    indent, what, words = match[1], match[2], match[3].split()
    if what == "include":
        text = expand(lua_file(words[0]).rstrip("\n"))
    elif what == "layout":
        text = LAYOUTS[words[0]].lua_record(words[1], words[2])
    else:
        text = LAYOUTS[words[0]].lua_item(words[1], words[2])
    return _indented(indent, text)


def _indented(indent: str, text: str) -> str:
    return "\n".join(indent + line if line else line for line in text.split("\n"))


def _includes(text: str) -> str:
    """``text`` with each ``-- #include`` line replaced by the definitions of that file
    the script reaches, directly or through other definitions, in the file's order.

    An include in the first column serves the whole script but the scopes of indented
    ones. An indented include serves its scope: the lines after it up to the first
    (non-blank) line indented less; it keeps what its scope reaches and no include in
    the first column kept. So a path most calls never take (a block under an ``if``)
    can define the functions only it needs, made only when it runs.
    """
    lines = text.split("\n")
    found = [(i, m) for i, line in enumerate(lines) if (m := _DIRECTIVE.fullmatch(line))]
    own = list(lines)  # the script's own text, as its names are looked up
    for i, m in found:
        own[i] = "" if m[2] == "include" else _expand(m)
    scopes: dict[int, range] = {}
    for i, m in found:
        if m[2] == "include" and m[1]:
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) >= len(m[1])):
                end += 1
            scopes[i] = range(i + 1, end)
    nested = {j for scope in scopes.values() for j in scope}
    if any(i in nested for i in scopes):
        raise ValueError("an indented -- #include inside the scope of another")
    top_uses = _names("\n".join(line for j, line in enumerate(own) if j not in nested))
    kept: dict[str, frozenset[str]] = {}  # file -> what its first-column include kept
    for i, m in found:
        if m[2] == "include" and i not in scopes:
            kept[m[3]] = _reached(m[3], top_uses)
    out = list(lines)
    for i, m in found:
        if m[2] != "include":
            continue
        if i in scopes:
            uses = _names("\n".join(own[j] for j in scopes[i]))
            want = _reached(m[3], uses) - kept.get(m[3], frozenset())
        else:
            want = kept[m[3]]
        out[i] = _indented(m[1], _kept_text(m[3], want))
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


@dataclass(frozen=True, slots=True)
class _Definition:
    """One top-level ``local`` statement of an included file, with what follows it up to
    the next one (its function body), and the names it defines and uses."""

    defines: frozenset[str]
    uses: frozenset[str]
    text: str


_DEFINES = re.compile(r"local function (\w+)|local (\w+(?:\s*,\s*\w+)*)\s*=")
# Lua's strings and comments (skipped when looking for the names a text uses), names.
_LUA_TOKEN = re.compile(r"""--[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|([A-Za-z_]\w*)""")


def _names(text: str) -> frozenset[str]:
    """The names a Lua text uses (a superset: field names and keywords too)."""
    if "[[" in text or "[=" in text:
        raise ValueError("long strings and comments are not supported by the loader")
    return frozenset(m[1] for m in _LUA_TOKEN.finditer(text) if m[1])


@functools.cache
def _definitions(name: str) -> tuple[_Definition, ...]:
    """The included file ``name`` (its own includes expanded) as its top-level
    definitions, in order. A definition starts at a line ``local function NAME`` or
    ``local NAME[, NAME]* =`` in the first column and runs to the line before the next
    line in the first column that starts another definition or a comment. Only comments
    and blank lines may stand outside a definition, so nothing else is ever left out."""
    out: list[_Definition] = []
    lines: list[str] = []
    defines: frozenset[str] = frozenset()

    def close() -> None:
        if lines:
            text = "\n".join(lines).rstrip("\n")
            out.append(_Definition(defines, _names(text), text))
            lines.clear()

    for line in expand(lua_file(name)).split("\n"):
        m = _DEFINES.match(line)
        if m:
            close()
            defines = frozenset(re.split(r"\s*,\s*", m[1] or m[2]))
            lines.append(line)
        elif line.startswith("--"):
            close()
        elif lines:
            lines.append(line)
        elif line.strip():
            raise ValueError(f"{name}.lua: a statement outside a definition: {line!r}")
    close()
    return tuple(out)


def _reached(name: str, uses: frozenset[str]) -> frozenset[str]:
    """The names of the included file ``name`` that ``uses`` reaches, directly or through
    the definitions they name."""
    defs = _definitions(name)
    want: set[str] = set()
    todo = set(uses)
    while todo:
        found = [d for d in defs if d.defines & todo and not d.defines <= want]
        todo = set()
        for d in found:
            want |= d.defines
            todo |= d.uses - want
    return frozenset(want)


def _kept_text(name: str, want: frozenset[str]) -> str:
    """The definitions of the included file ``name`` that define a name of ``want``, in
    the file's order."""
    defs = _definitions(name)
    kept = [d.text for d in defs if d.defines & want]
    return "\n".join([f"-- {name}.lua: {len(kept)} of its {len(defs)} definitions", *kept])


def _lua_literal(value: int | str) -> str:
    if isinstance(value, int):
        return str(value)
    if not re.fullmatch(r"[\w .,:;-]*", value):
        raise ValueError(f"not a plain Lua string constant: {value!r}")
    return f"'{value}'"
