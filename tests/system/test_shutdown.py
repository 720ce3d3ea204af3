"""Stopping and pausing real worker processes on Redis (issue 11, item 7): on SIGTERM
the tasks claimed ahead go back to ready at once (only running ones get the shutdown
timeout); a worker resumed after SIGSTOP past its lease starts none of the tasks it had
claimed ahead (they were recovered and ran elsewhere)."""

from __future__ import annotations

import collections
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import App, wait_for

from engine.api import Huey
from engine.loader import connect
from engine.task import Task

pytestmark = pytest.mark.slow

TASKS = """
STARTS = LOG + ".starts"

@huey.task()
def work(i, seconds=0.0):
    record(i)
    with open(STARTS, "a") as f:
        f.write(f"{i} {os.getpid()} {time.time()!r}\\n")
    time.sleep(seconds)
    return i
"""


@pytest.fixture
def setup(redis_url: str, tmp_path: Path) -> Iterator[tuple[App, Huey]]:
    name = f"shutdown-{uuid.uuid4().hex[:8]}"
    config = f"from engine import RedisHuey\nhuey = RedisHuey({name!r}, url={redis_url!r})\n"
    app = App(tmp_path, config, TASKS)
    huey = connect(redis_url, name)
    try:
        yield app, huey
    finally:
        app.stop_all()
        huey.storage.destroy()


def starts(app: App) -> list[tuple[int, int, float]]:
    path = Path(str(app.log) + ".starts")
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines() if line]
    return [(int(i), int(pid), float(at)) for i, pid, at in rows]


def test_sigterm_hands_back_claimed_ahead_at_once(setup: tuple[App, Huey]) -> None:
    """16 running and 64 claimed ahead (2 s tasks, 30 s timeout): on SIGTERM the 64
    start on another worker at once, not when the 16 are done."""
    app, huey = setup
    store = huey.storage
    a = app.start_worker("-w", "16", "--prefetch", "64", "-t", "30")
    huey.enqueue_many([Task(name="app.work", args=(i, 2.0)) for i in range(80)])
    wait_for(lambda: len(store.running_items()) == 80 and len(starts(app)) == 16, 15, "A claims")
    b = app.start_worker("-w", "64", "--prefetch", "0")
    assert len(starts(app)) == 16  # B found nothing to claim
    sent = time.time()
    a.send_signal(signal.SIGTERM)
    wait_for(lambda: len(starts(app)) == 80, 15, "the 64 to start on B")
    on_b = [at for _, pid, at in starts(app) if pid == b.pid]
    assert len(on_b) == 64
    last = max(on_b) - sent
    print(
        f"\nSIGTERM -> 64 claimed-ahead tasks started on another worker: first after "
        f"{min(on_b) - sent:.3f}s, last after {last:.3f}s"
    )
    assert last < 1.0  # about 0.5 s asked; before: once the 16 running were done
    assert a.wait(10) == 0
    wait_for(lambda: store.counts().running == 0 and store.counts().ready == 0, 10, "drained")
    assert collections.Counter(app.executions()) == collections.Counter(range(80))


def test_resumed_after_lease_lapsed_runs_nothing_claimed_ahead(setup: tuple[App, Huey]) -> None:
    app, huey = setup
    store = huey.storage
    fast = ("--lease", "2", "--heartbeat", "0.5")
    a = app.start_worker("-w", "2", "--prefetch", "8", *fast)
    huey.enqueue_many([Task(name="app.work", args=(i, 1.0)) for i in range(10)])
    wait_for(lambda: len(store.running_items()) == 10 and len(starts(app)) == 2, 15, "A claims")
    a.send_signal(signal.SIGSTOP)
    started_on_a = {i for i, pid, _ in starts(app) if pid == a.pid}
    assert len(started_on_a) == 2
    b = app.start_worker("-w", "10", *fast)
    wait_for(
        lambda: {i for i, pid, _ in starts(app) if pid == b.pid} == set(range(10)),
        20,
        "B to run all 10 (recovered from A)",
    )
    a.send_signal(signal.SIGCONT)
    time.sleep(3.0)  # A's two running tasks end; it would start its claimed-ahead ones now
    assert {i for i, pid, _ in starts(app) if pid == a.pid} == started_on_a
    assert a.poll() is None
    wait_for(lambda: store.counts().running == 0 and store.counts().ready == 0, 10, "drained")
    assert "lease lapsed" in app.output(a)


def test_sigterm_hands_back_a_process_workers_claimed_ahead(setup: tuple[App, Huey]) -> None:
    """Process workers: each claims ahead of the task it runs (3 at first); SIGTERM to the
    supervisor hands those back at once too."""
    app, huey = setup
    store = huey.storage
    a = app.start_worker("-k", "process", "-w", "4", "-t", "30")
    huey.enqueue_many([Task(name="app.work", args=(i, 2.0)) for i in range(16)])
    wait_for(lambda: len(store.running_items()) == 16 and len(starts(app)) == 4, 15, "A claims")
    b = app.start_worker("-w", "16", "--prefetch", "0")
    assert len(starts(app)) == 4
    sent = time.time()
    a.send_signal(signal.SIGTERM)
    wait_for(lambda: len(starts(app)) == 16, 15, "the 12 to start on B")
    on_b = [at for _, pid, at in starts(app) if pid == b.pid]
    assert len(on_b) == 12
    last = max(on_b) - sent
    print(
        f"\nSIGTERM (process workers) -> 12 claimed-ahead tasks started elsewhere after {last:.3f}s"
    )
    assert last < 1.0
    assert a.wait(10) == 0
    assert collections.Counter(app.executions()) == collections.Counter(range(16))
