"""ruff over the whole tree and mypy --strict over engine and hueyctl, as part of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff() -> None:
    if shutil.which("ruff") is None and _run("ruff", "--version").returncode != 0:
        pytest.skip("ruff is not installed")
    out = _run("ruff", "check", "engine", "hueyctl", "tests")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_engine_and_hueyctl() -> None:
    if _run("mypy", "--version").returncode != 0:
        pytest.skip("mypy is not installed")
    out = _run("mypy", "--strict", "engine", "hueyctl")
    assert out.returncode == 0, out.stdout + out.stderr
