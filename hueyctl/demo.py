"""``hueyctl demo``: a worker with sample tasks and steady traffic on the embedded store.

The sample application (``hueyctl.demo.huey``) has the guide's tasks, a pipeline,
a periodic task and a flaky task that fails and retries, on an SQLite file, so
the demo needs no server.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import click

from engine import SqliteHuey, TaskException, crontab
from engine.inspect import Inspector

from .cli import friendly, main

DB_ENV = "HUEYCTL_DEMO_DB"
huey = SqliteHuey("demo", filename=os.environ.get(DB_ENV, str(Path(tempfile.gettempdir()) / "hueyctl-demo.db")))


@huey.task()
def count_beans(num: int) -> str:
    return "Counted %s beans" % num


@huey.task()
def add(a: int, b: int) -> int:
    return a + b


@huey.task(retries=2, retry_delay=1)
def flaky(n: int) -> int:
    time.sleep(random.random() * 0.05)
    if random.random() < 0.3:
        raise RuntimeError(f"flaky task {n} failed")
    return n


@huey.task()
def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@huey.periodic_task(crontab(minute="*"))
def print_time() -> None:
    print(datetime.now())


def _traffic(i: int) -> None:
    count_beans(i)
    if i % 3 == 0:
        huey.enqueue(add.s(1, 2).then(add, 3).then(add, 4))
    if i % 5 == 0:
        flaky(i)
    if i % 7 == 0:
        slow.schedule(args=(0.2,), delay=2)


@main.command()
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--rate", type=float, default=5.0, show_default=True, help="Producer rounds/s.")
@click.option("-w", "--workers", default=4, show_default=True, help="Worker threads.")
@friendly
def demo(duration: float | None, rate: float, workers: int) -> None:
    """Run a worker with sample tasks and steady traffic on an SQLite file (no set-up)."""
    db = huey.storage.describe().removeprefix("sqlite:///")
    env = dict(os.environ, **{DB_ENV: db})
    worker = subprocess.Popen(
        [sys.executable, "-m", "hueyctl", "worker", "hueyctl.demo.huey", "-w", str(workers), "-q"],
        env=env,
    )
    inspector = Inspector(huey)
    click.echo(f"demo: worker pid {worker.pid} on {huey.storage.describe()}; Ctrl-C stops", err=True)
    started, i = time.monotonic(), 0
    try:
        while duration is None or time.monotonic() - started < duration:
            i += 1
            _traffic(i)
            if i % max(1, int(rate)) == 0:
                o = inspector.overview()
                click.echo(
                    f"ready {o.ready:>4}  scheduled {o.scheduled:>3}  running {o.running:>2}  "
                    f"dead {o.dead:>3}  workers {o.consumers}"
                )
            time.sleep(1 / rate)
        probe = add(20, 22)
        try:
            click.echo(f"add(20, 22) -> {probe(blocking=True, timeout=10)}")
        except TaskException as exc:
            click.echo(f"add(20, 22) failed: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        worker.terminate()
        worker.wait(timeout=40)
