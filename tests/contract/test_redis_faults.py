"""The Redis store under faults that are not a lost connection, on private redis-servers:
a full Redis (``maxmemory``), bad entries in the ready set, worker clock skew, and the
dead-letter set's byte cap.

* Full: the scripts that add work are refused before they write (StoreFull, nothing
  half-written); the ones that drain the queue (claim, finish, heartbeat, recover,
  release, delete) still run; after memory is freed, enqueue works again.
* Bad ids: a ready id that is not UTF-8 becomes a ``malformed`` dead letter under a
  readable stand-in id; a ready id without a body is dropped with one log line; nothing
  read back raises.
* Clock: with the server's clock (the default), a caller whose clock runs 30 s fast can
  neither recover live consumers' tasks nor have its own lease counted from its clock.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from support.procs import RedisServer
from support.redis_keys import has_body, plant_ready

from engine.exceptions import StoreFull
from engine.storage.base import Message, Outcome, new_task_id
from engine.storage.redis import RedisStorage


@pytest.fixture
def full_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, appendonly=False, extra=("--maxmemory", "4mb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _fill(client: redis.Redis) -> int:
    """Write 32 KiB values until Redis refuses one; returns how many went in."""
    n = 0
    while True:
        try:
            client.set(f"filler:{n}", b"x" * 32768)
        except redis.exceptions.OutOfMemoryError:
            return n
        n += 1


def test_a_full_redis_refuses_new_work_and_still_drains(full_redis: RedisServer) -> None:
    client = redis.Redis.from_url(full_redis.url)
    store = RedisStorage("oom", url=full_redis.url)
    now = time.time()
    running, queued, scheduled = (new_task_id() for _ in range(3))
    store.enqueue([Message(running, b"run me"), Message(queued, b"queued")])
    store.schedule([(Message(scheduled, b"later"), now + 3600)])
    assert [c.id for c in store.claim("c1", now, 1, 30)] == [running]
    assert _fill(client) > 10
    before = store.counts()

    fresh = new_task_id()
    with pytest.raises(StoreFull, match="full .maxmemory reached"):
        store.enqueue([Message(fresh, b"new")])
    with pytest.raises(StoreFull):
        store.enqueue([Message(new_task_id(), b"a"), Message(new_task_id(), b"b")])
    # A fresh id's MULTI/EXEC: refused whole (the OOM, not EXECABORT, is what it says).
    with pytest.raises(StoreFull, match="full .maxmemory reached"):
        store.enqueue([Message(fresh, b"new", 3, fresh=True)])
    with pytest.raises(StoreFull):
        store.enqueue([Message(new_task_id(), b"x" * n, 0, fresh=True) for n in range(1500)])
    with pytest.raises(StoreFull):
        store.schedule([(Message(fresh, b"new"), now + 60)])
    # Moving a queued id to the schedule deletes before it adds: refused before either.
    with pytest.raises(StoreFull):
        store.schedule([(Message(queued, b"queued, moved" * 1000), now + 60)])
    with pytest.raises(StoreFull):
        store.enqueue_unique("slot:x", 60, Message(fresh, b"new"))
    assert store.counts() == before  # nothing half-written
    assert store.locate(fresh) is None
    located = store.locate(queued)
    assert located is not None and (located.state, located.data) == ("ready", b"queued")
    assert store.peek("slot:x") is None

    # What drains the queue still runs: heartbeat, claim, finish (with its result),
    # release, recover, remove.
    store.heartbeat("c1", now, 30)
    assert [c.id for c in store.claim("c1", now, 1, 30)] == [queued]
    assert store.release("c1", [queued]) == [queued]
    outcome = Outcome(results=[("result:" + running, b"42")], result_ttl=60)
    assert store.finish("c1", running, now, outcome) is None
    assert store.peek("result:" + running) == b"42"
    assert store.recover(now, 3).requeued == []
    assert store.remove(scheduled)

    client.delete(*[f"filler:{i}" for i in range(200)])
    store.enqueue([Message(fresh, b"new")])  # room again
    assert store.locate(fresh) is not None
    store.destroy()
    client.close()


def _queue(redis_url: str, **options: object) -> Iterator[RedisStorage]:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    store = RedisStorage(name, url=redis_url, **options)  # type: ignore[arg-type]
    try:
        yield store
    finally:
        store.destroy()
        store.close()


@pytest.fixture
def server_clock(redis_url: str) -> Iterator[RedisStorage]:
    yield from _queue(redis_url)


def test_bad_ready_ids_are_set_aside(
    server_clock: RedisStorage, caplog: pytest.LogCaptureFixture
) -> None:
    store = server_clock
    raw = store.client
    good = new_task_id()
    store.enqueue([Message(good, b"good")])
    bad = b"0bad-\xff\xfe-id"
    plant_ready(raw, store.name, bad, b"bad body", 5)  # claimed first
    plant_ready(raw, store.name, b"no-body", None, 5)
    now = time.time()
    with caplog.at_level(logging.WARNING, "engine.storage.redis"):
        claimed = store.claim("c1", now, 10, 30)
    assert [c.id for c in claimed] == [good]
    assert "no-body had no body" in caplog.text
    assert "not UTF-8" in caplog.text
    (letter,) = store.dead_items()
    assert (letter.id, letter.data) == ("0bad-\\xff\\xfe-id", b"bad body")
    assert letter.reason == "malformed"
    assert "not UTF-8" in letter.error
    assert store.counts().running == 1  # only the good one
    assert raw.hget(store._keys["running"], bad) is None
    assert not has_body(raw, store.name, bad)  # kept under the stand-in id only
    # Read back anywhere, a bad id never raises.
    plant_ready(raw, store.name, b"\xc3(", b"x")
    assert [m.id for m in store.ready_items()] == ["\\xc3("]


def test_leases_use_the_server_clock(server_clock: RedisStorage) -> None:
    store = server_clock
    a, b = new_task_id(), new_task_id()
    store.enqueue([Message(a, b"a"), Message(b, b"b")])
    now = time.time()
    assert [c.id for c in store.claim("honest", now, 1, 10)] == [a]
    # A worker whose clock runs 30 s fast: its sweep sees no lapsed lease ...
    fast = now + 30
    assert store.recover(fast, 3).requeued == []
    assert [c.id for c in store.claim("fast", fast, 1, 10)] == [b]
    # ... its own lease runs 10 s on the server's clock, not until fast + 10 ...
    assert store.consumers(now)["fast"] < now + 12
    # ... the honest one's finish holds, and so does the fast one's.
    assert store.finish("honest", a, now, Outcome()) is None
    assert store.finish("fast", b, fast, Outcome()) is None
    # A worker 30 s slow cannot commit on a lease the server says has ended.
    c = new_task_id()
    store.enqueue([Message(c, b"c")])
    store.claim("slow", now - 30, 1, 0.05)
    time.sleep(0.1)
    assert store.finish("slow", c, now - 30, Outcome()) == "lease expired"
    assert store.recover(now - 30, 3).requeued == [c]


def test_a_heartbeat_off_the_server_clock_warns_once(
    server_clock: RedisStorage, caplog: pytest.LogCaptureFixture
) -> None:
    store = server_clock
    with caplog.at_level(logging.WARNING, "engine.storage.redis"):
        store.heartbeat("c1", time.time(), 10)
        assert caplog.text == ""
        store.heartbeat("c1", time.time() + 30, 10)
        store.heartbeat("c1", time.time() + 30, 10)
    assert caplog.text.count("30.0s ahead of the Redis server's") == 1
    assert store.clock_offset is not None and -31 < store.clock_offset < -29


def test_durability_says_what_the_store_keeps(tmp_path: Path) -> None:
    evicts = ("--maxmemory-policy", "allkeys-lru")
    bare = RedisServer(tmp_path / "bare", appendonly=False, extra=evicts)
    aof = RedisServer(tmp_path / "aof", appendonly=True)
    for server in (bare, aof):
        server.dir.mkdir()
        server.start()
    try:
        found = RedisStorage("d", url=bare.url).durability()
        assert found is not None
        assert (found.aof, found.rdb, found.persistent, found.eviction) == (
            False,
            False,
            False,
            "allkeys-lru",
        )
        found = RedisStorage("d", url=aof.url).durability()
        assert found is not None and (found.aof, found.persistent) == (True, True)
        # A least-privilege user may not CONFIG GET: the RDB schedule is unknown.
        admin = redis.Redis.from_url(bare.url)
        admin.acl_setuser(
            "worker", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-config"]
        )
        limited = RedisStorage("d", url=f"redis://worker:pw@127.0.0.1:{bare.port}/0")
        found = limited.durability()
        assert found is not None and (found.aof, found.rdb, found.persistent) == (False, None, None)
        assert "CONFIG GET save refused" in found.unknown
    finally:
        bare.stop()
        aof.stop()
