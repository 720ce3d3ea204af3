"""`show` on finished tasks, attempt history, dead-letter retries and orphaned tasks,
through real worker processes on Redis and the CLI (``hueyctl ... --url --queue``)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.cli import CLEAN_ENV
from support.procs import App, wait_for

from engine.api import Huey
from engine.inspect import Inspector
from engine.loader import connect
from engine.task import Task
from hueyctl import present, render
from hueyctl.cli import main

pytestmark = pytest.mark.slow

TASKS = """
@huey.task()
def add(a, b):
    record(a)
    return a + b

@huey.task(retries=1)
def fails():
    record(-1)
    raise ValueError("down")

@huey.task()
def sleepy(seconds):
    record(0)
    time.sleep(seconds)
"""

FAST = ("--lease", "2", "--heartbeat", "0.3", "-w", "2")


class Setup:
    def __init__(self, app: App, huey: Huey, url: str) -> None:
        self.app, self.huey, self.url = app, huey, url
        self.runner = CliRunner(env=CLEAN_ENV)

    def cli(self, *args: str, stderr: bool = False) -> str:
        r = self.runner.invoke(main, [*args, "--url", self.url, "--queue", self.huey.name])
        assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
        return r.stdout + (r.stderr if stderr else "")

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json"))

    def enqueue(self, name: str, *args: Any) -> str:
        task = Task(name=f"app.{name}", args=args, defaults=True)
        self.huey.enqueue(task)
        return task.id


@pytest.fixture
def setup(redis_url: str, tmp_path: Path) -> Iterator[Setup]:
    name = f"hist-{uuid.uuid4().hex[:8]}"
    config = f"from engine import RedisHuey\nhuey = RedisHuey({name!r}, url={redis_url!r})\n"
    app = App(tmp_path, config, TASKS)
    huey = connect(redis_url, name)
    try:
        yield Setup(app, huey, redis_url)
    finally:
        app.stop_all()
        huey.storage.destroy()


def test_show_a_finished_task_and_a_retried_dead_letter(setup: Setup) -> None:
    proc = setup.app.start_worker(*FAST)
    worker_id = f":{proc.pid}:"
    done = setup.enqueue("add", 2, 3)
    wait_for(lambda: setup.huey.storage.finished(done) is not None, 20, "add to finish")
    rec = setup.json("show", done)
    assert (rec["state"], rec["name"], rec["args"], rec["outcome"]) == (
        "finished",
        "app.add",
        [2, 3],
        "complete",
    )
    assert worker_id in rec["worker"] and rec["runtime"] >= 0
    assert rec["finished_at"] >= rec["started_at"] and rec["result"]["value"] == 5
    text = setup.cli("show", done)
    for label in ("finished", "runtime", "worker", "2, 3", "started"):
        assert label in text, text

    dead = setup.enqueue("fails")
    wait_for(lambda: setup.huey.storage.counts().dead == 1, 20, "fails to give up")
    rec = setup.json("show", dead)
    assert [a["n"] for a in rec["attempts"]] == [1, 2]
    assert all(worker_id in a["worker"] and "down" in a["error"] for a in rec["attempts"])
    text = setup.cli("show", dead)
    assert "2 (a retry runs attempt 3 with 1 retries)" in text, text

    setup.cli("retry", dead)
    wait_for(lambda: setup.app.executions().count(-1) == 4, 20, "the retry and its retry")
    wait_for(lambda: setup.huey.storage.counts().dead == 1, 20, "dead again")
    rec = setup.json("show", dead)
    assert [a["n"] for a in rec["attempts"]] == [1, 2, 3, 4]

    def events() -> list[str]:
        lines = setup.cli("events", "--task", "fails", "--jsonl").splitlines()
        return [json.loads(line)["event"] for line in lines]

    wait_for(lambda: events().count("dead") == 2, 10, "two dead events")
    assert "retried" in events()


def test_a_dead_workers_tasks_are_orphaned_and_its_uptime_stops(setup: Setup) -> None:
    proc = setup.app.start_worker(*FAST)
    task_id = setup.enqueue("sleepy", 60)
    wait_for(lambda: setup.app.executions() == [0], 20, "sleepy to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    insp = Inspector(setup.huey)
    wait_for(lambda: insp.running()[0].orphaned, 10, "the lease to lapse")
    running = setup.cli("running", stderr=True)
    assert "orphaned" in running and "1 orphaned: their worker is gone; requeued when" in running
    assert "requeued when a worker sweeps" in setup.cli("show", task_id)
    (worker,) = insp.workers()
    assert not worker.alive
    # Its uptime stops at its last heartbeat, however late it is read.
    frozen = present.duration(worker.heartbeat - worker.started)
    for later in (0.0, 60.0, 3600.0):
        (uptime,) = [c for c in render.worker_columns(time.time() + later) if c.header == "UPTIME"]
        assert uptime.text(worker) == frozen
    assert frozen in setup.cli("workers")
