"""Task ids: UUID version 7, ordered by creation time within a process.

Ground floor (imports nothing from the engine): a task, a chord and every store
make ids, and the store orders equal priorities on them, so the one generator
lives below all of them.
"""

from __future__ import annotations

import os
import struct
import threading
import time

ID_LENGTH = 36  # characters of a task id (a UUID: 32 hex digits, 4 dashes)

_id_lock = threading.Lock()
_id_last = [0, 0]  # last millisecond, counter within it
# Random bits come from os.urandom, read 4 KiB at a time (one system call per 512 ids);
# a forked child drops what its parent had read, so parent and child never share bits.
_POOL_SIZE = 4096
_pool = b""  # random bytes read, not all used yet
_pool_at = _POOL_SIZE  # the next unused byte of _pool (none read yet)


def _drop_pool() -> None:
    global _pool, _pool_at
    _pool, _pool_at = b"", _POOL_SIZE


os.register_at_fork(after_in_child=_drop_pool)


def _reserve(ms: int, n: int) -> tuple[int, int]:
    """Take the next ``n`` places in this process's id order (the caller holds the
    lock): the millisecond and counter of the first; the counter runs on from there,
    borrowing the next millisecond each time it passes 0xFFF."""
    last, counter = _id_last
    if ms <= last:
        ms, counter = last, counter + 1
        if counter > 0xFFF:  # counter exhausted: borrow the next millisecond
            ms, counter = ms + 1, 0
    else:
        counter = 0
    end = counter + n - 1
    _id_last[0], _id_last[1] = ms + (end >> 12), end & 0xFFF
    return ms, counter


def new_task_id(now: float | None = None) -> str:
    """A UUID version 7: 48 bits of milliseconds, a 12-bit counter, 62 random bits.

    Ids made later sort after ids made earlier in this process (ties broken by
    the counter), so a backend can keep first-in first-out order within one
    priority by ordering on the id.
    """
    global _pool, _pool_at
    ms = int((time.time() if now is None else now) * 1000)
    with _id_lock:
        ms, counter = _reserve(ms, 1)
        if _pool_at >= _POOL_SIZE:
            _pool, _pool_at = os.urandom(_POOL_SIZE), 0
        pool, at = _pool, _pool_at
        _pool_at = at + 8
    rand = int.from_bytes(pool[at : at + 8], "big")
    # 8-4-4-4-12 hex digits: ms (48 bits), version 7 + counter, variant 0b10 + 14
    # random bits, 48 random bits.
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - the fastest spelling here
        (ms >> 16) & 0xFFFFFFFF,
        ms & 0xFFFF,
        0x7000 | counter,
        0x8000 | (rand >> 50),
        rand & 0xFFFFFFFFFFFF,
    )


def new_task_ids(n: int, now: float | None = None) -> list[str]:
    """``n`` ids, as ``n`` calls of :func:`new_task_id` would make them (in order,
    after every id made before), at a third of the cost: one clock read, one lock and
    one read of random bits for all of them (bulk enqueue makes its ids here)."""
    if n <= 0:
        return []
    ms = int((time.time() if now is None else now) * 1000)
    with _id_lock:
        ms, counter = _reserve(ms, n)
    words = struct.unpack(f">{n}Q", os.urandom(8 * n))
    out: list[str] = []
    # The first two groups (48 bits of ms) and the version digit change only with the
    # millisecond: written once per millisecond.
    head = _head(ms)
    tail = "%03x-%04x-%012x".__mod__
    for rand in words:
        if counter > 0xFFF:
            ms, counter = ms + 1, 0
            head = _head(ms)
        out.append(head + tail((counter, 0x8000 | (rand >> 50), rand & 0xFFFFFFFFFFFF)))
        counter += 1
    return out


def _head(ms: int) -> str:
    """An id's first 15 characters: its millisecond, and the version digit."""
    return "%08x-%04x-7" % ((ms >> 16) & 0xFFFFFFFF, ms & 0xFFFF)  # noqa: UP031
