"""Results through the facade: stored, read, preserved, expiring and blocking.

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import datetime as dt
import time
import types
from typing import Any

import pytest
from support.steps import (
    UTC,
    drain,
    step,
)

from engine import (
    MemoryHuey,
    Result,
    ResultTimeout,
)
from engine.api import Huey
from engine.envelope import readable

# --- results --------------------------------------------------------------------------


def test_enqueue_step_result(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(1, 2)
    assert isinstance(res, Result)
    assert res() is None and not res.is_ready()
    assert huey.pending_count() == 1
    assert step(huey)
    assert huey.pending_count() == 0
    assert res.is_ready()
    assert res() == 3
    assert not step(huey)


def test_result_blocking_get_when_ready(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(2, 3)
    drain(huey)
    assert res.get(blocking=True, timeout=1) == 5


def test_blocking_get_times_out_and_can_revoke(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(2, 3)
    with pytest.raises(ResultTimeout):
        res.get(blocking=True, timeout=0)
    with pytest.raises(ResultTimeout):
        res.get(blocking=True, timeout=0, revoke_on_timeout=True)
    assert res.is_revoked()
    drain(huey)
    assert res() is None


def test_result_read_is_destructive_but_cached(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(1, 1)
    drain(huey)
    assert res() == 2
    # Gone from the store, but the handle keeps it.
    assert huey.result(res.id) is None
    assert huey.result_count() == 0
    assert res() == 2
    assert res.is_ready()
    res.reset()
    assert not res.is_ready()
    assert res() is None


def test_result_preserve_keeps_it_in_the_store(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(4, 4)
    drain(huey)
    assert res.get(preserve=True) == 8
    res.reset()
    assert res.is_ready()
    assert res(preserve=True) == 8
    assert huey.result(res.id, preserve=True) == 8
    assert huey.result(res.id) == 8  # destructive now
    assert huey.result(res.id) is None


def test_result_values_round_trip_through_the_codec(huey: Huey) -> None:
    @huey.task()
    def echo(value: Any) -> Any:
        return value

    value = {"t": (1, 2), "when": dt.datetime(2030, 1, 2, 3, 4, tzinfo=UTC), "s": {1, 2}}
    res = echo(value)
    drain(huey)
    assert res() == value


def test_none_is_not_stored_by_default(huey: Huey) -> None:
    @huey.task()
    def nothing() -> None:
        return None

    res = nothing()
    drain(huey)
    assert not res.is_ready()
    assert huey.result_count() == 0
    assert res() is None


def test_store_none(huey: Huey) -> None:
    huey.store_none = True

    @huey.task()
    def nothing() -> None:
        return None

    res = nothing()
    drain(huey)
    assert res.is_ready()
    assert huey.result_count() == 1
    assert res() is None
    assert huey.result_count() == 0


@pytest.mark.parametrize("option", [{"results": False}, {"result_store": False}])
def test_results_disabled(option: dict[str, bool]) -> None:
    h = MemoryHuey("no-results", **option)
    assert h.results is False

    @h.task()
    def add(a: int, b: int) -> int:
        return a + b

    @h.task()
    def boom() -> None:
        raise ValueError("boom")

    assert add(1, 2) is None and boom() is None  # as huey: no handles
    drain(h)
    assert h.result_count() == 0  # no error result either...
    [dead] = h.storage.dead_items()  # ...but the dead letter stays
    assert readable(dead.data, dead.id)["task"] == boom.name


def test_result_ttl_is_passed_to_the_store(mhuey: Huey, monkeypatch: pytest.MonkeyPatch) -> None:
    mhuey.result_ttl = 60

    @mhuey.task()
    def one() -> int:
        return 1

    res = one()
    drain(mhuey)
    assert res.is_ready()
    fake = types.SimpleNamespace(time=lambda: time.time() + 61)
    monkeypatch.setattr("engine.storage.memory.time", fake)
    assert not res.is_ready()
