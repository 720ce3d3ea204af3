"""Revoking calls (by id) and whole tasks (by name): records, checks, and a cache.

A revocation is the entry ``id:<id>`` or ``task:<name>`` of the store's map
``revoked``, holding ``{"until": epoch|null, "once": bool, "at": epoch}``. Every
change bumps the counter ``revoke:version``. A consumer reads that version in
the same round trip as each claim (``Storage.claim_round``) and in each
heartbeat, and reloads its local table (one round trip) only when it changed,
so checking a task before running it costs nothing; only spending a revocation
(skipping a revoked call) writes to the store.

Core floor (imports the model and storage): the key names are ``engine.keys``'
and are re-exported here under their old names.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from .codec import canonical_json
from .keys import REVOKE_ID, REVOKE_TASK
from .keys import REVOKE_VERSION as VERSION
from .keys import REVOKED as MAP
from .storage.base import Storage

__all__ = ["MAP", "REVOKE_ID", "REVOKE_TASK", "VERSION", "Revocations", "call_keys"]
_FOREVER = 10 * 365 * 86400.0
_UNLOADED = object()


def call_keys(task_id: str, name: str) -> tuple[str, str]:
    """The revocations that stop one call, in the order they are checked: its own
    id, then its task's name (the runtime, the facade and the read model agree)."""
    return REVOKE_ID + task_id, REVOKE_TASK + name


class Revocations:
    """A queue's revocations: written by the facade, checked by the worker before it
    runs a call, listed by the read model."""

    def __init__(self, storage: Callable[[], Storage]) -> None:
        # A callable, not the store: immediate mode and use_store() swap the store.
        self._storage = storage
        self._lock = threading.Lock()
        self._version: object = _UNLOADED
        self._table: dict[str, tuple[bytes, dict[str, Any]]] | None = None

    @property
    def storage(self) -> Storage:
        """The queue's current store."""
        return self._storage()

    # --- writing -------------------------------------------------------------
    def put(self, key: str, until: float | None, once: bool) -> None:
        self.storage.map_set(
            MAP, key, canonical_json({"until": until, "once": once, "at": time.time()})
        )
        self._bump()

    def delete(self, key: str, value: bytes | None = None) -> bool:
        done = self.storage.map_delete(MAP, key, value)
        if done:
            self._bump()
        return done

    def _bump(self) -> None:
        self.storage.incr(VERSION, _FOREVER)

    # --- reading -------------------------------------------------------------
    def record(self, key: str, now: float | None = None) -> dict[str, Any] | None:
        """The record at ``key`` if in force at ``now`` (default: the present). A pure
        read: a lapsed ``until`` record is ignored here and cleaned up by workers
        (``any_in_force(peek=False)``), so readers need no write right."""
        data = self.storage.map_get(MAP, key)
        if data is None:
            return None
        rec: dict[str, Any] = json.loads(data)
        if rec.get("until") is not None and rec["until"] <= (now or time.time()):
            return None
        return rec

    def any_in_force(self, keys: list[str], now: float | None = None, peek: bool = True) -> bool:
        """Whether a record at one of ``keys`` is in force at ``now``. With
        ``peek=False`` (huey's), a once-only record found in force is spent and a
        lapsed one is deleted."""
        for key in keys:
            if peek:
                if self.record(key, now) is not None:
                    return True
                continue
            data = self.storage.map_get(MAP, key)
            if data is None:
                continue
            rec = json.loads(data)
            lapsed = rec.get("until") is not None and rec["until"] <= (now or time.time())
            if lapsed or rec.get("once"):
                self.delete(key, data)
            if not lapsed:
                return True
        return False

    def listing(self, now: float | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Records in force: (``id:<id>`` or ``task:<name>``, record)."""
        now = time.time() if now is None else now
        out = []
        for key, data in sorted(self.storage.map_items(MAP).items()):
            rec = json.loads(data)
            if rec.get("until") is None or rec["until"] > now:
                out.append((key, rec))
        return out

    # --- the consumer's cache ------------------------------------------------------
    def refresh(self, version: bytes | None) -> None:
        """Reload the local table if the store's version moved (called after claims)."""
        if version == self._version:
            return
        table = {key: (data, json.loads(data)) for key, data in self.storage.map_items(MAP).items()}
        with self._lock:
            self._table, self._version = table, version

    def _lookup(self, key: str) -> tuple[bytes, dict[str, Any]] | None:
        """From the cache when one is loaded (no round trip), else from the store."""
        table = self._table
        if table is not None:
            return table.get(key)
        data = self.storage.map_get(MAP, key)
        return None if data is None else (data, json.loads(data))

    def consume(self, task_id: str, name: str, now: float) -> bool:
        """At execution: is this call revoked? Spends a once-only revocation."""
        if self._table == {}:  # loaded, and nothing is revoked: the common case
            return False
        for key in call_keys(task_id, name):
            found = self._lookup(key)
            if found is None:
                continue
            data, rec = found
            if rec.get("until") is not None and rec["until"] <= now:
                continue
            if key.startswith(REVOKE_ID) or rec.get("once"):
                # Spend it; of several consumers racing for a once-only record, one wins.
                if not self.delete(key, data):
                    continue
            return True
        return False
