"""Store faults under real worker processes on Redis: bad entries in the ready set and a
worker whose clock runs 30 s fast. (The store-level checks, a full Redis included, are
in tests/contract/test_redis_faults.py.)

The fast clock is ``HUEYCTL_CLOCK_SKEW=30`` (engine.consumer.skewed_clock), not
libfaketime: under libfaketime 0.9.10 Python's ``time.sleep`` fails with EINVAL or its
timed waits hang, so it cannot run a worker."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from support.procs import App, RedisServer, wait_for
from support.redis_keys import plant_ready

from engine.api import Huey
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
"""

FAST = ("--lease", "2", "--heartbeat", "0.5")


@pytest.fixture
def setup(redis_url: str, tmp_path: Path) -> Iterator[tuple[App, Huey, str]]:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    config = f"from engine import RedisHuey\nhuey = RedisHuey({name!r}, url={redis_url!r})\n"
    app = App(tmp_path, config, TASKS)
    huey = connect(redis_url, name)
    try:
        yield app, huey, name
    finally:
        app.stop_all()
        huey.storage.destroy()


def test_bad_ready_entries_never_stop_a_worker(
    setup: tuple[App, Huey, str], redis_url: str
) -> None:
    app, huey, name = setup
    client = redis.Redis.from_url(redis_url)
    bad = [b"bad-\xff-%d" % n for n in range(200)]  # not UTF-8
    for n, raw in enumerate(bad):
        plant_ready(client, name, raw, b'{"v":1}', n % 3)
    for n in range(50):
        plant_ready(client, name, f"no-body-{n}", None)  # ids with no body
    proc = app.start_worker("-w", "4", *FAST)
    huey.enqueue_many([Task(name="app.work", args=(i,)) for i in range(300)])
    wait_for(lambda: len(app.executions()) >= 300, 60, "300 valid tasks to run")
    assert sorted(app.executions()) == list(range(300))
    assert proc.poll() is None
    assert {line.split()[1] for line in app.log.read_text().splitlines()} == {str(proc.pid)}
    store = huey.storage
    wait_for(lambda: store.counts().dead == 200, 10, "the bad ids to be set aside")
    letters = store.dead_items(0, 1000)
    assert {x.reason for x in letters} == {"malformed"}
    assert {x.id for x in letters} == {raw.decode("utf-8", "backslashreplace") for raw in bad}
    assert store.counts().ready == 0
    output = app.output(proc)
    assert "Traceback" not in output
    assert "whose id is not UTF-8" in output and "had no body" in output
    client.close()


def test_a_worker_with_a_fast_clock_steals_nothing(setup: tuple[App, Huey, str]) -> None:
    app, huey, _ = setup
    honest = app.start_worker("-w", "4", *FAST)
    huey.enqueue_many([Task(name="app.work", args=(i, 1.5)) for i in range(8)])
    wait_for(lambda: len(app.executions()) == 8, 10, "the honest worker to take all 8")
    # 30 s fast, it sweeps every 0.5 s: on its own clock every other lease has lapsed.
    fast = app.start_worker("-w", "4", *FAST, env={"HUEYCTL_CLOCK_SKEW": "30"})
    huey.enqueue_many([Task(name="app.work", args=(i, 1.5)) for i in range(8, 16)])
    wait_for(
        lambda: len(app.executions()) >= 16 and not huey.storage.counts().running,
        30,
        "every task to finish",
    )
    runs = collections.Counter(app.executions())
    assert sorted(runs) == list(range(16))
    assert [i for i, n in runs.items() if n > 1] == []  # 0 tasks stolen and run twice
    assert honest.poll() is None and fast.poll() is None
    assert "ahead of the Redis server's" in app.output(fast)
    assert "ahead of the Redis server's" not in app.output(honest)
    assert "recovered tasks" not in app.output(fast)


def test_a_worker_checks_that_redis_keeps_the_queue(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=False)  # no AOF, no RDB saves
    server.dir.mkdir()
    server.start()
    config = f"from engine import RedisHuey\nhuey = RedisHuey('p', url={server.url!r})\n"
    app = App(tmp_path, config)
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "hueyctl", "worker", "app.huey", "--require-persistence"],
            cwd=tmp_path,
            env=app.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode == 69, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "refusing to start (--require-persistence)" in lines[0]
        assert "keeps nothing on disk" in lines[0]

        proc = app.start_worker(*FAST)
        huey = connect(server.url, "p")
        wait_for(lambda: bool(huey.storage.map_items(WORKERS)), 10, "the registry entry")
        (record,) = (json.loads(v) for v in huey.storage.map_items(WORKERS).values())
        assert record["store"] == {
            "persistent": False,
            "aof": False,
            "rdb": False,
            "eviction": "noeviction",
        }
        assert app.output(proc).count("keeps nothing on disk") == 1
    finally:
        app.stop_all()
        server.stop()
