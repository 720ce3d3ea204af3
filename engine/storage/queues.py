"""Which queues a store holds, so ``hueyctl`` can tell a misspelled ``--queue`` from
an empty queue and list the names the store has.

The stores answer (:meth:`~engine.storage.base.Storage.queue_names`): the names
workers and producers announced, and on Redis those a bounded scan of the key
space finds (queues written before they were announced). This module only turns a
store failure into "cannot say".
"""

from __future__ import annotations

from .base import SCAN_BUDGET, Storage


def queue_names(storage: Storage, budget: int = SCAN_BUDGET) -> tuple[list[str], bool] | None:
    """The queue names found in ``storage`` and whether the search was complete
    (False: the Redis scan stopped at ``budget`` keys); None when the store cannot
    list its queues, or failed to (the caller's next read reports a store that is
    down, in the store's own words)."""
    try:
        return storage.queue_names(budget)
    except Exception:
        return None


def knows_queue(storage: Storage, name: str) -> tuple[list[str], bool] | None:
    """``queue_names`` for the question "has the store seen ``name``?": the announced
    names first (one read), the bounded scan only when ``name`` is not among them."""
    first = queue_names(storage, 0)
    if first is not None and name in first[0]:
        return first
    return queue_names(storage)
