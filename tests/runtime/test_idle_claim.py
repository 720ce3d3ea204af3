"""A thread consumer with nothing to do waits for new work on an idle worker thread
(``Consumer.loop``): the thread that reads the claim runs the first task itself, so
a task landing on an idle consumer starts without a thread handoff. Checked on every
backend with a real consumer and its threads, on the wall clock (polling with a
deadline)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.api import Huey
from engine.consumer import Consumer


def _wait_for(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def rounds(huey: Huey) -> Iterator[list[tuple[str, list[str]]]]:
    """Each blocking round as (the thread that ran it, the ids it claimed)."""
    seen: list[tuple[str, list[str]]] = []
    storage = huey.storage
    original = storage.wait_and_claim_round

    def recorded(*args: Any, **kwargs: Any) -> Any:
        rnd = original(*args, **kwargs)
        seen.append((threading.current_thread().name, [c.id for c in rnd.claimed]))
        return rnd

    storage.wait_and_claim_round = recorded  # type: ignore[method-assign]
    yield seen


def _start(consumer: Consumer) -> threading.Thread:
    runner = threading.Thread(target=consumer.run, name="dispatcher")
    runner.start()
    return runner


def test_new_work_runs_on_the_thread_that_claimed_it(
    huey: Huey, rounds: list[tuple[str, list[str]]]
) -> None:
    release = threading.Event()

    @huey.task()
    def where(hold: bool) -> str:
        if hold:
            release.wait(10)
        return threading.current_thread().name

    def claimed_by(task_id: str) -> list[str]:
        return [name for name, ids in rounds if task_id in ids]

    def check(calls: int) -> None:
        """Calls made one at a time: each one a waiting round claimed ran on the thread
        of that round (a call landing between rounds, e.g. at a minute's turn when the
        periodic check runs, is claimed by a round that does not wait: not counted)."""
        waited = 0
        for _ in range(calls):
            res = where(False)
            ran_on = res.get(blocking=True, timeout=10)
            assert ran_on.startswith("worker-")
            if claimed_by(res.id):
                assert claimed_by(res.id) == [ran_on]
                waited += 1
        assert waited >= calls - 1

    consumer = Consumer(huey, workers=2, heartbeat_interval=0.05, shutdown_timeout=5)
    runner = _start(consumer)
    try:
        _wait_for(lambda: rounds)  # idle: a round waits for new work
        check(4)
        # One thread held by a long task: the other still waits for new work, and runs
        # what it claims.
        held = where(True)
        _wait_for(lambda: held.id in huey.in_flight)
        check(4)
        assert held.id in huey.in_flight  # (still running on the other thread)
        release.set()
        assert held.get(blocking=True, timeout=10).startswith("worker-")
    finally:
        release.set()
        consumer.stop()
        runner.join(10)
    assert not runner.is_alive()


def test_stopping_while_a_worker_waits_for_work_loses_nothing(
    huey: Huey, rounds: list[tuple[str, list[str]]]
) -> None:
    @huey.task()
    def noop(i: int) -> int:
        return i

    consumer = Consumer(huey, workers=2, heartbeat_interval=0.05, shutdown_timeout=5)
    runner = _start(consumer)
    _wait_for(lambda: rounds)
    consumer.stop()
    results = [noop(i) for i in range(3)]  # may land in the round still waiting
    runner.join(10)
    assert not runner.is_alive()
    # Whatever that last round claimed was handed back, not started: nothing is left
    # running under the stopped consumer, and each call either ran or waits.
    counts = huey.storage.counts()
    assert counts.running == 0
    ran = sum(r.get() is not None for r in results)
    assert counts.ready + ran == 3
