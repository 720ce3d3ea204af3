"""``hueyctl demo`` as a newcomer runs it: each run on a new store, and on the way out
the exact command that looks at that store again (run here verbatim)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _demo(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    env = dict(env or os.environ, TMPDIR=str(tmp_path))
    env.pop("HUEYCTL_DEMO_DB", None)
    done = subprocess.run(
        [sys.executable, "-m", "hueyctl", "demo", "--no-top", "--duration", "1", *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert "add(20, 22) -> 42" in done.stdout
    return done.stderr


def _store(stderr: str) -> str:
    found = re.search(r"its store stays at (\S+)\. Look again with:\n  (.+)\n", stderr)
    assert found, stderr
    return found.group(1)


def test_each_run_has_its_own_store_and_says_how_to_look_again(tmp_path: Path) -> None:
    first, second = _demo(tmp_path), _demo(tmp_path)
    assert _store(first) != _store(second)
    assert all(Path(_store(s)).is_file() for s in (first, second))
    command = re.search(r"Look again with:\n  (.+)\n", second)
    assert command and "status --app hueyctl.demo_app.huey" in command.group(1)
    # The hint runs verbatim in a shell (hueyctl from this interpreter's bin on PATH).
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("HUEYCTL_DEMO_DB", None)
    looked = subprocess.run(
        ["bash", "-c", command.group(1)], env=env, capture_output=True, text=True, timeout=60
    )
    assert looked.returncode == 0, looked.stderr
    assert f"demo on sqlite:///{_store(second)}" in looked.stdout


def test_db_names_the_store_to_reuse(tmp_path: Path) -> None:
    db = tmp_path / "mine.db"
    assert _store(_demo(tmp_path, "--db", str(db))) == str(db)
    assert _store(_demo(tmp_path, "--db", str(db))) == str(db)
