"""Raw Redis keys of a queue in layout 2 (engine/storage/redis_layout.py), for tests that
plant entries no client would write (bad ids, ids without a body, a replaced body) or
read what a server holds (a replica, a promoted master)."""

from __future__ import annotations

from typing import Any

from engine.storage.redis_layout import body_key, ready_key


def prefix(queue: str) -> str:
    return f"hueyctl:{{{queue}}}:"


def put_body(client: Any, queue: str, task_id: str | bytes, body: bytes) -> int:
    """Store ``body`` under the id where the layout keeps it (replacing one stored in
    either hash); returns how many bodies it replaced (with a pipeline: nothing useful)."""
    m = prefix(queue) + "m:"
    removed = client.hdel(body_key(m, task_id), task_id)
    removed_big = client.hdel(m + "big", task_id) if body_key(m, task_id) != m + "big" else 0
    client.hset(body_key(m, task_id, len(body)), task_id, body)
    if isinstance(removed, int) and isinstance(removed_big, int):
        return removed + removed_big
    return 0


def plant_ready(
    client: Any, queue: str, task_id: str | bytes, body: bytes | None, priority: int = 0
) -> None:
    """A ready entry at the back of its level, with ``body`` (None: an id with no body)."""
    p = prefix(queue)
    if body is not None:
        put_body(client, queue, task_id, body)
    if priority:
        client.hset(p + "prio", task_id, priority)
    client.rpush(ready_key(p + "r:", priority), task_id)
    client.zadd(p + "levels", {str(priority): -priority})


def ready_ids(client: Any, queue: str) -> list[bytes]:
    """Every ready id in claim order."""
    p = prefix(queue)
    out: list[bytes] = []
    for level in client.zrange(p + "levels", 0, -1):
        out += client.lrange(p + "r:" + level.decode(), 0, -1)
    return out


def ready_count(client: Any, queue: str) -> int:
    return len(ready_ids(client, queue))


def body_count(client: Any, queue: str) -> int:
    """How many bodies the queue stores (every bucket and ``m:big``)."""
    m = prefix(queue) + "m:"
    return sum(int(client.hlen(key)) for key in client.scan_iter(match=m + "*", count=1000))


def has_body(client: Any, queue: str, task_id: str | bytes) -> bool:
    m = prefix(queue) + "m:"
    return bool(client.hexists(body_key(m, task_id), task_id) or client.hexists(m + "big", task_id))
