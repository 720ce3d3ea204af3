"""Which layout a Redis queue is in, and ``hueyctl migrate`` from layout 1 to layout 2.

A queue in layout 2 (:mod:`engine.storage.redis_layout`) says so in its ``fmt`` key.
Layout 1 (the releases before) wrote no ``fmt``: its ready ids are in the ``ready``
zset and every body is in the ``msg`` hash; its other keys (``sched``, ``running``,
``dead``, ``prio``, ``parked:<name>`` ...) are layout 2's too.

:func:`check` is what a store does once before it writes or claims (and what a
read-only tool does, without writing): a queue in a newer layout, or holding layout 1
keys, is refused with one line that says what to do; a new queue is marked layout 2.

:func:`migrate` moves a queue from layout 1 to layout 2, in batches of
:data:`BATCH` ids, each one call of ``lua/migrate.lua`` (atomic: an id and its body
move together; idempotent: a moved id is in no layout 1 key, so a migration cut short
is run again and goes on). First the calls set aside on ``parked:<name>`` lists are
marked in ``parkedin``; then the ready ids move in claim order (priority, then first
in first out), so order survives; then every other body (scheduled, running, dead,
parked); the last batch, finding layout 1's keys gone, sets ``fmt``. It refuses while
a worker holds a live lease (a worker of the earlier release would go on writing
layout 1), before the first batch and in every batch.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..exceptions import ConfigurationError, StoreError
from .base import Migration
from .redis_layout import FORMAT, LAYOUT1_MSG, LAYOUT1_READY, bucket
from .redis_scripts import MIGRATE

#: Ids per call of the migrate script.
BATCH = 500
#: Layout 2's keys that a migration writes (after the queue's ``hueyctl:{q}:``): the
#: prefixes of the ready lists and body buckets, as in redis_layout's table.
READY_PREFIX, BODY_PREFIX = "r:", "m:"
LEVELS, PARKEDIN, FMT = "levels", "parkedin", "fmt"
#: How often the layout 1 keys are walked again when something wrote to them while a
#: migration ran (a producer of the earlier release), before giving up.
PASSES = 5


def newer(queue: str, found: str) -> str:
    return (
        f"queue {queue!r} is in layout {found}; this hueyctl knows up to {FORMAT}: upgrade hueyctl"
    )


def older(queue: str) -> str:
    return (
        f"queue {queue!r} holds tasks in layout 1 (an earlier release): stop its workers and"
        f" run `hueyctl migrate --queue {shlex.quote(queue)}`"
    )


def _version(raw: bytes | None) -> int | str | None:
    """``fmt`` as read: None (absent), its number, or its text when it is no number."""
    if raw is None:
        return None
    text = raw.decode("utf-8", "backslashreplace")
    return int(text) if text.isdigit() else text


def refusal(queue: str, raw_fmt: bytes | None, layout1: bool) -> str | None:
    """Why this release may not use the queue (one line), or None.

    ``raw_fmt``: the ``fmt`` key; ``layout1``: whether a layout 1 key (``ready``,
    ``msg``) exists, i.e. holds something (Redis drops empty keys). Layout 1 keys are
    refused beside ``fmt`` = 2 too: a producer of the earlier release still writes them.
    """
    version = _version(raw_fmt)
    if isinstance(version, str) or (version is not None and version > FORMAT):
        return newer(queue, str(version))
    if layout1 or version == 1:
        return older(queue)
    return None


def read(client: Any, prefix: str) -> tuple[bytes | None, bool]:
    """The queue's ``fmt`` and whether a layout 1 key exists (one round trip, reads only)."""
    pipe = client.pipeline(transaction=False)
    pipe.get(prefix + FMT)
    pipe.exists(prefix + LAYOUT1_READY)
    pipe.exists(prefix + LAYOUT1_MSG)
    fmt, ready, msg = pipe.execute()
    return fmt, bool(ready or msg)


def check(client: Any, prefix: str, queue: str, write: bool) -> None:
    """Raise ConfigurationError (one line) when this release may not use the queue;
    with ``write``, mark a new queue (no ``fmt``, nothing of layout 1) as layout 2."""
    raw, layout1 = read(client, prefix)
    why = refusal(queue, raw, layout1)
    if why is not None:
        raise ConfigurationError(why)
    if write and raw is None:
        client.set(prefix + FMT, FORMAT, nx=True)


# --- hueyctl migrate -----------------------------------------------------------------------
def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def parked_lists(client: Any, prefix: str) -> list[bytes]:
    """The queue's ``parked:<name>`` lists (a SCAN of the store's keys)."""
    pattern = _glob_escape(prefix + "parked:") + "*"
    return sorted(set(client.scan_iter(match=pattern, count=1000, _type="list")))


