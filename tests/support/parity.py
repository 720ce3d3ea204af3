"""Helpers shared by the tests split out of test_huey_parity_src.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

hexc = pytest.importorskip("huey.exceptions")


ROOT = Path(__file__).resolve().parents[2]


def drain(h: Any, limit: int = 30, at: float = 0.0) -> int:
    """Run ready tasks (promoting due scheduled ones first) until none is left or
    ``limit`` have run; returns how many ran. ``at`` is an offset from now."""
    from engine.executor import Executor
    from engine.scheduler import Scheduler

    now = time.time() + at
    worker = Executor(h, "c1", clock=lambda: now)
    ran = 0
    Scheduler(h).step(now)
    while ran < limit and worker.step(now):
        ran += 1
        Scheduler(h).step(now)
    return ran
