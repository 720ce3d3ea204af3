"""Refusals are states, not exits (issue 11, items 3, 4 and 9): a real worker process on a
redis-server of the test's own that goes away, fills up, refuses a command to the
worker's ACL user, or refuses a result over its limits. The worker stays up (same pid),
logs once per change of state, and resumes by itself."""

from __future__ import annotations

import collections
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from support.procs import App, RedisServer, wait_for

from engine.exceptions import StoreFull
from engine.keys import WORKERS
from engine.loader import connect
from engine.task import Task

pytestmark = pytest.mark.slow

TASKS = """
@huey.task()
def work(i, seconds=0.0):
    record(i)
    time.sleep(seconds)
    return i

@huey.task()
def big(i, size):
    record(i)
    return "x" * size
"""

FAST = ("--lease", "4", "--heartbeat", "0.5")


def _app(tmp_path: Path, url: str, name: str) -> App:
    config = f"from engine import RedisHuey\nhuey = RedisHuey({name!r}, url={url!r})\n"
    return App(tmp_path, config, TASKS)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path, appendonly=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _one_pid(app: App, proc: object) -> set[str]:
    return {line.split()[1] for line in app.log.read_text().splitlines()}


def test_redis_down_then_back_logs_once_and_resumes_within_a_second(
    server: RedisServer, tmp_path: Path
) -> None:
    name = f"down-{uuid.uuid4().hex[:6]}"
    huey = connect(server.url, name)
    app = _app(tmp_path, server.url, name)
    try:
        huey.enqueue_many([Task(name="app.work", args=(i, 0.05)) for i in range(300)])
        proc = app.start_worker("-w", "2", *FAST)
        wait_for(lambda: len(app.executions()) >= 20, 30, "20 executions")
        server.stop()
        time.sleep(5.0)  # two heartbeats and many dispatcher rounds against a dead port
        down_log = app.output(proc)
        assert "reachable again" not in down_log  # item 9: never while it is still down
        server.start()
        answered = time.monotonic()
        before = len(app.executions())
        wait_for(lambda: len(app.executions()) > before + 2, 30, "work to resume")
        resume = time.monotonic() - answered
        print(f"resumed {resume:.2f}s after the store answered again")
        assert resume < 2.5  # about a second (probed every 0.25 s), not a 5 s back-off
        wait_for(lambda: len(set(app.executions())) == 300, 60, "all 300 tasks")
        out = app.output(proc)
        assert out.count("reachable again") == 1, out
        assert out.count("retrying until it answers") <= 2, out
        assert "Traceback" not in out
        assert proc.poll() is None
    finally:
        app.stop_all()


def test_full_redis_for_10s_then_freed(server: RedisServer, tmp_path: Path) -> None:
    name = f"full-{uuid.uuid4().hex[:6]}"
    huey = connect(server.url, name)
    app = _app(tmp_path, server.url, name)
    admin = redis.Redis(port=server.port)
    try:
        huey.enqueue_many([Task(name="app.work", args=(i, 0.01)) for i in range(2000)])
        proc = app.start_worker("-w", "2", *FAST)
        wait_for(lambda: len(app.executions()) >= 20, 30, "20 executions")
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory", str(max(used - 200_000, 1_000_000)))
        full_since = time.monotonic()
        wait_for(lambda: "claiming no new work" in app.output(proc), 10, "the worker to see it")
        with pytest.raises(StoreFull):  # work is refused before anything is written
            huey.enqueue_by_name("app.work", args=(-1,), delay=60)  # the schedule script
        with pytest.raises(StoreFull):
            huey.enqueue_by_name("app.work", args=(-2,))
        wait_for(  # the registry entry says so (status and top read it)
            lambda: any(
                b'"store_state":"full"' in v for v in huey.storage.map_items(WORKERS).values()
            ),
            10,
            "the registry entry to say full",
        )
        fresh = app.start_worker("-w", "1", *FAST)  # a worker can start on a full Redis
        wait_for(lambda: "claiming no new work" in app.output(fresh), 10, "the fresh worker")
        settled = len(app.executions())
        time.sleep(max(0.0, 10.0 - (time.monotonic() - full_since)))
        during = len(app.executions()) - settled
        assert proc.poll() is None, app.output(proc)
        admin.config_set("maxmemory", "0")
        freed = time.monotonic()
        wait_for(lambda: len(set(app.executions())) == 2000, 120, "the queue to drain")
        print(f"ran {during} tasks while full; drained {time.monotonic() - freed:.1f}s after")
        assert during <= 40  # the claimed-ahead ones, nothing new (no worker claims)
        out = app.output(proc)
        assert "store accepts writes again" in out
        assert out.count("claiming no new work") == 1
        assert "Traceback" not in out
        assert proc.poll() is None and fresh.poll() is None
        assert _one_pid(app, proc) <= {str(proc.pid), str(fresh.pid)}
        wait_for(
            lambda: all(b"store_state" not in v for v in huey.storage.map_items(WORKERS).values()),
            10,
            "the registry entries to say ok again",
        )
        assert len(huey.storage.map_items(WORKERS)) == 2
    finally:
        admin.config_set("maxmemory", "0")
        admin.close()
        app.stop_all()


