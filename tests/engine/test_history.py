"""Finished records and attempt history, through the worker on every store.

A finished call leaves a record (name, args, runtime, worker, finish time) written in
its finish step; a failing call carries its attempts in its message; a dead letter is
kept as its retry will run, so an operator's retry gets the task's retries again.
"""

from __future__ import annotations

import time

from support.steps import drain

from engine.api import Huey
from engine.consumer import Consumer
from engine.envelope import readable
from engine.executor import Executor
from engine.inspect import Inspector
from engine.task import ATTEMPTS_KEPT

NOW = 1_700_000_000.0


def test_a_finished_call_can_be_shown(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(2, 3)
    Executor(huey, "w1", clock=lambda: NOW).step(NOW)
    info = Inspector(huey, clock=lambda: NOW + 5).finished(res.id)
    assert info is not None
    assert (info.state, info.name, info.args, info.worker) == ("finished", add.name, [2, 3], "w1")
    assert info.outcome == "complete" and info.finished_at == NOW
    assert info.runtime is not None and info.runtime >= 0
    assert [(a["n"], a["worker"], a["error"]) for a in info.attempts] == [(1, "w1", None)]
    assert res() == 5  # the result is as it was


def test_attempts_are_carried_by_retries_and_bounded(huey: Huey) -> None:
    @huey.task(retries=ATTEMPTS_KEPT + 2)
    def flaky(n: int) -> str:
        raise ValueError(f"no {n}")

    res = flaky(1)
    drain(huey, NOW)
    (dead,) = Inspector(huey).failed()
    assert len(dead.attempts) == ATTEMPTS_KEPT  # the newest ten of 13 attempts
    assert [a["n"] for a in dead.attempts] == list(range(4, 14))
    assert dead.attempts[-1]["error"] == "ValueError('no 1')"
    # Kept for a retry: attempt 13 ran last, and a retry gets the task's retries again.
    assert (dead.attempt, dead.retries) == (13, ATTEMPTS_KEPT + 2)
    assert huey.storage.finished(res.id) is None


def test_a_retried_dead_letter_gets_its_retries_again(huey: Huey) -> None:
    runs: list[int] = []

    @huey.task(retries=2)
    def fails() -> None:
        runs.append(1)
        raise RuntimeError("down")

    res = fails()
    drain(huey, NOW)
    assert len(runs) == 3
    assert huey.retry_failed(res.id)
    drain(huey, NOW)
    assert len(runs) == 6  # three more runs: the retry had its two retries again
    (dead,) = Inspector(huey).failed()
    assert [a["n"] for a in dead.attempts] == [1, 2, 3, 4, 5, 6]
    events = [(e.event, e.worker) for e in Inspector(huey).events() if e.task_id == res.id]
    assert ("retried", "operator") in events


def test_a_call_that_succeeds_after_failing_shows_its_attempts(huey: Huey) -> None:
    @huey.task(retries=1)
    def second_time(state: list[int] = []) -> str:  # noqa: B006 - counts the runs
        state.append(1)
        if len(state) == 1:
            raise ValueError("first")
        return "ok"

    res = second_time()
    drain(huey, NOW)
    info = Inspector(huey).finished(res.id)
    assert info is not None and info.outcome == "complete"
    assert [(a["n"], a["error"]) for a in info.attempts] == [(1, "ValueError('first')"), (2, None)]


def test_results_ttl_bounds_the_record(huey: Huey) -> None:
    huey.result_ttl = 60.0

    @huey.task()
    def one() -> int:
        return 1

    res = one()
    Executor(huey, "w1", clock=lambda: NOW).step(NOW)
    assert Inspector(huey, clock=lambda: NOW + 59).finished(res.id) is not None
    assert Inspector(huey, clock=lambda: NOW + 61).finished(res.id) is None


def test_no_results_still_keeps_the_record(mhuey: Huey) -> None:
    mhuey.results = False

    @mhuey.task()
    def one() -> int:
        return 1

    call = one.s()
    mhuey.enqueue(call)
    drain(mhuey, NOW)
    info = Inspector(mhuey).finished(call.id)
    assert info is not None and info.outcome == "complete"
    assert Inspector(mhuey).result(call.id) is None


def test_the_dead_event_is_written_by_the_consumer(mhuey: Huey) -> None:
    @mhuey.task()
    def boom() -> None:
        raise KeyError("k")

    res = boom()
    consumer = Consumer(mhuey, consumer_id="c-dead")
    consumer.executor.step(time.time())
    consumer.telemetry.flush()
    events = [e for e in Inspector(mhuey).events() if e.task_id == res.id]
    assert [e.event for e in events][-1] == "dead"
    assert events[-1].error is not None and "KeyError" in events[-1].error
    [dead] = mhuey.storage.dead_items()
    assert readable(dead.data, dead.id)["history"][0]["n"] == 1
