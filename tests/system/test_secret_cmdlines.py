"""Nothing the tool starts itself puts a secret on a command line (issue 12, item 3):
a ``-k process`` worker's supervisor and its worker processes, given a password URL by
the app's own configuration (an environment variable) or by ``--url-file``, show no
password in ``/proc/PID/cmdline``, nor after a SIGHUP restart (which re-executes the
worker's own arguments). A password typed in ``--url`` is the user's own choice: the
worker says once, on stderr, what to do instead."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import App, wait_for
from support.secure import ConfServer

from engine.loader import connect

pytestmark = pytest.mark.slow

PASSWORD = "pw-never-on-a-cmdline"
QUEUE = "cmdq"
TASKS = """
@huey.task()
def add(a, b):
    record(a)
    return a + b
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ConfServer]:
    srv = ConfServer(tmp_path / "redis", f"requirepass {PASSWORD}\n", dict(password=PASSWORD))
    yield srv
    srv.stop()


def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    return tmp_path / "app"


def cmdline(pid: int) -> str:
    return (Path(f"/proc/{pid}") / "cmdline").read_bytes().replace(b"\0", b" ").decode()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_cmdlines(pid: int, processes: int) -> dict[int, str]:
    """The command lines of ``pid`` and its descendants, once ``processes`` children run."""
    wait_for(lambda: len(descendants(pid)) >= processes, 20, f"{processes} worker processes")
    return {p: cmdline(p) for p in [pid, *descendants(pid)]}


def runs_a_task(url: str, app: App, i: int) -> None:
    producer = connect(url, QUEUE)
    producer.enqueue_by_name("app.add", (i, 1))
    wait_for(lambda: i in app.executions(), 30, f"task {i} to run")
    producer.storage.close()


def test_process_worker_with_the_url_in_the_apps_environment(
    server: ConfServer, tmp_path: Path
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    config = (
        "import os\nfrom engine import RedisHuey\n"
        f"huey = RedisHuey({QUEUE!r}, url=os.environ['APP_URL'])\n"
    )
    app = App(app_dir(tmp_path), config, TASKS)
    try:
        proc = app.start_worker("-k", "process", "-w", "2", env={"APP_URL": url})
        lines = tree_cmdlines(proc.pid, 2)
        assert len(lines) >= 3, lines
        assert not [c for c in lines.values() if PASSWORD in c], lines
        runs_a_task(url, app, 1)
        assert PASSWORD not in app.output(proc)
    finally:
        app.stop_all()


def test_process_worker_with_url_file_keeps_it_off_every_cmdline_across_a_restart(
    server: ConfServer, tmp_path: Path
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    secret = tmp_path / "store-url"
    secret.write_text(url + "\n")
    secret.chmod(0o600)
    # the app's own store is elsewhere: --url-file redirects it, as --url does
    config = (
        f"from engine import RedisHuey\nhuey = RedisHuey({QUEUE!r}, url='redis://127.0.0.1:1/0')\n"
    )
    app = App(app_dir(tmp_path), config, TASKS)
    try:
        proc = app.start_worker("-k", "process", "-w", "2", "--url-file", str(secret))
        lines = tree_cmdlines(proc.pid, 2)
        assert str(secret) in lines[proc.pid]
        assert not [c for c in lines.values() if PASSWORD in c], lines
        runs_a_task(url, app, 1)
        before = set(descendants(proc.pid))
        os.kill(proc.pid, signal.SIGHUP)  # re-executes itself with its own arguments
        wait_for(
            lambda: (
                "restarting" in app.output(proc) and len(set(descendants(proc.pid)) - before) >= 2
            ),
            30,
            "the restarted worker's processes",
        )
        lines = {p: cmdline(p) for p in [proc.pid, *descendants(proc.pid)]}
        assert not [c for c in lines.values() if PASSWORD in c], lines
        runs_a_task(url, app, 2)
        assert PASSWORD not in app.output(proc)
    finally:
        app.stop_all()


def test_a_password_in_the_workers_own_url_is_warned_about(
    server: ConfServer, tmp_path: Path
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    config = (
        f"from engine import RedisHuey\nhuey = RedisHuey({QUEUE!r}, url='redis://127.0.0.1:1/0')\n"
    )
    app = App(app_dir(tmp_path), config, TASKS)
    try:
        proc = app.start_worker("--url", url)
        out = app.output(proc)
        warnings = [line for line in out.splitlines() if "--url holds a password" in line]
        assert len(warnings) == 1 and "--url-file PATH" in warnings[0], out
        assert PASSWORD not in out
        runs_a_task(url, app, 3)
    finally:
        app.stop_all()
