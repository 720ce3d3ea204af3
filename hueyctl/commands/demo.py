"""``hueyctl demo``: a worker with sample tasks and steady traffic on the embedded store.

The sample application lives in ``hueyctl.demo_app`` (imported only here). Each run
gets a new SQLite file (so one run's dead letters never show up in the next, and two
demos never share a store) unless ``--db`` or ``HUEYCTL_DEMO_DB`` names one; the file
stays after the demo, and quitting says how to look at it again.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import click

from engine import TaskException
from engine.inspect import Inspector
from engine.urls import sqlite_path

from .. import DEMO_DB_ENV as DB_ENV


@click.command()
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Seconds of status lines without top [default: 30]; top runs until q.",
)
@click.option("--rate", type=float, default=5.0, show_default=True, help="Producer rounds/s.")
@click.option("-w", "--workers", default=4, show_default=True, help="Worker threads.")
@click.option(
    "--db",
    "db_path",
    metavar="PATH",
    envvar=DB_ENV,
    help=f"The demo's SQLite file [default: a new one per run in the temp dir; env {DB_ENV}].",
)
@click.option(
    "--no-top",
    is_flag=True,
    help="Print a status line per second instead of opening top (the default "
    "when output is not a terminal).",
)
def demo(
    duration: float | None, rate: float, workers: int, no_top: bool, db_path: str | None
) -> None:
    """Run a worker with sample tasks and steady traffic on an SQLite file, and watch
    it in `hueyctl top` (no set-up, no server). Each run starts on a new store unless
    --db names one."""
    if not db_path:
        db_path = os.path.join(tempfile.mkdtemp(prefix="hueyctl-demo-"), "demo.db")
    os.environ[DB_ENV] = os.path.abspath(db_path)  # before demo_app reads it
    from ..demo_app import add, huey, traffic

    db = sqlite_path(huey.storage.describe())
    use_top = not no_top and sys.stdout.isatty() and sys.stdin.isatty()
    log = os.path.join(os.path.dirname(db), "hueyctl-demo-worker.log")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hueyctl",
            "worker",
            "hueyctl.demo_app.huey",
            "-w",
            str(workers),
            "-q",
            *(["--logfile", log] if use_top else []),
        ],
        env=dict(os.environ, **{DB_ENV: db}),
    )
    click.echo(f"demo: worker pid {worker.pid} on {huey.storage.describe()}", err=True)
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            traffic(i)
            stop.wait(1 / rate)

    producer = threading.Thread(target=produce, name="traffic", daemon=True)
    producer.start()
    try:
        if use_top:
            from .top import run_top

            run_top(huey)
        else:
            _status_lines(huey, 30.0 if duration is None else duration)
            probe = add(20, 22)
            try:
                click.echo(f"add(20, 22) -> {probe(blocking=True, timeout=10)}")
            except TaskException as exc:
                click.echo(f"add(20, 22) failed: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        producer.join(timeout=5)
        worker.terminate()
        worker.wait(timeout=40)
        click.echo(look_again(db), err=True)


def look_again(db: str) -> str:
    """What quitting prints: where the store stays and the command that reads it."""
    env = f"{DB_ENV}={shlex.quote(db)}"
    return (
        f"demo: stopped; its store stays at {db}. Look again with:\n"
        f"  {env} {_hueyctl()} status --app hueyctl.demo_app.huey"
    )


def _hueyctl() -> str:
    """``hueyctl`` when the shell finds this one by that name, else its full path
    (scripts/demo.sh runs it from .venv/bin, which is not on PATH)."""
    here = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "hueyctl")
    found = shutil.which("hueyctl")
    if found and os.path.exists(here) and os.path.samefile(found, here):
        return "hueyctl"
    if os.path.exists(here):
        return shlex.quote(here)
    return f"{shlex.quote(sys.executable)} -m hueyctl"


def _status_lines(huey: Any, duration: float | None) -> None:
    inspector = Inspector(huey)
    started = time.monotonic()
    while duration is None or time.monotonic() - started < duration:
        o = inspector.overview(minutes=1)
        done = o.throughput[-1].count if o.throughput else 0
        click.echo(
            f"pending {o.ready:>4}  scheduled {o.scheduled:>3}  running {o.running:>2}  "
            f"failed {o.dead:>3}  workers {o.workers}  done this minute {done}"
        )
        time.sleep(1.0)
