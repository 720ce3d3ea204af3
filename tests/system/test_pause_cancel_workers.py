"""Pause, resume and cancel with real worker processes (issue 14), on Redis and SQLite.

The pause test prints how long after ``hueyctl pause`` the worker started its last task
(the claim-stop latency): run with ``-s`` to see it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import App, wait_for

from engine.api import Huey
from engine.loader import connect
from engine.steering import pauses
from engine.task import Task

pytestmark = pytest.mark.slow

TASKS = """
STARTS = LOG + ".starts"

@huey.task()
def work(i):
    with open(STARTS, "a") as f:
        f.write(f"{i} {time.time()!r}\\n")

@huey.task()
def sleepy(i):
    record(i)
    for _ in range(3000):
        if huey.is_cancelled():
            with open(LOG + ".stopped", "w") as f:
                f.write(repr(time.time()))
            return "stopped"
        time.sleep(0.05)

@huey.task()
async def napper(i):
    import asyncio
    record(i)
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        with open(LOG + ".cancelled", "w") as f:
            f.write(repr(time.time()))
        raise

@huey.task()
def spin(i):
    record(i)
    n = 0
    while True:
        n += 1

@huey.task()
def stuck(i):
    import re
    record(i)
    re.match(r"(a+)+$", "a" * 40 + "b")  # C code that never returns to Python
