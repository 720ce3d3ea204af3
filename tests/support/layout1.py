"""A Redis queue as the previous release (layout 1) left it, written with raw commands,
and what ``hueyctl migrate`` must make of it (tests/contract/test_redis_migrate.py,
tests/system/test_migrate_acl.py)."""

from __future__ import annotations

import time
from typing import Any

import redis

from engine.storage.redis_layout import FORMAT, body_key

STEP = 2.0**-36  # layout 1's place within a priority (its ORDER_UNIT)
NOW = time.time()

LONG_ID = "long-" + "x" * 70  # past SMALL: its body goes to m:big whatever its size
# ready: (id, priority, place in its level, body); FIFO order differs from id order
READY = [
    ("r0-c", 0, 0, b"s:r0-c"),
    ("r0-a", 0, 1, b"B" * 200),  # a body past SMALL
    ("r0-b", 0, 2, b"s:r0-b"),
    (LONG_ID, 0, 3, b"s:long"),
    ("r5-y", 5, 0, b"s:r5-y"),
    ("r5-x", 5, 1, b"s:r5-x"),
    ("rn-1", -2, 0, b"s:rn-1"),
]
SCHEDULED = ("s-1", b"s:s-1", 2)  # id, body, priority
RUNNING = ("run-old", b"s:run-old")  # its worker's lease has lapsed
DEAD = ("dead-1", b"D" * 100)
PARKED = ("park-1", b"s:park-1", "tasks.slow")
RESULT = ("kv:result:done-1", b"the result")


def fill_layout1(client: redis.Redis, p: str, bodies: dict[str, bytes] | None = None) -> None:
    """Every state, as the previous release wrote it (``bodies`` replaces some)."""
    bodies = bodies or {}
    body = {i: bodies.get(i, b) for i, _, _, b in READY}
    for task_id, data in (SCHEDULED[:2], RUNNING, DEAD, PARKED[:2]):
        body[task_id] = bodies.get(task_id, data)
    client.hset(p + "msg", mapping=body)  # type: ignore[arg-type]
    client.zadd(p + "ready", {i: -prio + place * STEP for i, prio, place, _ in READY})
    client.hset(p + "prio", mapping={"r5-y": 5, "r5-x": 5, "rn-1": -2, SCHEDULED[0]: 2})
    client.zadd(p + "sched", {SCHEDULED[0]: NOW + 3600})
    client.hset(p + "running", RUNNING[0], f"gone-1|{NOW - 120}")
    client.hset(p + "deliv", RUNNING[0], 1)
    client.zadd(p + "leases", {"gone-1": NOW - 60})
    client.zadd(p + "dead", {DEAD[0]: NOW - 30})
    client.hset(p + "deadinfo", mapping={DEAD[0]: "error\nValueError: boom", "\0bytes": 100})
    client.rpush(p + "parked:" + PARKED[2], PARKED[0])
    client.set(p + RESULT[0], RESULT[1])


UNTOUCHED = ("sched", "running", "deliv", "leases", "dead", "deadinfo", "prio")


def dumps(client: redis.Redis, p: str) -> dict[bytes, Any]:
    """Every key of the queue and what it holds (DUMP; a hash as its sorted items)."""
    out = {}
    for key in client.scan_iter(match=p.replace("{", "\\{") + "*", count=1000):
        if client.type(key) == b"hash":
            out[key] = sorted(client.hgetall(key).items())
        else:
            out[key] = client.dump(key)
    return out


def assert_layout2(client: redis.Redis, p: str, bodies: dict[str, bytes] | None = None) -> None:
    """The queue holds exactly what layout 2 says for the store fill_layout1 made."""
    bodies = bodies or {}
    levels = client.zrange(p + "levels", 0, -1, withscores=True)
    assert levels == [(b"5", -5.0), (b"0", 0.0), (b"-2", 2.0)]
    assert client.lrange(p + "r:0", 0, -1) == [b"r0-c", b"r0-a", b"r0-b", LONG_ID.encode()]
    assert client.lrange(p + "r:5", 0, -1) == [b"r5-y", b"r5-x"]
    assert client.lrange(p + "r:-2", 0, -1) == [b"rn-1"]
    expected: dict[str, dict[bytes, bytes]] = {}
    everything = [(i, b) for i, _, _, b in READY]
    everything += [SCHEDULED[:2], RUNNING, DEAD, PARKED[:2]]
    for task_id, data in everything:
        data = bodies.get(task_id, data)
        expected.setdefault(body_key(p + "m:", task_id, len(data)), {})[task_id.encode()] = data
    assert (p + "m:big") in expected and len(expected) > 3  # both kinds of home are used
    for key, content in expected.items():
        assert client.hgetall(key) == content, key
    assert client.hgetall(p + "parkedin") == {PARKED[0].encode(): PARKED[2].encode()}
    assert client.get(p + "fmt") == str(FORMAT).encode()
    assert not client.exists(p + "ready", p + "msg")
    layout2 = {"levels", "r:0", "r:5", "r:-2", "parkedin", "fmt"}
    names = {*UNTOUCHED, "parked:" + PARKED[2], RESULT[0], *layout2}
    keys = {k.decode() for k in client.scan_iter(match=p.replace("{", "\\{") + "*", count=1000)}
    assert keys == {p + n for n in names} | set(expected)
