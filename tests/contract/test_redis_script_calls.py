"""What the Redis store sends for enqueues, blocking result reads and telemetry, on a
server of our own (commandstats and SCRIPT FLUSH are server-wide): a fresh call as one
MULTI/EXEC and every other id by its script, script calls by SHA only, nothing left
behind, bounded record calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from support.procs import RedisServer

from engine import RedisHuey
from engine.exceptions import ConfigurationError
from engine.storage.redis import RedisStorage


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path, appendonly=False)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _calls(admin: redis.Redis) -> dict[str, int]:
    stats = admin.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def _own_tokens(admin: redis.Redis) -> list[bytes]:
    """The per-read token lists (``...\\x00waiter<hex>``), never the waiter key itself."""
    return [k for k in admin.keys("*") if b"\x00waiter" in k and not k.endswith(b"\x00waiter")]


def test_blocking_reads_send_no_script_text(server: RedisServer) -> None:
    admin = redis.Redis(port=server.port)
    store = RedisStorage(name="w", url=server.url)
    try:
        store.put("result:x", b"v")
        assert store.wait_result("result:x", 3.0, pop=False) == b"v"  # there at once
        admin.config_resetstat()
        start = time.monotonic()
        assert store.wait_result("result:x", 3.0, pop=True) == b"v"
        assert store.wait_result("result:x", 0.2, pop=True) is None  # times out
        later = threading.Timer(0.2, lambda: store.put("result:y", b"w"))
        later.start()
        # (put does not wake a reader: this one sees it when its wait ends)
        assert store.wait_result("result:y", 0.5, pop=True) == b"w"
        later.join()
        assert time.monotonic() - start < 2.5
        calls = _calls(admin)
        assert "eval" not in calls and "script|exists" not in calls and "script|load" not in calls
        assert calls["evalsha"] == 6
        assert _own_tokens(admin) == []
    finally:
        store.close()


def test_a_server_that_forgot_the_script_neither_blocks_nor_loses_the_wait(
    server: RedisServer,
) -> None:
    admin = redis.Redis(port=server.port)
    store = RedisStorage(name="w", url=server.url)
    try:
        store.put("result:x", b"v")
        store.wait_result("result:x", 0.0, pop=False)  # loaded
        admin.script_flush()
        start = time.monotonic()
        assert store.wait_result("result:x", 3.0, pop=False) == b"v"
        assert time.monotonic() - start < 1.0  # not held up by the 3 s wait
        admin.script_flush()
        start = time.monotonic()
        assert store.wait_result("result:none", 0.3, pop=True) is None
        assert 0.2 <= time.monotonic() - start < 1.5  # waited once, not twice
        assert _own_tokens(admin) == []
    finally:
        store.close()


def test_a_beat_of_many_events_goes_as_bounded_calls(server: RedisServer) -> None:
    admin = redis.Redis(port=server.port)
    store = RedisStorage(name="e", url=server.url)
    try:
        events = [b'{"n":%d}' % i for i in range(600)]
        store.record(events, [])  # loads the script
        admin.config_resetstat()
        store.record(events, [])
        calls = _calls(admin)
        assert calls["evalsha"] == 3  # 250 + 250 + 100 (RedisStorage.record_chunk)
        assert calls["xadd"] == 600
        assert len(store.read_events(None, 2000)) == 1200
    finally:
        store.close()


def test_fresh_calls_go_as_one_transaction_and_other_ids_by_script(server: RedisServer) -> None:
    """A call whose id was made for it (``noop(1)``, ``map``) is written with plain
    commands in MULTI/EXEC; an id enqueued before, or one the caller chose, keeps the
    scripts and their checks: it moves instead of coming twice, and a running one is
    refused."""
    admin = redis.Redis(port=server.port)
    huey = RedisHuey("fresh", url=server.url)

    @huey.task()
    def noop(i: int) -> None:
        pass

    store = huey.storage
    try:
        noop(0)  # the first write checks the layout
        admin.config_resetstat()
        noop(1)
        noop.map([2, 3, 4])
        calls = _calls(admin)
        assert "evalsha" not in calls and calls["multi"] == calls["exec"] == 2
        huey.enqueue(warm := noop.s(-1))
        huey.enqueue(warm)  # both scripts loaded: the counts below are one call each
        admin.config_resetstat()
        task = noop.s(5)
        huey.enqueue(task)  # fresh
        huey.enqueue(task)  # the same id again: enqueue_new finds it, enqueue.lua moves it
        huey.enqueue(noop.s(6, id="mine"))  # chosen by the caller: enqueue_new
        huey.enqueue_many([noop.s(7), task])  # one id not fresh: the batch by enqueue.lua
        calls = _calls(admin)
        assert calls["multi"] == calls["exec"] == 1 and calls["evalsha"] == 4
        ready = [m.id for m in store.ready_items(0, 100)]
        assert len(ready) == len(set(ready)) == 9  # 0-4, warm, task, mine, 7: each once
        assert ready[-1] == task.id  # moved to the back by the last batch
        store.claim("c1", time.time(), 100, 30)
        with pytest.raises(ConfigurationError, match="running"):
            huey.enqueue(noop.s(8, id="mine"))
    finally:
        store.destroy()
        store.close()
