"""A maintenance session, scripted at the shell level: every step is a separate
``python -m hueyctl ...`` process, as an operator (or a cron job) would run it.

enqueue 20 → list → revoke a periodic task until after the maintenance window →
see it revoked in ``periodic --json`` → restore → retry a failed task → purge.
The dead letter comes from an in-process worker step on the same store; the
application is the small module written to tmp_path and loaded with ``--app``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
from support.procs import pythonpath

from engine.executor import Executor

pytestmark = pytest.mark.slow

HUEYCTL = [sys.executable, "-m", "hueyctl"]
# Each step is a new interpreter importing the CLI (~0.4 s of CPU): 20 enqueues, four at
# a time, show concurrent processes as well as 50 did, at less than half the cost.
N = 20

APP = """
from engine import {cls}, crontab

huey = {cls}({name!r}, {where})


@huey.task()
def add(a, b):
    return a + b


@huey.task()
def sync_accounts():
    raise RuntimeError('accounts service is down for maintenance')


@huey.periodic_task(crontab(minute='*/15'))
def print_time():
    print('tick')
"""


class Shell:
    def __init__(self, root: Path) -> None:
        self.root = root
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUEYCTL_")}
        self.env = dict(env, PYTHONPATH=pythonpath(root), HUEYCTL_APP="tasks.huey")

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HUEYCTL, *args],
            cwd=self.root,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ok(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        proc = self.run(*args, stdin=stdin)
        assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture(params=["redis", "sqlite"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModuleType]:
    name = f"flow-{uuid.uuid4().hex[:12]}"
    if request.param == "redis":
        cls, where = "RedisHuey", f"url={request.getfixturevalue('redis_url')!r}"
    else:
        cls, where = "SqliteHuey", f"filename={str(tmp_path / 'flow.db')!r}"
    path = tmp_path / "tasks.py"
    path.write_text(textwrap.dedent(APP.format(cls=cls, name=name, where=where)))
    # The same application in this process (not on sys.path: no clash with other tests).
    spec = importlib.util.spec_from_file_location("tasks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.huey.pending_count()  # the store exists before the first command
    yield module
    module.huey.flush()
    module.huey.storage.close()


def test_maintenance_flow(app: ModuleType, tmp_path: Path) -> None:
    sh = Shell(tmp_path)

    # A job that fails, then N ordinary ones.
    failing = sh.ok("enqueue", "sync_accounts", "--priority", "10").stdout.strip()
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda i: sh.run("enqueue", "add", str(i), "1"), range(N)))
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs if p.returncode]
    ids = {p.stdout.strip() for p in procs}
    assert len(ids) == N

    # A worker step (in this process, same store) runs the urgent job: it fails for good.
    assert Executor(app.huey, "maint-worker").step(time.time())

    # Look around.
    status = sh.json("status")
    assert (status["ready"], status["dead"]) == (N, 1)
    lines = sh.ok("pending", "--jsonl", "--limit", "100").stdout.splitlines()
    pending = [json.loads(line) for line in lines]
    assert {t["id"] for t in pending} == ids and {t["name"] for t in pending} == {"tasks.add"}
    page = sh.ok("pending", "--limit", "10", "--offset", str(N - 5)).stdout.splitlines()
    assert page[0].split()[:2] == ["ID", "TASK"] and len(page) == 1 + 5
    (dead,) = sh.json("failed")
    assert dead["id"] == failing and "accounts service is down" in dead["error"]
    shown = sh.ok("show", failing[:-6]).stdout
    assert "\nstate       failed\n" in shown and "Traceback" in shown

    # Pause the periodic job until the maintenance window is over (local time).
    window_end = (dt.datetime.now() + dt.timedelta(hours=6)).replace(second=0, microsecond=0)
    until = window_end.strftime("%Y-%m-%d %H:%M")
    proc = sh.ok("revoke", "print_time", "--until", until)
    assert "tasks.print_time" in proc.stderr
    (periodic,) = sh.json("periodic")
    assert periodic["name"] == "tasks.print_time" and periodic["revoked"] is True
    assert periodic["revoked_until"] == window_end.timestamp()
    assert app.print_time.is_revoked()

    # Maintenance over: restore, retry the failed job, purge the backlog.
    sh.ok("restore", "print_time")
    assert sh.json("periodic")[0]["revoked"] is False
    assert "retried tasks.sync_accounts" in sh.ok("retry", failing[:13]).stderr
    status = sh.json("status")
    assert (status["ready"], status["dead"]) == (N + 1, 0)

    refused = sh.run("purge", "pending")  # no --yes, and no answer on stdin
    assert refused.returncode == 1 and "nothing changed" in refused.stderr
    proc = sh.ok("purge", "pending", "--yes")
    assert f"purged {N + 1} pending tasks" in proc.stderr
    assert sh.json("status")["ready"] == 0

    # Errors at the shell level: one line, the right exit code.
    down = sh.run("status", "--app", "", "--url", "redis://127.0.0.1:1", "--queue", "x")
    assert down.returncode == 69 and down.stderr.count("\n") == 1
    assert "Traceback" not in down.stderr


def test_events_follow_stops_cleanly_on_ctrl_c(app: ModuleType, tmp_path: Path) -> None:
    import signal

    sh = Shell(tmp_path)
    app.add(1, 2)
    follow = subprocess.Popen(
        [*HUEYCTL, "events", "--follow", "--jsonl"],
        cwd=tmp_path,
        env=sh.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        from engine.telemetry import Telemetry

        telemetry = Telemetry(app.huey, "c1")
        telemetry.attach()
        Executor(app.huey, "c1").step(time.time())
        telemetry.flush()
        telemetry.detach()
        assert follow.stdout is not None
        seen = []
        while "complete" not in seen:  # each arrives within a poll (0.5 s)
            line = follow.stdout.readline()
            assert line, follow.stderr.read() if follow.stderr else ""
            event = json.loads(line)
            assert event["task"] == "tasks.add"
            seen.append(event["event"])
        follow.send_signal(signal.SIGINT)
        _, err = follow.communicate(timeout=10)
    finally:
        if follow.poll() is None:
            follow.kill()
    assert seen == ["executing", "complete"]
    assert follow.returncode == 0, err
    assert err == ""