def test_acl_evalsha_removed_then_granted_under_a_running_worker(
    server: RedisServer, tmp_path: Path
) -> None:
    name = f"acl-{uuid.uuid4().hex[:6]}"
    admin = redis.Redis(port=server.port)
    admin.acl_setuser("worker", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                      commands=["+@all"])  # fmt: skip
    url = f"redis://worker:pw@127.0.0.1:{server.port}/0"
    huey = connect(server.url, name)
    app = _app(tmp_path, url, name)
    try:
        huey.enqueue_many([Task(name="app.work", args=(i, 0.02)) for i in range(200)])
        proc = app.start_worker("-w", "2", *FAST)
        wait_for(lambda: len(app.executions()) >= 20, 30, "20 executions")
        admin.execute_command("ACL", "SETUSER", "worker", "-evalsha", "-eval")
        wait_for(lambda: "NOPERM" in app.output(proc), 10, "the refusal")
        time.sleep(3.0)
        stalled = len(app.executions())
        time.sleep(2.0)
        assert len(app.executions()) - stalled <= 4  # nothing claimed meanwhile
        admin.execute_command("ACL", "SETUSER", "worker", "+evalsha", "+eval")
        granted = time.monotonic()
        wait_for(lambda: len(set(app.executions())) == 200, 60, "all 200 tasks")
        print(f"all done {time.monotonic() - granted:.1f}s after the grant")
        out = app.output(proc)
        assert "'evalsha' command" in out and "ACL SETUSER" in out
        assert out.count("NOPERM") <= 3, out  # one line per change of state
        assert "store allows our commands again" in out
        assert "Traceback" not in out
        assert proc.poll() is None and _one_pid(app, proc) == {str(proc.pid)}
        assert not huey.storage.dead_items()
    finally:
        admin.close()
        app.stop_all()


def test_result_over_the_servers_limit_dead_letters_that_task_alone(tmp_path: Path) -> None:
    srv = RedisServer(tmp_path, appendonly=False, extra=("--proto-max-bulk-len", "1mb"))
    srv.start()
    name = f"bulk-{uuid.uuid4().hex[:6]}"
    huey = connect(srv.url, name)
    app = _app(tmp_path, srv.url, name)
    try:
        tasks = [Task(name="app.work", args=(i, 0.01)) for i in range(100)]
        bad = Task(name="app.big", args=(-1, 2 * 1024 * 1024))
        huey.enqueue_many(tasks[:50] + [bad] + tasks[50:])
        proc = app.start_worker("-w", "4", *FAST)
        wait_for(lambda: huey.storage.counts().dead == 1, 60, "the big result set aside")
        wait_for(lambda: len(app.executions()) >= 101, 60, "all tasks to run")
        time.sleep(1.0)
        runs = collections.Counter(app.executions())
        assert runs[-1] == 1  # set aside at once, not handed back and run again
        assert all(runs[i] == 1 for i in range(100)), runs  # no neighbour ran twice
        assert all(huey.result(t.id, preserve=True) is not None for t in tasks)
        (letter,) = huey.storage.dead_items()
        assert letter.id == bad.id and letter.reason == "refused"
        # the server's "invalid bulk length" reply, or its close while we still wrote
        assert "bulk length" in letter.error or "proto-max-bulk-len" in letter.error
        assert huey.storage.counts().running == 0
        assert proc.poll() is None and "Traceback" not in app.output(proc)
    finally:
        app.stop_all()
        srv.stop()


def test_readonly_replica_is_transient_for_producer_and_worker(
    server: RedisServer, tmp_path: Path
) -> None:
    """READONLY (a master demoted in a failover) is retried like a lost connection."""
    from support.procs import free_port

    from engine.exceptions import StoreUnavailable

    name = f"ro-{uuid.uuid4().hex[:6]}"
    huey = connect(server.url, name)
    app = _app(tmp_path, server.url, name)
    admin = redis.Redis(port=server.port)
    try:
        huey.enqueue_many([Task(name="app.work", args=(i, 0.02)) for i in range(200)])
        proc = app.start_worker("-w", "2", *FAST)
        wait_for(lambda: len(app.executions()) >= 20, 30, "20 executions")
        admin.replicaof("127.0.0.1", free_port())  # a master that never answers: read-only
        with pytest.raises(StoreUnavailable, match="READONLY"):
            huey.enqueue_by_name("app.work", args=(-1,))
        time.sleep(3.0)
        admin.replicaof("no", "one")
        wait_for(lambda: len(set(app.executions())) == 200, 60, "all 200 tasks")
        out = app.output(proc)
        assert "READONLY" in out and "reachable again" in out
        assert out.count("READONLY") <= 3, out
        assert "Traceback" not in out and proc.poll() is None
    finally:
        admin.replicaof("no", "one")
        admin.close()
        app.stop_all()
