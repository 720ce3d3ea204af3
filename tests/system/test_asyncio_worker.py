"""``hueyctl worker -k asyncio`` as a real process on Redis: many coroutines in flight,
kill -9 loses nothing, a timed-out coroutine is cancelled and retried, and sync and
async tasks of one app run under every worker type. (The 10,000-task timing target is
benchmarks/async_sleep.py's: a timing assertion would flake on a loaded box.)"""

from __future__ import annotations

import collections
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import App, wait_for

from engine.api import Huey
from engine.loader import connect

pytestmark = pytest.mark.slow

TASKS = """
import asyncio

@huey.task()
async def nap(i, seconds=0.05):
    record(i)
    start = time.time()
    await asyncio.sleep(seconds)
    return [start, time.time()]

@huey.task()
def plain(i):
    return i * 2

@huey.task()
async def coro(i):
    await asyncio.sleep(0)
    return i * 3

@huey.task(timeout=0.5, retries=1)
async def first_try_hangs(marker):
    if not os.path.exists(marker):
        open(marker, "w").close()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            with open(marker + ".cancelled", "w") as f:
                f.write("cancelled")
            raise
    return "second try"
"""

FAST = ("--lease", "2", "--heartbeat", "0.5")


@pytest.fixture
def setup(redis_url: str, tmp_path: Path) -> Iterator[tuple[App, Huey]]:
    name = f"asyncio-{uuid.uuid4().hex[:8]}"
    huey = connect(redis_url, name)
    config = f"from engine import RedisHuey\nhuey = RedisHuey({name!r}, url={redis_url!r})\n"
    app = App(tmp_path, config, TASKS)
    try:
        yield app, huey
    finally:
        app.stop_all()
        huey.flush()


def _results(huey: Huey) -> int:
    return len(huey.storage.keys("result:"))


def _max_overlap(spans: list[list[float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def test_a_thousand_coroutines_many_in_flight(setup: tuple[App, Huey]) -> None:
    app, huey = setup
    ids = [huey.enqueue_by_name("app.nap", args=(i,)).id for i in range(1000)]
    app.start_worker("-k", "asyncio", "-w", "200", *FAST)
    wait_for(lambda: _results(huey) == 1000, 90, "1000 results")
    spans = [huey.result(t, preserve=True) for t in ids]
    overlap = _max_overlap(spans)
    print(f"\n-k asyncio -w 200: at most {overlap} of 1000 naps in flight at once")
    assert 50 < overlap <= 200


def test_kill_9_mid_run_loses_nothing(setup: tuple[App, Huey]) -> None:
    app, huey = setup
    for i in range(1000):
        huey.enqueue_by_name("app.nap", args=(i, 0.05))
    a = app.start_worker("-k", "asyncio", "-w", "200", *FAST)
    wait_for(lambda: len(app.executions()) >= 300, 60, "300 executions")
    a.send_signal(signal.SIGKILL)
    a.wait()
    before = set(app.executions())
    app.start_worker("-k", "asyncio", "-w", "200", *FAST)
    wait_for(lambda: _results(huey) == 1000, 90, "1000 results")
    counts = collections.Counter(app.executions())
    assert set(counts) == set(range(1000)), "a task never ran"
    twice = {i for i, n in counts.items() if n > 1}
    assert twice <= before  # only what had started before the kill runs again
    c = huey.storage.counts()
    assert (c.ready, c.scheduled, c.running, c.dead) == (0, 0, 0, 0)
    print(f"\nkill -9 of -k asyncio: {len(twice)} of 1000 ran twice, none lost")


def test_timed_out_coroutine_is_cancelled_and_retried(setup: tuple[App, Huey]) -> None:
    app, huey = setup
    marker = str(app.root / "tried")
    res = huey.enqueue_by_name("app.first_try_hangs", args=(marker,))
    app.start_worker("-k", "asyncio", "-w", "10", *FAST)
    assert huey.result(res.id, blocking=True, timeout=30) == "second try"
    assert Path(marker + ".cancelled").read_text() == "cancelled"


@pytest.mark.parametrize("kind", ["thread", "process", "asyncio"])
def test_sync_and_async_tasks_under_every_worker_type(setup: tuple[App, Huey], kind: str) -> None:
    app, huey = setup
    plain = [huey.enqueue_by_name("app.plain", args=(i,)).id for i in range(20)]
    coro = [huey.enqueue_by_name("app.coro", args=(i,)).id for i in range(20)]
    app.start_worker("-k", kind, "-w", "2", *FAST)
    got = [huey.result(t, blocking=True, timeout=30) for t in plain + coro]
    assert got == [i * 2 for i in range(20)] + [i * 3 for i in range(20)]
