"""Task locks, rate limits and the key/value space (put/get).

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable

import pytest
from support.steps import (
    names,
    record_signals,
    step,
)

from engine import (
    SIGNAL_ERROR,
    SIGNAL_LOCKED,
    SIGNAL_RETRYING,
    MemoryHuey,
    TaskException,
    TaskLockedException,
)
from engine.api import Huey
from engine.storage.base import Storage

# --- locks ----------------------------------------------------------------------------


def test_lock_task_as_context_manager(huey: Huey) -> None:
    with huey.lock_task("ctx") as lock:
        assert huey.is_locked("ctx") and lock.is_locked()
        with pytest.raises(TaskLockedException):
            with huey.lock_task("ctx"):
                pass  # pragma: no cover
        with pytest.raises(TaskLockedException):
            with lock:  # the same object cannot take it twice either
                pass  # pragma: no cover
        assert huey.is_locked("ctx")
    assert not huey.is_locked("ctx")


def test_lock_is_released_when_the_body_raises(huey: Huey) -> None:
    with pytest.raises(KeyError):
        with huey.lock_task("raising"):
            raise KeyError("x")
    assert not huey.is_locked("raising")


def test_lock_task_as_decorator(huey: Huey) -> None:
    seen: list[bool] = []

    @huey.lock_task("deco")
    def guarded(x: int) -> int:
        seen.append(huey.is_locked("deco"))
        return x

    assert guarded.__name__ == "guarded"
    assert guarded(3) == 3
    assert seen == [True]
    assert not huey.is_locked("deco")
    with huey.lock_task("deco"):
        with pytest.raises(TaskLockedException):
            guarded(4)


def test_stale_holder_does_not_release_a_lock_taken_since(huey: Huey) -> None:
    first = huey.lock_task("shared")
    second = huey.lock_task("shared")
    assert first.acquire()
    assert not second.acquire()
    assert huey.flush_locks("shared") == {"shared"}  # e.g. an operator, or the TTL
    assert second.acquire()
    assert not first.release()  # its token is not the one in the store
    assert huey.is_locked("shared")
    assert second.release()
    assert not huey.is_locked("shared")
    assert not second.release()


def test_stale_holder_after_lock_ttl_lapsed(mhuey: Huey, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [time.time()]
    monkeypatch.setattr("engine.storage.memory.time", types.SimpleNamespace(time=lambda: clock[0]))
    first = mhuey.lock_task("ttl", ttl=30)
    second = mhuey.lock_task("ttl", ttl=30)
    with first:
        assert not second.acquire()
        clock[0] += 31  # first's lock expired while it was still working
        assert not mhuey.is_locked("ttl")
        assert second.acquire()
    # first left its with-block: second's lock must survive.
    assert mhuey.is_locked("ttl")
    assert second.release()


def test_task_hitting_a_held_lock_is_retried(huey: Huey) -> None:
    @huey.task(retries=1)
    @huey.lock_task("busy")
    def guarded() -> str:
        return "ran"

    sent = record_signals(huey, SIGNAL_LOCKED, SIGNAL_ERROR, SIGNAL_RETRYING)
    res = guarded()
    with huey.lock_task("busy"):
        assert step(huey)
    assert names(sent) == [SIGNAL_LOCKED, SIGNAL_RETRYING]
    assert sent[0][1].id == res.id
    assert res() is None
    assert huey.pending_count() == 1
    assert step(huey)
    assert res() == "ran"
    assert huey.storage.counts().dead == 0


def test_task_hitting_a_held_lock_without_retries(huey: Huey) -> None:
    @huey.task()
    @huey.lock_task("busy2")
    def guarded() -> str:
        return "ran"

    sent = record_signals(huey, SIGNAL_LOCKED, SIGNAL_ERROR)
    res = guarded()
    with huey.lock_task("busy2"):
        assert step(huey)
    assert names(sent) == [SIGNAL_LOCKED]
    with pytest.raises(TaskException) as info:
        res()
    assert info.value.metadata["type"] == "TaskLockedException"
    assert huey.storage.counts().dead == 0  # not dead-lettered: it was not a failure


def test_flush_locks_and_is_locked(huey: Huey) -> None:
    for name in ("a", "b", "c"):
        assert huey.lock_task(name).acquire()
    assert all(huey.is_locked(n) for n in "abc")
    assert huey.flush_locks("a", "missing") == {"a"}
    assert not huey.is_locked("a") and huey.is_locked("b")
    assert huey.flush_locks() == {"b", "c"}
    assert not any(huey.is_locked(n) for n in "abc")
    assert huey.flush_locks() == set()


def test_lock_clear(huey: Huey) -> None:
    lock = huey.lock_task("clear")
    assert lock.acquire()
    assert lock.clear()
    assert not lock.is_locked()


def test_decorated_lock_follows_the_queue_into_immediate_mode(
    make_storage: Callable[..., Storage],
) -> None:
    h = MemoryHuey("lock-immediate")
    live = make_storage()
    h.storage = live
    seen: list[bool] = []

    @h.task()
    @h.lock_task("imm")
    def guarded() -> int:
        seen.append(h.is_locked("imm"))
        return 1

    h.immediate = True
    assert guarded()() == 1
    assert live.keys("") == []  # nothing written to the live store
    assert seen == [True]


# --- key/value ------------------------------------------------------------------------


def test_put_get_delete(huey: Huey) -> None:
    huey.put("k", {"a": [1, 2], "t": (1,)})
    assert huey.get("k", peek=True) == {"a": [1, 2], "t": (1,)}
    assert huey.get("k", peek=True) == {"a": [1, 2], "t": (1,)}
    assert huey.get("k") == {"a": [1, 2], "t": (1,)}
    assert huey.get("k") is None

    huey.put("d", 1)
    assert huey.delete("d")
    assert not huey.delete("d")
    assert huey.get("d") is None

    assert huey.put_if_empty("once", "first")
    assert not huey.put_if_empty("once", "second")
    assert huey.get("once") == "first"
    assert huey.put_if_empty("once", "third")

    huey.put("none", None)
    assert huey.get("none", peek=True) is None
    assert huey.result_count() == 2
    huey.put_result("pr", 5)
    assert huey.all_results()["pr"] == {"value": 5}
