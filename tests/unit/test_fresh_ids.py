"""Which messages are ``fresh`` (Message.fresh): an id made for the call and never
given to a store, the only ones a store may write without its checks for an id
already there (the Redis store's MULTI/EXEC enqueue)."""

from __future__ import annotations

import time
from dataclasses import replace

from engine import BlackHoleHuey
from engine.task import Task

huey = BlackHoleHuey("fresh")


@huey.task()
def noop(i: int) -> None:
    pass


def test_a_new_call_is_fresh_once() -> None:
    task = noop.s(1)
    first = huey.prepare(task, time.time())
    again = huey.prepare(task, time.time())
    assert first.fresh and not again.fresh
    assert first.id == again.id


def test_an_id_the_caller_chose_is_not_fresh() -> None:
    assert not huey.prepare(noop.s(1, id="mine"), time.time()).fresh
    task = noop.s(2)
    task.id = "set-later"
    assert not huey.prepare(task, time.time()).fresh


def test_copies_are_not_fresh_and_a_new_id_is() -> None:
    task = noop.s(1)
    assert not replace(task).take_fresh()  # same id as the original: never fresh
    assert task.with_new_id().take_fresh()
    assert task.take_fresh()  # the original still is (once)


def test_decoded_and_hand_made_tasks_are_not_fresh() -> None:
    task = noop.s(1)
    body = huey.envelope.encode(task)
    assert not huey.envelope.decode(body, task.id).take_fresh()
    assert not Task("noop").take_fresh()  # no call was minted here


def test_a_scheduled_call_spends_its_freshness() -> None:
    task = noop.s(1, delay=60)
    huey.prepare(task, time.time())
    assert not task.take_fresh()


def test_enqueue_by_name_mints_its_id() -> None:
    stored = []
    real = huey.storage.enqueue
    huey.storage.enqueue = lambda msgs: stored.extend(msgs)  # type: ignore[method-assign]
    try:
        huey.enqueue_by_name("unknown.task", [1])
        huey.enqueue_by_name("noop", [1])
    finally:
        huey.storage.enqueue = real  # type: ignore[method-assign]
    assert [m.fresh for m in stored] == [True, True]
