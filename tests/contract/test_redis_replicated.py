"""Replicated deployments (issue 11, item 8): a Cluster URL with several seed nodes, and
the durable mode (WAIT for a replica after enqueue and finish)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from support.procs import RedisServer, free_port, wait_for
from support.redis_keys import body_count, ready_count

from engine import RedisHuey
from engine.consumer import Consumer
from engine.exceptions import ConfigurationError, StoreUnavailable
from engine.loader import connect
from engine.storage.base import Message
from engine.urls import mask_url


def test_cluster_url_with_a_dead_first_seed_connects(redis_cluster_url: str) -> None:
    live = redis_cluster_url.removeprefix("redis+cluster://")
    url = f"redis+cluster://127.0.0.1:{free_port()},{live}"  # the first seed: a closed port
    huey = connect(url, "seeds-test")
    try:
        huey.storage.enqueue([Message("t1", b"body", 0)])
        assert huey.storage.counts().ready == 1
        assert huey.storage.describe() == url
    finally:
        huey.storage.destroy()


def test_cluster_url_secrets_are_masked() -> None:
    url = "redis+cluster://user:s3cret@h1:7000,h2:7001,h3:7002/?password=x"
    assert mask_url(url) == "redis+cluster://user:***@h1:7000,h2:7001,h3:7002/?password=***"


def test_cluster_url_without_a_host_says_so() -> None:
    with pytest.raises(ConfigurationError, match="seed node needs a host"):
        connect("redis+cluster://127.0.0.1:7000,:7001", "seeds-test")


@pytest.fixture
def master_and_replica(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    master = RedisServer(tmp_path / "m", appendonly=False)
    master.start()
    replica = RedisServer(
        tmp_path / "r", appendonly=False, extra=("--replicaof", "127.0.0.1", str(master.port))
    )
    replica.start()
    client = redis.Redis(port=master.port)
    try:
        wait_for(
            lambda: (
                client.info("replication")["connected_slaves"] >= 1
                and redis.Redis(port=replica.port).info("replication")["master_link_status"] == "up"
            ),
            15,
            "the replica to sync",
        )
        yield master, replica
    finally:
        client.close()
        replica.stop()
        master.stop()


def test_durable_writes_are_on_the_replica(
    master_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    master, replica = master_and_replica
    huey = RedisHuey("durable-test", url=master.url, durable=True)

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    r = add(1, 2)
    # Acknowledged: already in the replica's memory, no waiting.
    assert ready_count(redis.Redis(port=replica.port), "durable-test") == 1
    consumer = Consumer(huey, consumer_id="c1", workers=1, inline=True)
    consumer.step(time.time())
    assert r.get(blocking=True, timeout=5) == 3
    # The finish was confirmed too: the replica holds the result.
    on_replica = redis.Redis(port=replica.port)
    assert body_count(on_replica, "durable-test") == 0
    assert on_replica.hlen("hueyctl:{durable-test}:running") == 0


def test_durable_write_is_one_round_trip_ending_in_wait(
    master_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    """Durable mode sends a write then WAIT and nothing else: a fresh call one MULTI/EXEC,
    another one EVALSHA; no SCRIPT EXISTS (a round trip, and not granted to the ACL
    roles); a server that lost its scripts gets the script loaded and the write sent
    again."""
    master, replica = master_and_replica
    huey = RedisHuey("durable-cmds", url=master.url, durable=True)

    @huey.task()
    def noop(i: int) -> None:
        pass

    client = redis.Redis(port=master.port)
    noop(-1)
    inner = ("hexists", "hsetnx", "hset", "hget", "hdel", "rpush", "lrem", "zadd", "zrem", "llen")
    inner += ("lpush", "ltrim")  # (in MULTI, or run by a script)
    others = ("config|resetstat", "replconf")  # ours, and the replica's acknowledgements

    def sent() -> dict[str, int]:
        stats = client.info("commandstats")
        calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}
        return {k: v for k, v in calls.items() if k not in inner + others}

    client.config_resetstat()
    for i in range(10):
        noop(i)  # fresh ids: MULTI ... EXEC, WAIT
    assert sent() == {"multi": 10, "exec": 10, "wait": 10}
    warm = noop.s(-2)
    huey.enqueue(warm)
    huey.enqueue(warm)  # both scripts loaded
    client.config_resetstat()
    task = noop.s(99)
    huey.enqueue(task)
    huey.enqueue(task)  # the same id: enqueue_new finds it, enqueue.lua moves it
    assert sent() == {"multi": 1, "exec": 1, "evalsha": 2, "wait": 3}
    client.script_flush()
    huey.storage.enqueue([Message("again", b"x")])  # NOSCRIPT: loaded, sent again (once)
    assert ready_count(client, "durable-cmds") == 14
    assert ready_count(redis.Redis(port=replica.port), "durable-cmds") == 14
    assert "cmdstat_script|exists" not in client.info("commandstats")
    huey.storage.destroy()


def test_durable_write_as_the_app_acl_role(
    master_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    """A least-privilege user (``hueyctl acl app``) can write in durable mode, the first
    write of a fresh server (NOSCRIPT, then SCRIPT LOAD) included: SCRIPT EXISTS, which
    the role is not granted, is never sent."""
    from hueyctl.commands.acl import rules

    master, replica = master_and_replica
    admin = redis.Redis(port=master.port)
    admin.execute_command("ACL", "SETUSER", "app", *rules("app", "durable-acl", "pw"))
    admin.script_flush()
    url = f"redis://app:pw@127.0.0.1:{master.port}/0"
    huey = RedisHuey("durable-acl", url=url, durable=True)

    @huey.task()
    def noop(i: int) -> None:
        pass

    noop(1)
    noop(2)
    huey.storage.enqueue([Message("by-script", b"x")])  # not fresh: the script
    assert ready_count(redis.Redis(port=replica.port), "durable-acl") == 3
    assert not [e for e in admin.acl_log() if e.get("username") == "app"]
    admin.delete(*admin.scan_iter(match="hueyctl:{durable-acl}:*"))


def test_durable_enqueue_without_a_replica_is_not_acknowledged(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, appendonly=False)
    server.start()
    try:
        huey = RedisHuey("durable-alone", url=server.url, durable=True, durable_timeout=0.2)

        @huey.task()
        def noop() -> None:
            pass

        with pytest.raises(StoreUnavailable, match="no replica confirmed the write"):
            noop()  # a fresh id: MULTI/EXEC, then WAIT
        with pytest.raises(StoreUnavailable, match="no replica confirmed the write"):
            huey.enqueue_many([noop.s(), noop.s()])
        with pytest.raises(StoreUnavailable, match="no replica confirmed the write"):
            huey.storage.enqueue([Message("by-script", b"x")])  # EVALSHA, then WAIT
        with pytest.raises(ConfigurationError, match="durable must be True or False"):
            RedisHuey("x", url=server.url, durable="yes")
        with pytest.raises(ConfigurationError, match="durable_timeout must be positive"):
            RedisHuey("x", url=server.url, durable=True, durable_timeout=0)
    finally:
        server.stop()


def test_durable_on_cluster_without_a_replica_is_not_acknowledged(
    redis_cluster_url: str,
) -> None:
    huey = RedisHuey("durable-cluster", url=redis_cluster_url, durable=True, durable_timeout=0.2)

    @huey.task()
    def noop() -> None:
        pass

    try:
        with pytest.raises(StoreUnavailable, match="no replica confirmed the write"):
            noop()
    finally:
        huey.storage.destroy()


@pytest.mark.slow
def test_durable_throughput_cost(master_and_replica: tuple[RedisServer, RedisServer]) -> None:
    """Enqueue rate, one task per call, with and without WAIT (printed; the bound is loose)."""
    master, _ = master_and_replica
    rates = {}
    for durable in (False, True, False, True):
        huey = RedisHuey(f"rate-{durable}", url=master.url, durable=durable)

        @huey.task()
        def noop(i: int) -> None:
            pass

        n = 2000
        start = time.perf_counter()
        for i in range(n):
            noop(i)
        rates[durable] = n / (time.perf_counter() - start)  # the second run of each counts
        huey.storage.destroy()
    cost = 1 - rates[True] / rates[False]
    print(
        f"\nenqueue rate, master + 1 replica on localhost: {rates[False]:.0f}/s plain,"
        f" {rates[True]:.0f}/s durable (WAIT 1): {cost:.0%} slower"
    )
    assert rates[True] > 0.1 * rates[False]
