"""``hueyctl demo``: a worker with sample tasks and steady traffic on the embedded store.

The sample application lives in ``hueyctl.demo_app`` (imported only here).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import click

from engine import TaskException
from engine.inspect import Inspector

from .cli import friendly, main


@main.command()
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--rate", type=float, default=5.0, show_default=True, help="Producer rounds/s.")
@click.option("-w", "--workers", default=4, show_default=True, help="Worker threads.")
@friendly
def demo(duration: float | None, rate: float, workers: int) -> None:
    """Run a worker with sample tasks and steady traffic on an SQLite file (no set-up)."""
    from .demo_app import DB_ENV, _traffic, add, huey

    db = huey.storage.describe().removeprefix("sqlite:///")
    env = dict(os.environ, **{DB_ENV: db})
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
        ],
        env=env,
    )
    inspector = Inspector(huey)
    click.echo(
        f"demo: worker pid {worker.pid} on {huey.storage.describe()}; Ctrl-C stops", err=True
    )
    started, i = time.monotonic(), 0
    try:
        while duration is None or time.monotonic() - started < duration:
            i += 1
            _traffic(i)
            if i % max(1, int(rate)) == 0:
                o = inspector.overview()
                click.echo(
                    f"ready {o.ready:>4}  scheduled {o.scheduled:>3}  running {o.running:>2}  "
                    f"dead {o.dead:>3}  workers {o.workers}"
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
