"""Which queues a store holds, so ``hueyctl`` can tell a misspelled ``--queue`` from
an empty queue and list the names the store has.

One function over the backends (their drivers are imported by their own modules,
never here): Redis is scanned for the queue hash tags of ``hueyctl:{<queue>}:*``
with a bounded number of keys read; SQLite answers one ``DISTINCT`` query; any
other store (memory) cannot say.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Storage

SCAN_BUDGET = 20_000  # Redis keys read at most: a big store is not walked whole
_TAG = re.compile(rb"^hueyctl:\{(.*?)\}:")
_SQL = " UNION ".join(
    f"SELECT DISTINCT queue FROM {table}" for table in ("task", "kv", "lease", "map", "stat")
)


def queue_names(storage: Storage, budget: int = SCAN_BUDGET) -> tuple[list[str], bool] | None:
    """The queue names found in ``storage`` and whether the search was complete
    (False: the Redis scan stopped at ``budget`` keys); None when the store cannot
    list its queues, or failed to (the caller's next read reports a store that is
    down, in the store's own words)."""
    try:
        return _names(storage, budget)
    except Exception:
        return None


def _names(storage: Storage, budget: int) -> tuple[list[str], bool] | None:
    client: Any = getattr(storage, "client", None)
    if client is not None and hasattr(client, "scan_iter"):
        return _redis_names(client, budget)
    locked = getattr(storage, "_locked", None)
    if locked is not None and type(storage).__name__ == "SqliteStorage":
        with locked() as conn:
            return sorted(str(row[0]) for row in conn.execute(_SQL).fetchall()), True
    return None


def _redis_names(client: Any, budget: int) -> tuple[list[str], bool]:
    found: set[str] = set()
    seen = 0
    for key in client.scan_iter(match="hueyctl:{*}:*", count=1000):
        seen += 1
        raw = key if isinstance(key, bytes) else str(key).encode()
        m = _TAG.match(raw)
        if m:
            found.add(m.group(1).decode("utf-8", "replace"))
        if seen >= budget:
            return sorted(found), False
    return sorted(found), True