def survey(client: Any, prefix: str, queue: str) -> Migration:
    """What a migration would move (reads only): tasks per state, the stored bodies
    and the bytes of layout 1's keys (MEMORY USAGE's estimate from a sample of the
    entries: counting every one would hold the server up for ~0.7 s per million)."""
    raw, layout1 = read(client, prefix)
    version = _version(raw)
    if isinstance(version, str) or (version is not None and version > FORMAT):
        raise ConfigurationError(newer(queue, str(version)))
    found = 1 if layout1 or version == 1 else version
    parked = parked_lists(client, prefix) if found == 1 else []
    pipe = client.pipeline(transaction=False)
    pipe.zcard(prefix + LAYOUT1_READY)
    pipe.zcard(prefix + "sched")
    pipe.hlen(prefix + "running")
    pipe.zcard(prefix + "dead")
    pipe.hlen(prefix + LAYOUT1_MSG)
    for key in parked:
        pipe.llen(key)
    ready, scheduled, running, dead, bodies, *parked_n = pipe.execute()
    counts = {
        "ready": ready,
        "scheduled": scheduled,
        "running": running,
        "dead": dead,
        "parked": sum(parked_n),
        "bodies": bodies,
    }
    sizes = {}
    if found == 1:
        for name in (LAYOUT1_READY, LAYOUT1_MSG):
            sizes[name] = int(client.memory_usage(prefix + name) or 0)
    return Migration(queue, found, counts, sizes, {}, dry_run=True)


def live_lease(client: Any, prefix: str) -> str | None:
    """A consumer whose lease runs past the server's clock now."""
    seconds, micros = client.time()
    now = int(seconds) + int(micros) / 1e6
    hit = client.zrangebyscore(prefix + "leases", f"({now}", "+inf", 0, 1)
    return hit[0].decode("utf-8", "backslashreplace") if hit else None


def busy(queue: str, consumer: str) -> str:
    return (
        f"queue {queue!r} has a live worker ({consumer} holds a lease): stop the queue's"
        " workers, then run hueyctl migrate again"
    )


def migrate(
    client: Any, prefix: str, queue: str, scripts: Mapping[str, Any], dry_run: bool = False
) -> Migration:
    """Move the queue from layout 1 to layout 2 (see the module docstring); with
    ``dry_run``, only say what would move. ``scripts``: the store's registered scripts
    by name (redis-py Script objects), of which the migrate script runs."""
    before = survey(client, prefix, queue)
    if dry_run or before.found != 1:
        return before
    consumer = live_lease(client, prefix)
    if consumer is not None:
        raise StoreError(busy(queue, consumer))
    moved = {"ready": 0, "bodies": 0, "parked": _mark_parked(client, prefix), "dropped": 0}
    batch = _Batches(prefix, scripts[MIGRATE.name], queue, moved)
    for _ in range(PASSES):
        while ids := client.zrange(prefix + LAYOUT1_READY, 0, BATCH - 1):
            batch.run(ids)
        for ids in _chunks(client.hscan_iter(prefix + LAYOUT1_MSG, count=BATCH)):
            batch.run(ids)
        if batch.run([]) == (0, 0):
            return Migration(queue, 1, before.counts, before.bytes, moved, dry_run=False)
    raise StoreError(
        f"queue {queue!r}: layout 1 keys were still being written after {PASSES} passes"
        " (a producer of an earlier release is running): stop it, then run hueyctl migrate again"
    )


def _mark_parked(client: Any, prefix: str) -> int:
    """``parkedin`` id -> name for every id on a ``parked:<name>`` list; how many."""
    marked = 0
    start = len((prefix + "parked:").encode())
    for key in parked_lists(client, prefix):
        name = key[start:]
        at = 0
        while ids := client.lrange(key, at, at + BATCH - 1):
            client.hset(prefix + PARKEDIN, mapping=dict.fromkeys(ids, name))
            marked += len(ids)
            at += BATCH
    return marked


def _chunks(fields: Iterable[Any]) -> Iterable[list[bytes]]:
    """Field names of an HSCAN (pairs of field, value) in lists of at most BATCH."""
    chunk: list[bytes] = []
    for item in fields:
        chunk.append(item[0] if isinstance(item, tuple) else item)
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Batches:
    """Calls of the migrate script, adding what each moved to ``moved``."""

    def __init__(self, prefix: str, script: Any, queue: str, moved: dict[str, int]) -> None:
        named = {
            "old_ready": prefix + LAYOUT1_READY,
            "old_msg": prefix + LAYOUT1_MSG,
            "ready": prefix + READY_PREFIX,
            "msg": prefix + BODY_PREFIX,
            "prio": prefix + "prio",
            "levels": prefix + LEVELS,
            "leases": prefix + "leases",
            "fmt": prefix + FMT,
        }
        self.keys = [named[n] for n in MIGRATE.keys]
        self.script, self.queue, self.moved = script, queue, moved

    def run(self, ids: Sequence[bytes]) -> tuple[int, int]:
        """Move ``ids`` (in this order); returns what is left in layout 1's two keys."""
        args: list[Any] = [FORMAT]
        for task_id in ids:
            args += (task_id, bucket(task_id))
        out = self.script(keys=self.keys, args=args)
        if out[0] == -1:
            raise StoreError(busy(self.queue, out[1].decode("utf-8", "backslashreplace")))
        for name, n in zip(("ready", "bodies", "dropped"), out[:3], strict=False):
            self.moved[name] += int(n)
        return int(out[3]), int(out[4])
