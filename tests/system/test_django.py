"""A real Django project on our queue (engine.contrib.djhuey), end to end.

The project (tests/support/django_project.py) has settings with ``HUEY`` and
``TASKS``, an app with a model and a ``tasks.py``, and a SQLite database migrated by
``manage.py migrate``. ``manage.py run_huey`` runs in a subprocess; the producer side
runs in ``manage.py shell -c``, as a view would.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.django_project import manage, project_env, write_project
from support.procs import wait_for

from engine import RedisHuey

pytest.importorskip("django")
pytest.importorskip("django_tasks")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Path:
    root = write_project(tmp_path_factory.mktemp("django"))
    env = project_env(root, "migrate-only", redis_url)
    manage(root, env, "makemigrations", "shop")
    manage(root, env, "migrate")
    return root


@pytest.fixture
def env(project: Path, redis_url: str) -> Iterator[dict[str, str]]:
    name = f"dj-{uuid.uuid4().hex[:8]}"
    huey = RedisHuey(name, url=redis_url)
    try:
        yield project_env(project, name, redis_url)
    finally:
        huey.flush()
        huey.storage.close()


class RunHuey:
    """``manage.py run_huey`` processes of one test, stopped at its end."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"run_huey-{self.env['DJ_QUEUE']}-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_huey", *args],
            cwd=self.root,
            env=dict(self.env, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def run_huey(project: Path, env: dict[str, str]) -> Iterator[RunHuey]:
    runner = RunHuey(project, env)
    try:
        yield runner
    finally:
        runner.stop()


def shell(root: Path, env: dict[str, str], code: str) -> object:
    """Run ``code`` in ``manage.py shell``; what it printed last, as JSON."""
    out = manage(root, env, "shell", "-c", code, timeout=90)
    return json.loads(out.strip().splitlines()[-1])


def _count(root: Path, text: str) -> int:
    db = sqlite3.connect(root / "db.sqlite3", timeout=20)
    try:
        return int(
            db.execute("SELECT count(*) FROM shop_note WHERE text = ?", (text,)).fetchone()[0]
        )
    finally:
        db.close()


PRODUCER = """
import json, time
from django_tasks import default_task_backend, TaskResultStatus
from shop.tasks import add, attempt, explode, nap, square, write_note

def settled(result):
    deadline = time.monotonic() + 30
    while not result.is_finished and time.monotonic() < deadline:
        time.sleep(0.05)
        result.refresh()
    return result

out = {}
out["db_task"] = write_note(%(text)r).get(blocking=True, timeout=30)
out["task"] = square(7).get(blocking=True, timeout=30)
res = add.enqueue(2, 3)
out["enqueued"] = [res.status, res.id == str(res.id)]
res = settled(res)
out["add"] = [res.status, res.return_value, res.attempts, res.finished_at is not None]
again = add.get_result(res.id)
out["get_result"] = [again.status, again.return_value, again.args, again.task.name]
err = settled(explode.enqueue("boom"))
out["explode"] = [err.status, err.errors[0].exception_class_path, "boom" in err.errors[0].traceback]
out["backend"] = default_task_backend.get_result(err.id).status
out["context"] = settled(attempt.enqueue(9)).return_value
slow = nap.enqueue(1.5)
seen = []
while not slow.is_finished:
    if not seen or seen[-1] != slow.status:
        seen.append(slow.status)
    time.sleep(0.05)
    slow.refresh()
out["nap"] = seen + [slow.status, len(slow.worker_ids), slow.started_at <= slow.finished_at]
print(json.dumps(out))
"""


def test_run_huey_runs_db_tasks_and_django_tasks(
    project: Path, env: dict[str, str], run_huey: RunHuey
) -> None:
    run_huey.start("-n", "-w", "2")
    text = f"note-{uuid.uuid4().hex[:6]}"
    out = shell(project, env, PRODUCER % {"text": text})
    assert out == {
        "db_task": 1,
        "task": 49,
        "enqueued": ["READY", True],
        "add": ["SUCCESSFUL", 5, 1, True],
        "get_result": ["SUCCESSFUL", 5, [2, 3], "add"],
        "explode": ["FAILED", "builtins.ValueError", True],
        "backend": "FAILED",
        "context": [1, 9],
        "nap": ["READY", "RUNNING", "SUCCESSFUL", 1, True],
    }
    assert _count(project, text) == 1  # the db_task's row is in the database


def test_run_huey_with_process_workers(
    project: Path, env: dict[str, str], run_huey: RunHuey
) -> None:
    proc = run_huey.start("-n", "-k", "process", "-w", "2")
    text = f"proc-{uuid.uuid4().hex[:6]}"
    code = f"""
import json, time
from shop.tasks import add, write_note
written = write_note({text!r}).get(blocking=True, timeout=30)
res = add.enqueue(20, 22)
deadline = time.monotonic() + 30
while not res.is_finished and time.monotonic() < deadline:
    time.sleep(0.05)
    res.refresh()
print(json.dumps([written, res.status, res.return_value, res.worker_ids]))
"""
    written, status, value, (worker,) = shell(project, env, code)  # type: ignore[misc]
    assert (written, status, value) == (1, "SUCCESSFUL", 42)
    assert not worker.endswith(f":{proc.pid}")  # a forked worker process ran it
    assert _count(project, text) == 1


def test_db_periodic_task_fires(project: Path, env: dict[str, str], run_huey: RunHuey) -> None:
    # The worker's clock is set to one second past the next minute, so the every-minute
    # crontab is due as the consumer starts, instead of up to a minute later.
    now = time.time()
    skew = math.ceil(now / 60) * 60 + 1 - now
    before = _count(project, "tick")
    run_huey.start("-w", "1", HUEYCTL_CLOCK_SKEW=str(skew))
    wait_for(lambda: _count(project, "tick") > before, 30, "the periodic db task's row")


def test_kill_9_mid_task_then_restart_still_completes(
    project: Path, env: dict[str, str], run_huey: RunHuey, tmp_path: Path
) -> None:
    first = run_huey.start("-n", "-w", "1")
    text, marker = f"slow-{uuid.uuid4().hex[:6]}", tmp_path / "attempts"
    shell(
        project,
        env,
        f"from shop.tasks import slow_note; slow_note({text!r}, {str(marker)!r}, 3); print(1)",
    )
    wait_for(marker.exists, 30, "the task to start")
    os.kill(first.pid, signal.SIGKILL)  # mid-task: the row is not written yet
    first.wait(timeout=10)
    assert _count(project, text) == 0
    run_huey.start("-n", "-w", "1")
    wait_for(lambda: _count(project, text) == 1, 40, "the task to run again after the restart")
    assert len(marker.read_text().split()) == 2  # delivered twice, written once


def hueyctl(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hueyctl", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hueyctl_status_and_worker_on_the_django_queue(project: Path, env: dict[str, str]) -> None:
    app = ["--app", "engine.contrib.djhuey.HUEY"]
    code = (
        "import json; from shop.tasks import add, square; "
        "ids = [add.enqueue(i, i).id for i in range(2)] + [square(3).id]; print(json.dumps(ids))"
    )
    ids = shell(project, env, code)
    out = hueyctl(project, env, *app, "status")
    assert out.returncode == 0, out.stderr
    assert f"queue      {env['DJ_QUEUE']} on redis://" in out.stdout
    assert "pending    3" in out.stdout
    listed = hueyctl(project, env, *app, "pending")
    assert all(i in listed.stdout for i in ids) and "django.tasks" in listed.stdout

    # hueyctl worker runs the project's tasks too (django.tasks calls included).
    worker = subprocess.Popen(
        [sys.executable, "-m", "hueyctl", "worker", "engine.contrib.djhuey.HUEY", "-n", "-q"],
        cwd=project,
        env=env,
    )
    try:
        code = (
            "import json; from shop.tasks import add; "
            f"print(json.dumps([add.get_result(i).status for i in {ids[:2]!r}]))"
        )
        wait_for(lambda: shell(project, env, code) == ["SUCCESSFUL"] * 2, 60, "the worker")
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=30)


def test_hueyctl_top_shows_the_django_queue(project: Path, env: dict[str, str]) -> None:
    pexpect = pytest.importorskip("pexpect")
    pyte = pytest.importorskip("pyte")
    shell(project, env, "from shop.tasks import square; [square(i) for i in range(4)]; print(1)")
    screen = pyte.Screen(132, 40)
    stream = pyte.ByteStream(screen)
    term_env = dict(env, TERM="xterm-256color")
    term_env.pop("NO_COLOR", None)
    argv = ["-m", "hueyctl", "top", "--app", "engine.contrib.djhuey.HUEY", "-i", "0.5"]
    child = pexpect.spawn(
        sys.executable, argv, cwd=str(project), env=term_env, dimensions=(40, 132), timeout=10
    )

    def shown() -> str:
        return "\n".join(line.rstrip() for line in screen.display)

    try:
        deadline = time.monotonic() + 30
        while not ("● connected" in shown() and "pending 4" in shown()):
            assert time.monotonic() < deadline, shown()
            try:
                stream.feed(child.read_nonblocking(65536, timeout=0.2))
            except pexpect.TIMEOUT:
                pass
        assert f"queue {env['DJ_QUEUE']}" in shown()
    finally:
        child.send("q")
        child.expect(pexpect.EOF, timeout=10)
        child.close(force=True)


def test_huey_class_path_is_read_as_ours_with_a_warning(project: Path, env: dict[str, str]) -> None:
    huey_env = dict(env, DJ_HUEY_CLASS="huey.RedisHuey")
    out = manage(project, huey_env, "check")
    assert "djhuey.W001" in out and "'engine.RedisHuey' is used" in out
    cls = shell(
        project,
        huey_env,
        "import json; from engine.contrib.djhuey import HUEY; "
        "print(json.dumps(type(HUEY).__module__))",
    )
    assert cls == "engine.api"
    assert "djhuey.W001" not in manage(project, env, "check")


@pytest.mark.parametrize(
    ("args", "extra", "said"),
    [
        (["-k", "greenlet"], {}, "worker type 'greenlet' is not offered: use -k thread"),
        ([], {"DJ_IMMEDIATE": "1"}, "set HUEY['immediate'] = False"),
        ([], {"DJ_HUEY_CLASS": "huey.contrib.sql_huey.SqlHuey"}, "has no counterpart"),
    ],
)
def test_run_huey_refuses_bad_setups_in_one_line(
    project: Path, env: dict[str, str], args: list[str], extra: dict[str, str], said: str
) -> None:
    out = subprocess.run(
        [sys.executable, "manage.py", "run_huey", *args],
        cwd=project,
        env=dict(env, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and said in out.stderr, out.stderr
