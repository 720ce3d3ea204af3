"""The ACL rules ``hueyctl acl`` prints, applied to a real redis-server (issue 12, items
7 and 2): with ``app`` a producer and a ``hueyctl worker`` run enqueue → result, a
schedule, retries, a dead letter and a lock with no ACL denial; with ``monitor`` every
read command and the Inspector methods ``top`` uses work and write nothing; a table
of forbidden commands is refused for both."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from support.procs import App, RedisServer, wait_for
from support.redis_keys import plant_ready

from engine import steering
from engine.inspect import Inspector
from engine.loader import connect
from engine.scheduler import Scheduler
from engine.storage.base import Outcome
from engine.task import Task
from hueyctl.cli import main

pytestmark = pytest.mark.slow

QUEUE = "aclq"
OTHER = "otherq"
PASSWORD = "s3cret-pw"

TASKS = """
@huey.task()
def add(a, b):
    record(a)
    return a + b

@huey.task(retries=1, retry_delay=0)
def flaky(i):
    record(i)
    marker = LOG + f".flaky{i}"
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise ValueError("first attempt fails")
    return "ok"

@huey.task()
def boom():
    raise RuntimeError("always")

@huey.periodic_task(crontab(minute="*"))
def every_minute():
    record(1000)

@huey.task()
def locked(i):
    with huey.lock_task("the-lock"):
        record(i)
    return i
"""


def setuser(admin: redis.Redis, role: str, queue: str = QUEUE) -> str:
    """Apply the line ``hueyctl acl ROLE`` prints; returns the user's URL credentials."""
    r = CliRunner(env={"HUEYCTL_ACL_PASSWORD": PASSWORD}).invoke(
        main, ["acl", role, "--queue", queue, "--user", role]
    )
    assert r.exit_code == 0, r.output
    words = shlex.split(r.stdout.strip())
    assert words[:2] == ["ACL", "SETUSER"]
    assert admin.execute_command(*words) in (b"OK", "OK", True)
    return f"{role}:{PASSWORD}"


def denials(admin: redis.Redis, user: str) -> list[dict[str, Any]]:
    out = []
    for entry in admin.acl_log():
        e = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
        if e.get("username") in (user, user.encode()):
            out.append(e)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, redis.Redis]]:
    srv = RedisServer(tmp_path_factory.mktemp("acl-redis"), appendonly=False)
    srv.start()
    admin = redis.Redis(port=srv.port)
    try:
        yield srv, admin
    finally:
        admin.close()
        srv.stop()


