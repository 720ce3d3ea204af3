"""``hueyctl worker``: bad input gives one line and the right exit code; overrides work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import SqliteHuey


def _run(cwd: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run(
        [sys.executable, "-m", "hueyctl", "worker", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope.huey"], 2, "cannot import 'nope': no such module"),
        (["app"], 2, "is not an import path: use module.attribute"),
        (["app.missing"], 2, "module 'app' has no attribute 'missing'"),
        (["app.value"], 2, "'app.value' is a int, not a Huey queue"),
        (["broken.huey"], 2, "importing 'broken' failed: ZeroDivisionError"),
        (["app.huey", "--heartbeat", "5", "--lease", "2"], 2, "--heartbeat must be shorter"),
        (["app.huey", "-w", "0"], 2, "0 is not in the range x>=1"),
        ([], 2, "give the APP to run"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    (tmp_path / "app.py").write_text(
        f"from engine import SqliteHuey\nhuey = SqliteHuey(filename={str(tmp_path / 'q.db')!r})\n"
        "value = 3\n"
    )
    (tmp_path / "broken.py").write_text("1 / 0\n")
    out = _run(tmp_path, *args)
    assert out.returncode == code
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_url_and_queue_override_the_app(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from engine import MemoryHuey\nhuey = MemoryHuey('app')\n"
        "@huey.task()\ndef add(a, b):\n    return a + b\n"
    )
    db = tmp_path / "other.db"
    other = SqliteHuey("other", filename=str(db))
    res = other.enqueue_by_name("app.add", args=(2, 3))
    out = _run(
        tmp_path, "app.huey", "--url", f"sqlite:///{db}", "--queue", "other", "--max-tasks", "1"
    )
    assert out.returncode == 0, out.stderr
    assert "queue 'other' on sqlite:///" in out.stderr
    assert "--url and --queue given: this worker does not use the app's own store" in out.stderr
    assert other.result(res.id, blocking=True, timeout=5) == 5


def test_the_environment_does_not_redirect_a_worker(tmp_path: Path) -> None:
    """HUEYCTL_URL/HUEYCTL_QUEUE exported for admin work: the worker still reads the
    store its app names, and says it ignored them (issue 13, item 11)."""
    db = tmp_path / "app.db"
    (tmp_path / "app.py").write_text(
        f"from engine import SqliteHuey\nhuey = SqliteHuey('app', filename={str(db)!r})\n"
        "@huey.task()\ndef add(a, b):\n    return a + b\n"
    )
    own = SqliteHuey("app", filename=str(db))
    res = own.enqueue_by_name("app.add", args=(2, 3))
    other = tmp_path / "other.db"
    SqliteHuey("elsewhere", filename=str(other)).pending_count()
    env = dict(
        os.environ,
        PYTHONPATH=str(tmp_path),
        HUEYCTL_URL=f"sqlite:///{other}",
        HUEYCTL_QUEUE="elsewhere",
    )
    out = subprocess.run(
        [sys.executable, "-m", "hueyctl", "-A", "app.huey", "worker", "--max-tasks", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert f"queue 'app' on sqlite:///{db}" in out.stderr
    assert "HUEYCTL_URL and HUEYCTL_QUEUE in the environment ignored" in out.stderr
    assert own.result(res.id, blocking=True, timeout=5) == 5
