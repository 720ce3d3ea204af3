"""Upgrades keep queued work (issue 16): a queue the previous release filled (layout 1:
the ``ready`` zset and the ``msg`` hash, written here with raw commands, every state)
is moved to layout 2 by ``hueyctl migrate`` exactly, a dry run changes nothing, a live
worker's lease is refused, a migration cut short goes on when run again, and a store
in a layout this release does not use is refused with one line."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from support.layout1 import (
    NOW,
    PARKED,
    RESULT,
    STEP,
    UNTOUCHED,
    assert_layout2,
    dumps,
    fill_layout1,
)
from support.steps import drain

from engine import steering
from engine.api import RedisHuey
from engine.exceptions import ConfigurationError
from engine.storage import redis_format
from engine.storage.redis import RedisStorage
from engine.storage.redis_layout import FORMAT
from hueyctl.cli import main


@pytest.fixture
def queue(redis_url: str) -> Iterator[tuple[str, str, redis.Redis]]:
    """A fresh queue name, its key prefix and a raw client; its keys go afterwards."""
    name = f"test-mig-{uuid.uuid4().hex[:10]}"
    prefix = f"hueyctl:{{{name}}}:"
    client = redis.Redis.from_url(redis_url)
    try:
        yield name, prefix, client
    finally:
        keys = list(client.scan_iter(match=prefix.replace("{", "\\{") + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def migrate(url: str, name: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["migrate", *args, "--url", url, "--queue", name])


def test_dry_run_counts_and_changes_nothing_then_migrate_moves_everything(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    fill_layout1(client, p)
    before = dumps(client, p)
    r = migrate(redis_url, name, "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    (report,) = json.loads(r.stdout)
    assert report["found"] == 1 and report["dry_run"] is True and report["moved"] == {}
    assert report["counts"] == {
        "ready": 7,
        "scheduled": 1,
        "running": 1,
        "dead": 1,
        "parked": 1,
        "bodies": 11,
    }
    assert set(report["bytes"]) == {"ready", "msg"} and min(report["bytes"].values()) > 0
    text = migrate(redis_url, name, "--dry-run")
    assert text.exit_code == 0 and "would move 7 ready, 1 scheduled" in text.stdout
    assert "nothing changed" in text.stdout and len(text.stdout.splitlines()) == 1
    assert dumps(client, p) == before
    kept = {k: v for k, v in before.items() if k.decode()[len(p) :] in UNTOUCHED}

    r = migrate(redis_url, name)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"queue {name!r} migrated from layout 1: 7 ready")
    assert "moved 7 ready id(s) in order and 11 bodies, marked 1 parked" in r.stdout
    assert_layout2(client, p)
    after = dumps(client, p)
    assert {k: after[k] for k in kept} == kept  # sched, running, dead, ... as they were
    assert client.get(p + RESULT[0]) == RESULT[1]
    assert client.lrange(p + "parked:" + PARKED[2], 0, -1) == [PARKED[0].encode()]

    again = migrate(redis_url, name, "--json")  # idempotent: nothing left to do
    assert again.exit_code == 0 and json.loads(again.stdout)[0]["found"] == FORMAT
    assert dumps(client, p) == after
    text = migrate(redis_url, name)
    assert f"is in layout {FORMAT} already: nothing to migrate" in text.stdout


def test_a_live_lease_is_refused_with_one_line(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    fill_layout1(client, p)
    client.zadd(p + "leases", {"live-1": time.time() + 60})
    before = dumps(client, p)
    r = migrate(redis_url, name)
    assert r.exit_code == 1
    assert r.output == (
        f"hueyctl: queue {name!r} has a live worker (live-1 holds a lease): stop the"
        " queue's workers, then run hueyctl migrate again\n"
    )
    assert dumps(client, p) == before
    assert migrate(redis_url, name, "--dry-run").exit_code == 0  # a dry run still counts


def test_a_migration_cut_short_goes_on_when_run_again(
    redis_url: str, queue: tuple[str, str, redis.Redis], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, p, client = queue
    fill_layout1(client, p)
    monkeypatch.setattr(redis_format, "BATCH", 2)
    calls = []
    real = redis_format._Batches.run

    def cut(self: Any, ids: Any) -> tuple[int, int]:
        calls.append(len(ids))
        if len(calls) == 3:
            raise ConnectionError("cut")
        return real(self, ids)

    store = RedisStorage(name=name, url=redis_url)
    try:
        monkeypatch.setattr(redis_format._Batches, "run", cut)
        with pytest.raises(ConnectionError):
            store.migrate()
        assert calls == [2, 2, 2]
        assert client.zcard(p + "ready") == 3  # two batches of two moved, atomically
        assert client.lrange(p + "r:5", 0, -1) == [b"r5-y", b"r5-x"]
        assert client.get(p + "fmt") is None
        monkeypatch.setattr(redis_format._Batches, "run", real)
        report = store.migrate()
    finally:
        store.close()
    assert report.moved["ready"] == 3 and report.found == 1
    assert_layout2(client, p)


def test_bodies_move_byte_for_byte(redis_url: str, queue: tuple[str, str, redis.Redis]) -> None:
    name, p, client = queue
    odd = {
        "r0-c": b"\x00\xff\xfe not utf-8 \x80",
        "r5-x": "é".encode() * 32,  # 64 bytes: still a bucket's
        "s-1": "é".encode() * 33,  # 66 bytes: m:big
        "dead-1": b"",
    }
    fill_layout1(client, p, odd)
    assert migrate(redis_url, name).exit_code == 0
    assert_layout2(client, p, odd)


def test_a_newer_layout_is_refused(redis_url: str, queue: tuple[str, str, redis.Redis]) -> None:
    name, p, client = queue
    client.set(p + "fmt", FORMAT + 1)
    r = migrate(redis_url, name, "--dry-run")
    assert r.exit_code == 2
    assert r.output == (
        f"hueyctl: queue {name!r} is in layout {FORMAT + 1}; this hueyctl knows up to"
        f" {FORMAT}: upgrade hueyctl\n"
    )
    with pytest.raises(ConfigurationError, match=f"is in layout {FORMAT + 1};"):
        redis_format.check(client, p, name, write=True)
    client.set(p + "fmt", "two")
    with pytest.raises(ConfigurationError, match="is in layout two; this hueyctl knows up to"):
        redis_format.check(client, p, name, write=False)


def test_layout1_keys_are_refused_until_migrated(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    line = (
        f"queue {name!r} holds tasks in layout 1 (an earlier release): stop its workers and"
        f" run `hueyctl migrate --queue {name}`"
    )
    client.hset(p + "msg", "s-1", b"x")  # a schedule() of the previous release: msg alone
    for write in (False, True):
        with pytest.raises(ConfigurationError) as exc:
            redis_format.check(client, p, name, write)
        assert str(exc.value) == line
    client.set(p + "fmt", FORMAT)  # layout 2, and a producer of the previous release
    client.zadd(p + "ready", {"s-1": 0})
    with pytest.raises(ConfigurationError, match="holds tasks in layout 1"):
        redis_format.check(client, p, name, True)
    assert migrate(redis_url, name).exit_code == 0  # which migrate moves again
    redis_format.check(client, p, name, True)
    assert client.lrange(p + "r:0", 0, -1) == [b"s-1"]


def test_a_new_queue_is_marked_by_its_first_writer_only(
    queue: tuple[str, str, redis.Redis],
) -> None:
    name, p, client = queue
    redis_format.check(client, p, name, write=False)  # a read-only tool writes nothing
    assert client.get(p + "fmt") is None
    redis_format.check(client, p, name, write=True)
    assert client.get(p + "fmt") == str(FORMAT).encode()
    assert "refused" not in str(redis_format.refusal(name, b"2", False))


def test_a_queue_with_nothing_is_left_alone(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    r = migrate(redis_url, name)
    assert r.exit_code == 0 and "holds nothing yet: nothing to migrate" in r.stdout
    assert list(client.scan_iter(match=p.replace("{", "\\{") + "*")) == []


def test_several_queues_in_one_run(redis_url: str, queue: tuple[str, str, redis.Redis]) -> None:
    name, p, client = queue
    other = name + "-b"
    q = f"hueyctl:{{{other}}}:"
    try:
        fill_layout1(client, p)
        fill_layout1(client, q)
        r = CliRunner().invoke(
            main, ["migrate", "--url", redis_url, "--queue", name, "--queue", other, "--json"]
        )
        assert r.exit_code == 0, r.output
        assert [x["queue"] for x in json.loads(r.stdout)] == [name, other]
        assert_layout2(client, p)
        assert_layout2(client, q)
    finally:
        keys = list(client.scan_iter(match=q.replace("{", "\\{") + "*"))
        if keys:
            client.delete(*keys)


# --- with the store's own reads and writes ------------------------------------------------
def test_tools_and_writers_refuse_a_layout1_queue(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    fill_layout1(client, p)
    before = dumps(client, p)
    r = CliRunner().invoke(main, ["status", "--url", redis_url, "--queue", name])
    assert r.exit_code == 2
    assert r.output == (
        f"hueyctl: queue {name!r} holds tasks in layout 1 (an earlier release): stop its"
        f" workers and run `hueyctl migrate --queue {name}`\n"
    )
    huey = RedisHuey(name, url=redis_url)
    with pytest.raises(ConfigurationError, match="holds tasks in layout 1"):
        huey.enqueue_by_name("tasks.x")
    assert dumps(client, p) == before
    huey.storage.close()


def test_queues_names_the_queues_to_migrate(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    fill_layout1(client, p)
    other = RedisHuey(name + "-new", url=redis_url)
    try:
        other.enqueue_by_name("tasks.x")
        r = CliRunner().invoke(
            main, ["queues", "--json", "--url", redis_url, "--queue", other.name]
        )
        assert r.exit_code == 0, r.output
        rows = {q["name"]: q for q in json.loads(r.stdout)}
        assert rows[other.name]["ready"] == 1 and rows[other.name]["error"] is None
        assert "holds tasks in layout 1" in rows[name]["error"]
    finally:
        other.storage.destroy()
        other.storage.close()


def test_a_worker_delivers_the_migrated_queue_in_order(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    """Real envelopes of every state, migrated, then run by a worker of this release."""
    name, p, client = queue
    huey = RedisHuey(name, url=redis_url)
    ran: list[str] = []

    @huey.task(name="tasks.rec")
    def rec(tag: str) -> str:
        ran.append(tag)
        return tag

    @huey.task(name="tasks.slow")
    def slow(tag: str) -> str:
        ran.append(tag)
        return tag

    def envelope(task: Any, tag: str, priority: int = 0) -> tuple[str, bytes]:
        t = task.s(tag)
        t.priority = priority
        m = huey.prepare(t, NOW - 300)
        return m.id, m.data

    ready = [("a1", 0), ("a2", 0), ("a3", 0), ("h1", 5), ("h2", 5)]
    made = {tag: envelope(rec, tag, prio) for tag, prio in ready}
    made["run"] = envelope(rec, "run")
    made["dead"] = envelope(rec, "dead")
    made["park"] = envelope(slow, "park")
    made["later"] = envelope(rec, "later")
    client.hset(p + "msg", mapping=dict(made.values()))  # type: ignore[arg-type]
    place: dict[int, int] = {}
    for tag, prio in ready:
        place[prio] = place.get(prio, -1) + 1
        client.zadd(p + "ready", {made[tag][0]: -prio + place[prio] * STEP})
        if prio:
            client.hset(p + "prio", made[tag][0], prio)
    client.zadd(p + "sched", {made["later"][0]: NOW + 3600})
    client.hset(p + "running", made["run"][0], f"gone-1|{NOW - 120}")
    client.hset(p + "deliv", made["run"][0], 1)
    client.zadd(p + "leases", {"gone-1": NOW - 60})
    client.zadd(p + "dead", {made["dead"][0]: NOW - 30})
    client.hset(p + "deadinfo", made["dead"][0], "error\nValueError: boom")
    client.rpush(p + "parked:tasks.slow", made["park"][0])

    assert huey.migrate_store().found == 1  # type: ignore[union-attr]
    steering.pause(huey, "tasks.slow")  # its parked call stays parked meanwhile
    now = time.time()
    assert huey.storage.recover(now, 5).requeued == [made["run"][0]]
    assert drain(huey, now) == 6
    assert ran == ["h1", "h2", "run", "a1", "a2", "a3"]
    assert huey.storage.locate(made["later"][0]).state == "scheduled"  # type: ignore[union-attr]
    assert huey.storage.locate(made["park"][0]).state == "parked"  # type: ignore[union-attr]
    assert huey.retry_failed(made["dead"][0])
    steering.resume(huey, "tasks.slow")
    assert drain(huey, time.time()) == 2
    assert ran[6:] == ["dead", "park"]
    assert client.get(p + "fmt") == str(FORMAT).encode()
    huey.storage.close()


def test_migrate_on_redis_cluster(redis_cluster_url: str) -> None:
    """The script builds the ready lists' and buckets' names from the declared prefixes:
    the same hash tag, so the same slot, which Redis Cluster allows."""
    name = f"test-mig-{uuid.uuid4().hex[:10]}"
    p = f"hueyctl:{{{name}}}:"
    store = RedisStorage(name=name, url=redis_cluster_url)
    client = store.client
    try:
        fill_layout1(client, p)
        assert store.migrate(dry_run=True).counts["ready"] == 7
        report = store.migrate()
        assert report.moved == {"ready": 7, "bodies": 11, "parked": 1, "dropped": 0}
        assert_layout2(client, p)
    finally:
        for key in client.scan_iter(match=p.replace("{", "\\{") + "*"):
            client.delete(key)
        store.close()


def test_a_ready_id_without_a_body_is_dropped_and_an_id_given_twice_moves_once(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    client.zadd(p + "ready", {"a": 0, "lost": STEP, "b": 2 * STEP})
    client.hset(p + "msg", mapping={"a": b"1", "b": b"2"})
    store = RedisStorage(name=name, url=redis_url)
    try:
        script = store._scripts[redis_format.MIGRATE.name]
        batch = redis_format._Batches(
            p, script, name, dict.fromkeys(("ready", "bodies", "dropped"), 0)
        )
        assert batch.run([b"a", b"lost", b"a", b"b"]) == (0, 0)
        assert batch.moved == {"ready": 2, "bodies": 2, "dropped": 1}
    finally:
        store.close()
    assert client.lrange(p + "r:0", 0, -1) == [b"a", b"b"]
    assert client.get(p + "fmt") == str(FORMAT).encode()


def test_the_queue_given_before_the_command_or_in_the_environment(
    redis_url: str, queue: tuple[str, str, redis.Redis]
) -> None:
    name, p, client = queue
    fill_layout1(client, p)
    runner = CliRunner()
    r = runner.invoke(main, ["--url", redis_url, "--queue", name, "migrate", "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["queue"] == name
    r = runner.invoke(
        main,
        ["migrate", "--dry-run", "--json"],
        env={"HUEYCTL_URL": redis_url, "HUEYCTL_QUEUE": name, "HUEYCTL_APP": None},
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["counts"]["ready"] == 7
