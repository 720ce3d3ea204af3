"""Immediate mode and the facade's small helpers.

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import pytest
from support.steps import (
    drain,
)

from engine import (
    MemoryHuey,
    TaskException,
)
from engine.api import Huey
from engine.storage.memory import MemoryStorage

# --- immediate mode -------------------------------------------------------------------


def test_immediate_mode_runs_tasks_at_once(mhuey: Huey) -> None:
    mhuey.immediate = True
    assert isinstance(mhuey.storage, MemoryStorage)

    @mhuey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @mhuey.task()
    def boom() -> None:
        raise ValueError("immediate")

    assert add(1, 2)() == 3
    assert huey_counts_empty(mhuey)
    with pytest.raises(TaskException):
        boom()()
    assert mhuey.enqueue(add.s(1, 2).then(add, 10)).get() == [3, 13]
    assert add.map([(1, 1), (2, 2)]).get() == [2, 4]

    res = add.schedule((5, 5), delay=60)
    assert res() is None
    assert mhuey.scheduled_count() == 1 and mhuey.pending_count() == 0


def huey_counts_empty(h: Huey) -> bool:
    c = h.storage.counts()
    return c.ready == c.scheduled == c.running == 0


def test_immediate_mode_swaps_in_a_memory_store(huey: Huey) -> None:
    live = huey.storage

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    huey.immediate = True
    assert huey.storage is not live and isinstance(huey.storage, MemoryStorage)
    assert add(2, 2)() == 4
    assert live.counts().ready == 0 and live.keys("") == []
    huey.immediate = False
    assert huey.storage is live
    res = add(3, 3)
    assert live.counts().ready == 1
    drain(huey)
    assert res() == 6


def test_immediate_on_construction() -> None:
    h = MemoryHuey("imm", immediate=True)
    assert h.immediate

    @h.task()
    def one() -> int:
        return 1

    assert one()() == 1


# --- small facade helpers -------------------------------------------------------------


def test_inspection_helpers(huey: Huey) -> None:
    @huey.task(priority=5)
    def hi() -> int:
        return 1

    @huey.task()
    def lo() -> int:
        return 2

    r_lo, r_hi = lo(), hi()
    assert len(huey) == 2
    assert [t.id for t in huey.pending()] == [r_hi.id, r_lo.id]  # priority first
    assert huey.pending(limit=1)[0].id == r_hi.id
    assert repr(huey).startswith("<MemoryHuey 'test-engine' on ")
    huey.flush()
    assert len(huey) == 0