"""

N = 20_000


@pytest.fixture(params=["redis", "sqlite"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[App, Huey, str]]:
    name = f"pause-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
    else:
        url = f"sqlite:///{tmp_path / 'q.db'}"
    config = f"from engine.loader import connect\nhuey = connect({url!r}, {name!r})\n"
    app = App(tmp_path, config, TASKS)
    huey = connect(url, name)
    try:
        yield app, huey, url
    finally:
        app.stop_all()
        huey.storage.destroy()


def hueyctl(app: App, url: str, queue: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hueyctl", "--url", url, "--queue", queue, *args],
        cwd=app.root,
        env=app.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def starts(app: App) -> list[tuple[int, float]]:
    path = Path(str(app.log) + ".starts")
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line]
    return [(int(i), float(at)) for i, at in rows]


def test_pause_stops_claims_within_a_second_and_survives_a_restart(
    setup: tuple[App, Huey, str],
) -> None:
    app, huey, url = setup
    store = huey.storage
    huey.enqueue_many([Task(name="app.work", args=(i,)) for i in range(N)])
    worker = app.start_worker("-w", "4")
    wait_for(lambda: len(starts(app)) > 2000, 60, "the drain to be under way")
    asked = time.time()
    r = hueyctl(app, url, huey.name, "pause")
    written = time.time()
    assert r.returncode == 0, r.stderr
    assert "paused queue" in r.stderr
    (p,) = pauses(huey)
    assert p.at is not None and asked <= p.at <= written
    time.sleep(1.5)
    seen = starts(app)
    last = max(at for _, at in seen)
    print(
        f"\npause on {url.split(':')[0]}: {len(seen)} of {N} started; last start "
        f"{last - p.at:+.3f}s after the pause was written ({last - asked:+.3f}s after "
        f"the command started, which took {written - asked:.3f}s)"
    )
    assert last - p.at < 1.0
    assert len(starts(app)) == len(seen)  # nothing more starts
    counts = store.counts()
    assert counts.running == 0 and counts.ready + len(seen) == N  # nothing lost
    status = hueyctl(app, url, huey.name, "status", "--json")
    assert json.loads(status.stdout)["pauses"][0]["task"] is None
    assert "queue paused by" in hueyctl(app, url, huey.name, "workers").stderr
    # A worker restarted meanwhile stays paused, and says so in its log.
    worker.terminate()
    assert worker.wait(20) == 0
    again = app.start_worker("-w", "4")
    wait_for(lambda: "paused by" in app.output(again), 10, "the new worker to log the pause")
    time.sleep(1.0)
    assert len(starts(app)) == len(seen)
    r = hueyctl(app, url, huey.name, "resume")
    assert r.returncode == 0 and "resumed queue" in r.stderr, r.stderr
    wait_for(lambda: len(starts(app)) >= N, 120, "the rest to run after resume")
    assert sorted(i for i, _ in starts(app)) == list(range(N))  # each once, none lost
    assert "queue" in app.output(again) and "resumed" in app.output(again)


def test_pause_for_lapses_by_itself(setup: tuple[App, Huey, str]) -> None:
    app, huey, url = setup
    app.start_worker("-w", "2")
    r = hueyctl(app, url, huey.name, "pause", "--for", "2s")
    assert r.returncode == 0, r.stderr
    (p,) = pauses(huey)
    assert p.at is not None and p.until == p.at + 2
    paused_at = p.at
    huey.enqueue(Task(name="app.work", args=(1,)))
    wait_for(lambda: len(starts(app)) == 1, 10, "the task to run once the pause lapses")
    ran_at = starts(app)[0][1]
    assert 1.5 < ran_at - paused_at < 3.5
    assert hueyctl(app, url, huey.name, "status", "--json").returncode == 0


def _wait_ended(huey: Huey, task_id: str) -> None:
    wait_for(lambda: huey.storage.locate(task_id) is None, 15, "the call to end")


def test_cancel_a_cooperative_task_under_threads(setup: tuple[App, Huey, str]) -> None:
    app, huey, url = setup
    worker = app.start_worker("-w", "2")
    res = huey.enqueue(Task(name="app.sleepy", args=(1,)))
    wait_for(lambda: app.executions() == [1], 15, "the task to start")
    r = hueyctl(app, url, huey.name, "cancel", res.id[-8:])
    written = time.time()
    assert r.returncode == 0 and "asked the worker" in r.stderr, r.stderr
    stopped = Path(str(app.log) + ".stopped")
    wait_for(stopped.exists, 5, "the task to stop")
    took = float(stopped.read_text()) - written
    print(f"\ncancel (threads, cooperative, checks every 0.05 s): stopped {took:.3f}s after")
    assert took < 1.0
    _wait_ended(huey, res.id)
    shown = hueyctl(app, url, huey.name, "show", res.id)
    assert "cancelled by" in shown.stdout + shown.stderr

    def event_names() -> list[str]:
        events = hueyctl(app, url, huey.name, "events", "--json")
        return [e["event"] for e in json.loads(events.stdout)]

    wait_for(lambda: "canceled" in event_names(), 10, "the canceled event")
    assert "admin.cancel" in event_names()
    again = hueyctl(app, url, huey.name, "cancel", res.id)
    assert again.returncode == 0 and "already finished" in again.stderr
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0  # not retried
    # The worker keeps serving.
    huey.enqueue(Task(name="app.work", args=(7,)))
    wait_for(lambda: [i for i, _ in starts(app)] == [7], 10, "the next task")
    assert worker.poll() is None


@pytest.mark.parametrize("task", ["spin", "stuck"])
def test_cancel_a_task_that_never_checks_under_processes(
    setup: tuple[App, Huey, str], task: str
) -> None:
    app, huey, url = setup
    worker = app.start_worker("-w", "1", "-k", "process", "--cancel-grace", "1")
    res = huey.enqueue(Task(name=f"app.{task}", args=(1,)))
    wait_for(lambda: app.executions() == [1], 15, "the task to start")
    asked = time.time()
    r = hueyctl(app, url, huey.name, "cancel", res.id)
    written = time.time()
    assert r.returncode == 0, r.stderr
    _wait_ended(huey, res.id)
    took = time.time() - written
    print(
        f"\ncancel (process, {task}): ended {took:.3f}s after the cancel was written "
        f"({time.time() - asked:.3f}s after the command started; grace 1 s)"
    )
    assert took < 3
    with pytest.raises(Exception, match="cancelled by"):
        huey.result(res.id, blocking=True, timeout=5)
    assert huey.pending_count() == 0
    huey.enqueue(Task(name="app.work", args=(8,)))
    wait_for(lambda: [i for i, _ in starts(app)] == [8], 20, "the next task")
    assert worker.poll() is None
    if task == "stuck":
        assert "killing worker process" in app.output(worker)


def test_cancel_a_coroutine_under_asyncio(setup: tuple[App, Huey, str]) -> None:
    """-k asyncio: the cancel record read on the heartbeat round cancels the coroutine
    (CancelledError at its await); the call ends cancelled, not retried."""
    app, huey, url = setup
    worker = app.start_worker("-w", "10", "-k", "asyncio")
    res = huey.enqueue(Task(name="app.napper", args=(1,)))
    wait_for(lambda: app.executions() == [1], 15, "the coroutine to start")
    asked = time.time()
    r = hueyctl(app, url, huey.name, "cancel", res.id, "--wait", "--timeout", "10")
    assert r.returncode == 0 and "it has stopped" in r.stderr, r.stderr
    cancelled = Path(str(app.log) + ".cancelled")
    wait_for(cancelled.exists, 5, "CancelledError in the coroutine")
    took = float(cancelled.read_text()) - asked
    print(f"\ncancel (asyncio): CancelledError {took:.3f}s after the command started")
    assert took < 5
    _wait_ended(huey, res.id)
    with pytest.raises(Exception, match="cancelled by"):
        huey.result(res.id, blocking=True, timeout=5)
    shown = hueyctl(app, url, huey.name, "show", res.id)
    assert "cancelled by" in shown.stdout + shown.stderr
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0  # not retried
    huey.enqueue(Task(name="app.work", args=(9,)))
    wait_for(lambda: [i for i, _ in starts(app)] == [9], 20, "the next task")
    assert worker.poll() is None
