"""What a worker checks about its store before it starts: does the store keep the queue
across a restart, and does it evict keys when full?

A Redis with neither AOF nor RDB saves (the default of many installs) loses every
queued task on a restart, and a ``maxmemory-policy`` other than ``noeviction`` deletes
keys, i.e. tasks, when memory runs out. Nothing can make such a store safe from here:
the worker says so once at start (``hueyctl worker``), or refuses to start with
``--require-persistence``, and publishes what it found in its registry entry
(``store``), for ``hueyctl status`` and ``top``.

It uses what the worker's ACL allows: ``INFO persistence`` and ``INFO memory``, and
``CONFIG GET save`` (an admin command) for the RDB schedule; what it cannot read it
reports as unknown, with one debug line. Memory and SQLite stores are not checked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .exceptions import StoreError, StoreUnavailable
from .keys import StoreRecord
from .storage.base import Durability, Storage

log = logging.getLogger("engine.preflight")

#: Exit status of a worker that refuses its store (EX_UNAVAILABLE, sysexits.h).
EXIT_NOT_PERSISTENT = 69


@dataclass(frozen=True, slots=True)
class StoreCheck:
    """What the check found: ``refusal`` is the one line a worker with
    ``--require-persistence`` stops with (None: it may start)."""

    durability: Durability | None
    refusal: str | None

    def record(self) -> StoreRecord | None:
        """For the registry entry: None when the store was not checked."""
        d = self.durability
        if d is None:
            return None
        return {"persistent": d.persistent, "aof": d.aof, "rdb": d.rdb, "eviction": d.eviction}


def check_store(storage: Storage, require_persistence: bool = False) -> StoreCheck:
    """Check the store once, log what is wrong (warnings) or unknown (debug), and say
    whether a worker that requires persistence may start. A queue in a layout this
    release does not use (an earlier or a newer release's) raises ConfigurationError."""
    try:
        storage.check_format()
    except (StoreUnavailable, StoreError):  # checked again at the first write, which retries
        pass
    d = storage.durability()
    if d is None:
        return StoreCheck(None, None)
    where = storage.describe()
    if require_persistence and not d.persistent:  # the refusal is the one line said
        why = "keeps nothing on disk" if d.persistent is False else f"may not ({d.unknown})"
        return StoreCheck(
            d,
            f"refusing to start (--require-persistence): Redis at {where} {why};"
            " turn on appendonly or an RDB save schedule",
        )
    if d.persistent is False:
        log.warning(
            "Redis at %s keeps nothing on disk (no AOF, no RDB saves): a restart loses"
            " every queued task. Turn on appendonly (or a save schedule), or start"
            " workers with --require-persistence to refuse such a store",
            where,
        )
    elif d.persistent is None:
        log.debug("cannot tell whether Redis at %s saves RDB snapshots: %s", where, d.unknown)
    if d.eviction not in (None, "noeviction"):
        log.warning(
            "Redis at %s evicts keys when full (maxmemory-policy %s): an evicted key is a"
            " lost task; set maxmemory-policy noeviction",
            where,
            d.eviction,
        )
    elif d.eviction is None:
        log.debug("cannot tell the maxmemory-policy of Redis at %s", where)
    return StoreCheck(d, None)