@pytest.fixture(scope="module")
def populated(
    server: tuple[RedisServer, redis.Redis], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """An ``app`` producer and worker ran the examples; returns what they made."""
    srv, admin = server
    for role in ("app", "monitor", "admin"):
        setuser(admin, role)
    admin.acl_log_reset()
    url = f"redis://app:{PASSWORD}@127.0.0.1:{srv.port}/0"
    root = tmp_path_factory.mktemp("acl-app")
    config = f"from engine import RedisHuey, crontab\nhuey = RedisHuey({QUEUE!r}, url={url!r})\n"
    app = App(root, config, TASKS)
    producer = connect(url, QUEUE)
    try:
        app.start_worker("-w", "2")
        made: dict[str, Any] = {"url": url}
        made["add"] = producer.enqueue_by_name("app.add", (1, 2)).id
        made["scheduled_done"] = producer.enqueue_by_name("app.add", (5, 5), delay=1).id
        made["flaky"] = producer.enqueue_by_name("app.flaky", (7,)).id
        made["dead"] = producer.enqueue_by_name("app.boom").id
        made["locked"] = producer.enqueue_by_name("app.locked", (9,)).id
        made["later"] = producer.enqueue_by_name("app.add", (3, 3), delay=3600).id
        for key in ("add", "scheduled_done", "flaky", "locked"):
            task_id = made[key]
            wait_for(lambda t=task_id: producer.result(t, preserve=True) is not None, 30, key)
        dead = made["dead"]
        wait_for(lambda: getattr(producer.storage.locate(dead), "state", "") == "dead", 30, "dead")
        made["result"] = producer.result(made["add"], preserve=True)
        # an awaited result (its own named connections, BLPOP/LPOP on its inbox)
        awaited = producer.enqueue_by_name("app.add", (2, 2))

        async def await_it() -> Any:
            try:
                return await awaited.aget(timeout=30)
            finally:
                await producer.storage.aclose()

        made["awaited"] = asyncio.run(await_it())
        # a periodic slot, fired with the app's rights as a worker's scheduler does
        spec = importlib.util.spec_from_file_location("app", root / "app.py")  # same task names
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        scheduler = Scheduler(module.huey)
        (periodic,) = module.huey.periodic_specs()
        minute = int(time.time() // 60) * 60 + 7 * 86400  # a slot nobody else fires
        assert scheduler.fire(periodic, minute, time.time())
        assert not scheduler.fire(periodic, minute, time.time())  # the slot is taken
        wait_for(lambda: 1000 in app.executions(), 30, "the periodic slot's run")
        # a paused task name: the worker parks its call; the pause lapses and a worker
        # puts it back (park.lua, unpark.lua: RPUSH, LRANGE)
        steering.pause(producer, "app.add", seconds=1.5)
        parked = producer.enqueue_by_name("app.add", (4, 4)).id
        wait_for(lambda: producer.storage.parked("app.add") == 1, 15, "the call parked")
        wait_for(lambda: producer.result(parked, preserve=True) == 8, 15, "the lapse")
        # a revocation that lapses: readers must ignore it, not delete it (item 2)
        producer.revoke_by_id(made["later"], revoke_until=time.time() + 1)
        time.sleep(1.2)
        app.stop_all()  # its heartbeats would write while the monitor test compares
        made["log"] = app.output(app.workers[0][0])
        yield made
    finally:
        app.stop_all()
        producer.storage.close() if hasattr(producer.storage, "close") else None


def test_app_role_runs_producer_and_worker_without_denials(
    server: tuple[RedisServer, redis.Redis], populated: dict[str, Any]
) -> None:
    _, admin = server
    assert populated["result"] == 3
    assert populated["awaited"] == 4
    assert "denied" not in populated["log"].lower(), populated["log"]
    # the one documented refusal: the persistence check's CONFIG GET save
    refused = [(e["object"], e["reason"]) for e in denials(admin, "app")]
    assert {str(o, "utf-8") if isinstance(o, bytes) else o for o, _ in refused} <= {"config|get"}


READ_COMMANDS = [
    ["status"],
    ["status", "--json"],
    ["pending"],
    ["pending", "--json"],
    ["failed"],
    ["failed", "--json"],
    ["events"],
    ["periodic"],
    ["workers"],
    ["revocations"],
    ["scheduled"],
    ["running"],
    ["results"],
    ["results", "--json"],
    ["tasks"],
    ["tasks", "--json"],
    ["queues"],
    ["queues", "--json"],
]


def _content(admin: redis.Redis, key: bytes) -> Any:
    """What a key holds: a hash's fields (a read may take a step of a big hash's
    incremental rehash, which reorders its DUMP but changes nothing), else its DUMP."""
    if admin.type(key) == b"hash":
        return sorted(admin.hgetall(key).items())
    return admin.dump(key)


def test_monitor_role_reads_everything_and_writes_nothing(
    server: tuple[RedisServer, redis.Redis], populated: dict[str, Any]
) -> None:
    srv, admin = server
    url = f"redis://monitor:{PASSWORD}@127.0.0.1:{srv.port}/0"
    admin.acl_log_reset()
    runner = CliRunner()
    before = {k: _content(admin, k) for k in admin.scan_iter(f"hueyctl:{{{QUEUE}}}:*")}
    for args in [
        *READ_COMMANDS,
        ["show", populated["dead"]],
        ["show", populated["add"]],
        ["show", populated["later"]],
    ]:
        r = runner.invoke(main, [*args, "--url", url, "--queue", QUEUE])
        assert r.exit_code == 0, (args, r.output, r.exception)
    failed = json.loads(
        runner.invoke(main, ["failed", "--json", "--url", url, "--queue", QUEUE]).stdout
    )
    assert populated["dead"] in json.dumps(failed)
    # what top reads
    huey = connect(url, QUEUE)
    ins = Inspector(huey)
    ins.overview()
    ins.task_stats()
    ins.throughput()
    ins.pending()
    ins.scheduled()
    ins.running()
    ins.failed()
    ins.results()
    ins.workers()
    ins.periodic()
    ins.revocations()
    ins.events()
    ins.locks()
    assert ins.task(populated["dead"]) is not None
    ins.result(populated["add"])
    ins.queues()  # the announced names (SMEMBERS), then SCAN
    assert QUEUE in ins.seen_queue()[0]  # type: ignore[index]  # the worker announced it
    ins.catalog()  # (the worker stopped: its catalog went with it)
    ins.close()
    # nothing changed, and nothing but the documented optional reads was refused
    after = {k: _content(admin, k) for k in admin.scan_iter(f"hueyctl:{{{QUEUE}}}:*")}
    assert after == before
    refused = {e["object"] for e in denials(admin, "monitor")}
    assert refused <= {b"scan", b"info", b"config|get", "scan", "info", "config|get"}, refused
    # and every write is refused
    mon = redis.Redis(port=srv.port, username="monitor", password=PASSWORD)
    for cmd in (
        ["HSET", f"hueyctl:{{{QUEUE}}}:msg", "x", "y"],
        ["DEL", f"hueyctl:{{{QUEUE}}}:ready"],
        ["LPUSH", f"hueyctl:{{{QUEUE}}}:wake", "1"],
        ["EVAL", "return 1", "0"],
        ["SET", f"hueyctl:{{{QUEUE}}}:kv", "1"],
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            mon.execute_command(*cmd)


FORBIDDEN = [
    ["FLUSHALL"],
    ["FLUSHDB"],
    ["KEYS", "*"],
    ["CONFIG", "SET", "save", ""],
    ["CONFIG", "GET", "masterauth"],
    ["FUNCTION", "FLUSH"],
    ["SCRIPT", "FLUSH"],
    ["SCRIPT", "KILL"],
    ["DEBUG", "SLEEP", "0"],
    ["SHUTDOWN", "NOSAVE"],
    ["ACL", "SETUSER", "x", "on", "+@all"],
    ["ACL", "LIST"],
    ["MODULE", "LOAD", "/nonexistent.so"],
    ["REPLICAOF", "127.0.0.1", "1"],
    ["SLAVEOF", "NO", "ONE"],
    ["MIGRATE", "127.0.0.1", "1", "k", "0", "10"],
    ["BGSAVE"],
    ["SAVE"],
    ["BGREWRITEAOF"],
    ["CLIENT", "KILL", "TYPE", "normal"],
    ["CLIENT", "LIST"],
    ["MONITOR"],
    ["SWAPDB", "0", "1"],
    ["RENAME", f"hueyctl:{{{QUEUE}}}:msg", f"hueyctl:{{{QUEUE}}}:x"],
    ["FAILOVER"],
    ["CLUSTER", "RESET"],
    ["LASTSAVE"],
    ["OBJECT", "ENCODING", f"hueyctl:{{{QUEUE}}}:msg"],
    ["SET", f"hueyctl:{{{OTHER}}}:kv", "1"],
    ["HSET", f"hueyctl:{{{OTHER}}}:msg", "a", "b"],
    ["DEL", f"hueyctl:{{{OTHER}}}:ready"],
    ["SET", "unrelated", "1"],
    ["GET", f"hueyctl:{{{OTHER}}}:kv"],
    ["HGETALL", f"hueyctl:{{{OTHER}}}:msg"],
    ["EVAL", "return redis.call('SET', KEYS[1], 1)", "1", f"hueyctl:{{{OTHER}}}:kv"],
    ["PUBLISH", "ch", "1"],
    ["SUBSCRIBE", "ch"],
]


@pytest.mark.parametrize("role", ["app", "monitor"])
def test_forbidden_commands_are_refused(
    server: tuple[RedisServer, redis.Redis], populated: dict[str, Any], role: str
) -> None:
    srv, admin = server
    assert len(FORBIDDEN) >= 25
    # ACL DRYRUN asks the server's ACL check without running the command (SHUTDOWN,
    # DEBUG, FLUSHALL stay safe to list); a few run for real below.
    allowed = []
    for cmd in FORBIDDEN:
        answer = admin.execute_command("ACL", "DRYRUN", role, *cmd)
        if answer in (b"OK", "OK"):
            allowed.append(cmd)
    client = redis.Redis(port=srv.port, username=role, password=PASSWORD, socket_timeout=5)
    for cmd in (["FLUSHALL"], ["KEYS", "*"], ["SET", f"hueyctl:{{{OTHER}}}:kv", "1"]):
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*cmd)
    with pytest.raises(
        redis.exceptions.ResponseError, match="(?i)noperm|permission|no permissions"
    ):
        client.execute_command(
            "EVAL", "return redis.call('SET', KEYS[1], 1)", "1", f"hueyctl:{{{OTHER}}}:kv"
        )
    assert allowed == []
    assert admin.ping()


def test_a_monitor_of_all_queues_lists_every_queues_counts(
    server: tuple[RedisServer, redis.Redis], populated: dict[str, Any]
) -> None:
    srv, admin = server
    r = CliRunner(env={"HUEYCTL_ACL_PASSWORD": PASSWORD}).invoke(
        main, ["acl", "monitor", "--all-queues", "--user", "watcher"]
    )
    assert r.exit_code == 0, r.output
    assert admin.execute_command(*shlex.split(r.stdout.strip())) in (b"OK", "OK", True)
    producer = connect(populated["url"], QUEUE)
    admin.sadd("hueyctl:queues", OTHER)
    plant_ready(admin, OTHER, "x", b"x")
    admin.acl_log_reset()
    try:
        runner = CliRunner()
        for user in ("watcher", "monitor"):
            url = f"redis://{user}:{PASSWORD}@127.0.0.1:{srv.port}/0"
            r = runner.invoke(main, ["queues", "--json", "--url", url, "--queue", QUEUE])
            assert r.exit_code == 0, (user, r.output)
            rows = {q["name"]: q for q in json.loads(r.stdout)}
            assert set(rows) >= {QUEUE, OTHER}
            if user == "watcher":  # every queue's counts
                assert rows[OTHER]["ready"] == 1 and rows[OTHER]["error"] is None
            else:  # one queue's user: the others listed by name, with why no counts
                assert rows[OTHER]["ready"] is None and rows[OTHER]["error"]
        assert denials(admin, "watcher") == []
    finally:
        admin.srem("hueyctl:queues", OTHER)
        admin.delete(*admin.scan_iter(match=f"hueyctl:{{{OTHER}}}:*"))
        producer.storage.close()


def test_printed_rules_use_no_categories() -> None:
    for role in ("app", "monitor", "admin"):
        r = CliRunner().invoke(main, ["acl", role, "--queue", "q*x"])
        assert r.exit_code == 0
        assert "@" not in r.stdout.replace("-@all", "")
        assert "~hueyctl:{q\\\\*x}:*" in r.stdout or "~hueyctl:{q\\*x}:*" in r.stdout
    r = CliRunner().invoke(main, ["acl", "root", "--queue", "q"])
    assert r.exit_code == 2


def test_admin_role_steers_and_cleans_without_denials(
    server: tuple[RedisServer, redis.Redis],
    populated: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv, admin = server
    url = f"redis://admin:{PASSWORD}@127.0.0.1:{srv.port}/0"
    admin.acl_log_reset()
    monkeypatch.setenv("HUEYCTL_ACTOR", "ops@acl")
    started = time.time()  # the app role's test paused a task name before: not ours
    # issue 14: bulk actions, replay and the audit trail run with the admin role too
    huey = connect(url, QUEUE)
    flood = [huey.prepare(Task(name="app.flood", args=(i,)), time.time()) for i in range(40)]
    huey.storage.enqueue(flood)
    claimed = huey.storage.claim("acl-filler", time.time(), 40, 60)
    dead = [(c.id, time.time(), Outcome(dead=("error", "E: x"))) for c in claimed]
    assert huey.storage.finish_many("acl-filler", dead) == [None] * 40
    huey.storage.close()
    export = tmp_path / "dead.jsonl"
    runner = CliRunner()
    for args in (
        ["retry", "--task", "app.flood", "--yes"],  # a pipeline of EVALSHA, no SCRIPT EXISTS
        ["revoke", "--state", "pending", "--task", "app.flood", "--yes"],
        ["delete", "--state", "pending", "--task", "app.flood", "--older-than", "1s", "--yes"],
        ["cancel", "--task", "app.flood", "--yes"],
        ["failed", "--export", str(export)],
        ["revoke", populated["later"], "--until", "1h"],
        ["restore", populated["later"]],
        ["revoke", "app.add", "--once"],
        ["restore", "app.add"],
        ["retry", populated["dead"]],
        ["enqueue", "app.add", "1", "1"],
        ["delete", populated["later"], "--yes"],
        ["flush-locks", "--yes"],
        ["purge", "results", "--yes"],
        ["purge", "pending", "--yes"],
        ["purge", "scheduled", "--yes"],
        ["purge", "failed", "--yes"],
        ["enqueue", "--from", str(export)],
        ["purge", "pending", "--task", "app.boom", "--yes"],
        ["results"],
        ["pause"],
        ["pause", "app.add", "--for", "1h"],
        ["status"],
        ["workers"],
        ["resume", "app.add"],
        ["resume"],
        ["events", "--kind", "admin"],
    ):
        r = runner.invoke(main, [*args, "--url", url, "--queue", QUEUE])
        assert r.exit_code == 0, (args, r.output, r.exception)
    later = connect(url, QUEUE).enqueue_by_name("app.add", (2, 2), delay=3600).id
    r = runner.invoke(main, ["cancel", later, "--url", url, "--queue", QUEUE])
    assert r.exit_code == 0 and "now deleted" in r.output, r.output
    assert denials(admin, "admin") == []
    r = runner.invoke(main, ["events", "--kind", "admin", "--json", "--url", url, "--queue", QUEUE])
    audit = [e for e in json.loads(r.stdout) if e["ts"] >= started]
    assert {e["actor"] for e in audit} == {"ops@acl"}
    kinds = [e["event"] for e in audit]
    assert kinds[:2] == ["admin.retry", "admin.revoke"] and "admin.replay" in kinds
    assert audit[0]["count"] == 40
    # the monitor role reads the audit trail and cannot write it
    mon = f"redis://monitor:{PASSWORD}@127.0.0.1:{srv.port}/0"
    r = runner.invoke(main, ["events", "--kind", "admin", "--json", "--url", mon, "--queue", QUEUE])
    seen = [e for e in json.loads(r.stdout) if e["ts"] >= started]
    assert r.exit_code == 0 and len(seen) == len(audit)
    r = runner.invoke(main, ["enqueue", "--from", str(export), "--url", mon, "--queue", QUEUE])
    assert r.exit_code != 0 and "Traceback" not in r.output
    after = runner.invoke(
        main, ["events", "--kind", "admin", "--json", "--url", url, "--queue", QUEUE]
    )
    seen = [e for e in json.loads(after.stdout) if e["ts"] >= started]
    assert seen == audit  # nothing enqueued, nothing recorded


def test_monitor_role_pings_and_scrapes_metrics(
    server: tuple[RedisServer, redis.Redis],
    populated: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """hueyctl ping and hueyctl metrics need nothing beyond the monitor role (issue 14)."""
    srv, admin = server
    url = f"redis://monitor:{PASSWORD}@127.0.0.1:{srv.port}/0"
    runner = CliRunner()
    args = ["--url", url, "--queue", QUEUE]
    # (exit 1 without a live worker is tested in tests/cli/test_cli_ops.py: an earlier
    # test of this module may have left a worker whose lease still runs)
    app_url = f"redis://app:{PASSWORD}@127.0.0.1:{srv.port}/0"
    config = (
        f"from engine import RedisHuey, crontab\nhuey = RedisHuey({QUEUE!r}, url={app_url!r})\n"
    )
    app = App(tmp_path_factory.mktemp("acl-ping"), config, TASKS)
    try:
        app.start_worker("--heartbeat", "0.5")
        wait_for(lambda: runner.invoke(main, ["ping", *args]).exit_code == 0, 15, "ping 0")
        admin.acl_log_reset()
        r = runner.invoke(main, ["ping", *args])
        assert r.exit_code == 0 and r.stdout.startswith("ok: "), r.output
        r = runner.invoke(main, ["metrics", "--once", *args])
        assert r.exit_code == 0, r.output
        assert f'hueyctl_store_up{{queue="{QUEUE}"}} 1.0' in r.stdout
        alive = re.search(rf'hueyctl_workers_alive{{queue="{QUEUE}"}} (\S+)', r.stdout)
        assert alive and float(alive.group(1)) >= 1  # ours, and maybe an earlier test's
        assert 'task="app.add"' in r.stdout  # the per-minute counters were readable
        assert denials(admin, "monitor") == []
    finally:
        app.stop_all()
