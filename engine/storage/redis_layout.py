"""Layout 2 of a Redis queue: the key names, the body buckets and the format version.

One home for the facts that the Lua scripts (through :data:`CONSTANTS` of
:mod:`engine.storage.redis_scripts`), the Python read side and ``hueyctl migrate``
share. Every key of queue ``q`` starts with ``hueyctl:{q}:`` (one hash tag).

=================  ======  ==========================================================
key (after tag)    type    content
=================  ======  ==========================================================
``fmt``            string  the layout's format version, :data:`FORMAT` (absent: the
                           queue is new, or holds layout 1 keys: ``ready``, ``msg``)
``r:<p>``          list    ids ready at priority ``p`` (``r:0``, ``r:5``, ``r:-3``),
                           first in first out: RPUSH at the back, LPOP from the front,
                           LPUSH for a task handed back (recover, release)
``levels``         zset    the priorities whose list may hold ids: member ``p``,
                           score ``-p`` (highest priority first); a level whose list a
                           claim finds empty leaves it
``m:<b>``          hash    body bucket ``b`` = :func:`bucket` (id): id -> stored body,
                           when both are at most :data:`SMALL` bytes (so Redis keeps the
                           bucket a listpack: no per-entry overhead)
``m:big``          hash    id -> stored body, for an id or body longer than that
``parkedin``       hash    id -> task name, for the calls of a paused task set aside
                           (their ids are on ``parked:<name>``)
=================  ======  ==========================================================

The other keys (``sched``, ``prio``, ``running``, ``deliv``, ``leases``, ``dead``,
``deadinfo``, ``wake``, ``parked:<name>``, ``done_*``, ``kv:*``) keep layout 1's form.

Invariant: an id is in exactly one of a ready list (once), ``sched``, ``running``,
``dead`` or a parked list, and its body is in its bucket (or ``m:big``) meanwhile.
"""

from __future__ import annotations

#: The layout this release reads and writes.
FORMAT = 2
#: Body buckets per queue. At 20,000 pending that is ~20 bodies a bucket, and a bucket
#: stays a listpack (Redis's default ``hash-max-listpack-entries`` is 512) up to about
#: 400,000 pending tasks of small bodies.
BUCKETS = 1024
#: How many bytes at the end of an id pick its bucket: the random tail of a generated
#: id, and the part that usually differs between ids a caller makes up.
BUCKET_TAIL = 6
#: Redis's default ``hash-max-listpack-value``: a field or value longer than this turns
#: its whole hash into a hashtable, so such bodies go to ``m:big`` instead.
SMALL = 64

#: Layout 1's keys that layout 2 does not use (``hueyctl migrate`` reads them).
LAYOUT1_READY = "ready"
LAYOUT1_MSG = "msg"


def bucket(task_id: str | bytes) -> int:
    """The body bucket of an id: a hash of its last :data:`BUCKET_TAIL` bytes (UTF-8).

    ``bucket_of`` in ``lua/lib.lua`` computes the same number; a test holds them equal.
    """
    raw = task_id.encode() if isinstance(task_id, str) else task_id
    if BUCKET_TAIL == 6 and len(raw) >= 6:  # the loop below unrolled (the enqueue's hot path)
        a, b, c, d, e, f = raw[-6:]
        return (a * 28629151 + b * 923521 + c * 29791 + d * 961 + e * 31 + f) % BUCKETS
    h = 0
    for c in raw[-BUCKET_TAIL:]:
        h = (h * 31 + c) % BUCKETS
    return h


def body_key(prefix: str, task_id: str | bytes, body_len: int = 0) -> str:
    """The hash that holds (or would hold) a body of ``body_len`` bytes under the id;
    ``prefix`` is the queue's ``hueyctl:{q}:m:``."""
    raw_len = len(task_id.encode() if isinstance(task_id, str) else task_id)
    if raw_len > SMALL or body_len > SMALL:
        return prefix + "big"
    return prefix + str(bucket(task_id))


def ready_key(prefix: str, priority: int) -> str:
    """The ready list of a priority level; ``prefix`` is the queue's ``hueyctl:{q}:r:``."""
    return prefix + str(priority)
