"""Task ids: UUID version 7, ordered by creation time within a process.

Ground floor (imports nothing from the engine): a task, a chord and every store
make ids, and the store orders equal priorities on them, so the one generator
lives below all of them.
"""

from __future__ import annotations

import os
import threading
import time

ID_LENGTH = 36  # characters of a task id (a UUID: 32 hex digits, 4 dashes)

_id_lock = threading.Lock()
_id_last = [0, 0]  # last millisecond, counter within it


def new_task_id(now: float | None = None) -> str:
    """A UUID version 7: 48 bits of milliseconds, a 12-bit counter, 62 random bits.

    Ids made later sort after ids made earlier in this process (ties broken by
    the counter), so a backend can keep first-in first-out order within one
    priority by ordering on the id.
    """
    ms = int((time.time() if now is None else now) * 1000)
    with _id_lock:
        if ms <= _id_last[0]:
            ms = _id_last[0]
            _id_last[1] += 1
            if _id_last[1] > 0xFFF:  # counter exhausted: borrow the next millisecond
                ms += 1
                _id_last[1] = 0
        else:
            _id_last[1] = 0
        _id_last[0] = ms
        counter = _id_last[1]
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
