"""Redis behind Sentinel, and store URLs: the same queue through every way in."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import RedisServer, free_port, wait_for

from engine import TaskException
from engine.api import Huey
from engine.consumer import Consumer
from engine.exceptions import ConfigurationError, StoreUnavailable
from engine.loader import connect
from engine.storage.base import Message


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[str]:
    master = RedisServer(tmp_path, appendonly=False)
    master.start()
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\n"
    )
    proc = subprocess.Popen(
        ["redis-server", str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ready() -> bool:
            out = subprocess.run(
                ["redis-cli", "-p", str(port), "sentinel", "masters"],
                capture_output=True,
                text=True,
            ).stdout
            return "mymaster" in out

        wait_for(ready, 10, "sentinel to monitor the master")
        yield f"redis+sentinel://127.0.0.1:{port}/mymaster"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        master.stop()


def _round_trip(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task()
    def fail() -> None:
        raise ValueError("nope")

    res, bad = add(2, 3), fail()
    consumer = Consumer(huey, consumer_id="c1", workers=1, inline=True)
    now = time.time()
    consumer.step(now)
    consumer.step(now)
    assert res(blocking=True, timeout=5) == 5
    with pytest.raises(TaskException):
        bad.get(blocking=True, timeout=5)
    assert [d.id for d in huey.storage.dead_items()] == [bad.id]


@pytest.mark.slow
def test_queue_through_sentinel(sentinel_url: str) -> None:
    huey = connect(sentinel_url, "sentinel-test")
    try:
        _round_trip(huey)
    finally:
        huey.flush()


def test_queue_through_cluster(redis_cluster_url: str) -> None:
    huey = connect(redis_cluster_url, "cluster-test")
    try:
        _round_trip(huey)
        assert huey.storage.describe().startswith("redis+cluster://127.0.0.1:")
    finally:
        huey.flush()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x", "unsupported store URL 'ftp://x'"),
        ("sqlite://", "invalid SQLite URL"),
        ("redis+sentinel://127.0.0.1:1", "name the master"),
    ],
)
def test_bad_urls_say_what_to_fix(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        connect(url, "q")


def test_unreachable_redis_names_the_url_without_password() -> None:
    huey = connect("redis://:s3cret@127.0.0.1:1/0", "q")
    with pytest.raises(StoreUnavailable) as info:
        huey.pending_count()
    assert "redis://:***@127.0.0.1:1/0" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_blocking_reads_do_not_wait_on_a_server_that_forgot_its_scripts(tmp_path: Path) -> None:
    """After a restart (here: SCRIPT FLUSH on a server of our own), the pipelined waits
    must not fail after blocking and block again."""
    import redis as redis_py

    from engine.storage.redis import RedisStorage

    server = RedisServer(tmp_path, appendonly=False)
    server.start()
    try:
        store = RedisStorage(name="forgetful", url=server.url)
        store.put("result:x", b"v")
        store.wait_result("result:x", 0.0, pop=False)  # scripts loaded
        redis_py.Redis(port=server.port).script_flush()
        start = time.monotonic()
        assert store.wait_result("result:x", 3.0, pop=False) == b"v"
        redis_py.Redis(port=server.port).script_flush()
        store.enqueue([Message("01a2b3c4-0000-7000-8000-000000000001", b"x", 0)])
        rnd = store.wait_and_claim_round(3.0, "c1", time.time(), 5, 30.0, "revoke:version")
        assert [c.id for c in rnd.claimed] == ["01a2b3c4-0000-7000-8000-000000000001"]
        assert time.monotonic() - start < 2.0
        store.close()
    finally:
        server.stop()
