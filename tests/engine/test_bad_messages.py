"""Messages the worker cannot run (malformed, unknown, unsigned), and codecs end to end.

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.steps import (
    Point,
    drain,
    names,
    record_signals,
    step,
)

from engine import (
    SIGNAL_COMPLETE,
    SIGNAL_ERROR,
    MemoryHuey,
    TaskException,
)
from engine.api import Huey
from engine.envelope import Envelope
from engine.exceptions import CodecError
from engine.executor import REASON_MALFORMED, REASON_UNKNOWN
from engine.storage.base import Message, Storage, new_task_id
from engine.task import Task

# --- messages the worker cannot run ---------------------------------------------------


def _good_task(h: Huey) -> Callable[..., Any]:
    @h.task()
    def good(x: int) -> int:
        return x

    return good


def test_bad_json_is_dead_lettered_and_the_worker_goes_on(huey: Huey) -> None:
    good = _good_task(huey)
    bad_id = new_task_id()
    huey.storage.enqueue([Message(bad_id, b"{not json")])
    res = good(1)
    assert step(huey)
    (dead,) = huey.storage.dead_items()
    assert dead.id == bad_id and dead.reason == REASON_MALFORMED
    assert "not JSON" in dead.error
    assert step(huey)
    assert res() == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"[1, 2]",
        b'{"id": "x"}',
        b'{"id": "x", "task": "t", "args": {"$nope": 1}}',
        b'{"id": "x", "task": "t", "args": 5}',
        b"\xff\xfe",
        # wrongly typed options (issue 11, item 2): set aside at decode, never run
        b'{"id": "x", "task": "t", "args": [], "timeout": "soon"}',
        b'{"id": "x", "task": "t", "args": [], "expires": "never"}',
        b'{"id": "x", "task": "t", "args": [], "chord": "c"}',
        b'{"id": "x", "task": "t", "args": [], "retries": "3"}',
        b'{"id": "x", "task": "t", "args": [], "priority": 1.5}',
        b'{"id": "x", "task": "t", "args": [], "eta": {}}',
        # packed bodies of the wrong shape
        b'["t"]',
        b'["t", 5]',
        b'["t", [], "soon"]',
        b'["t", [], 1, {"timeout": "soon"}]',
        b'["t", [], 1, {"id": "y"}]',
        b'["t", [], 1, []]',
        b'[3, "t", []]',
    ],
)
def test_other_malformed_envelopes(mhuey: Huey, payload: bytes) -> None:
    @mhuey.task(name="t")
    def t() -> int:
        return 1

    bad_id = new_task_id()
    mhuey.storage.enqueue([Message(bad_id, payload)])
    assert step(mhuey)
    (dead,) = mhuey.storage.dead_items()
    assert dead.id == bad_id and dead.reason == REASON_MALFORMED


def test_envelope_without_id_is_dead_lettered(mhuey: Huey) -> None:
    good = _good_task(mhuey)
    bad_id = new_task_id()
    mhuey.storage.enqueue([Message(bad_id, b'{"task": "x", "args": [], "kwargs": {}}')])
    res = good(1)
    assert step(mhuey)
    (dead,) = mhuey.storage.dead_items()
    assert dead.id == bad_id and dead.reason == REASON_MALFORMED
    assert step(mhuey)
    assert res() == 1


def test_unknown_task_is_dead_lettered(huey: Huey) -> None:
    good = _good_task(huey)
    stray = Task(name="somewhere.else.task", args=(1,))
    huey.storage.enqueue([Message(stray.id, huey.envelope.encode(stray))])
    res = good(2)
    assert step(huey)
    (dead,) = huey.storage.dead_items()
    assert dead.id == stray.id and dead.reason == REASON_UNKNOWN
    assert "somewhere.else.task" in dead.error
    assert step(huey)
    assert res() == 2


def test_wrong_signature_is_dead_lettered(make_storage: Callable[..., Storage]) -> None:
    h = MemoryHuey("signed", signing_key=b"right key")
    h.storage = make_storage()
    good = _good_task(h)
    forged = good.s(666)
    wrong = Envelope(signing_key=b"wrong key").encode(forged)
    unsigned_task = good.s(667)
    unsigned = Envelope().encode(unsigned_task)
    moved = h.envelope.encode(good.s(668))  # signed right, stored under another id
    h.storage.enqueue(
        [
            Message(forged.id, wrong),
            Message(unsigned_task.id, unsigned),
            Message("moved-elsewhere", moved),
        ]
    )
    res = good(3)
    assert drain(h) == 4
    dead = {d.id: d.reason for d in h.storage.dead_items()}
    assert dead == {
        forged.id: REASON_MALFORMED,
        unsigned_task.id: REASON_MALFORMED,
        "moved-elsewhere": REASON_MALFORMED,
    }
    assert res() == 3


def test_signed_messages_round_trip(mhuey: Huey) -> None:
    h = MemoryHuey("signed-ok", signing_key="key")

    @h.task()
    def add(a: int, b: int) -> int:
        return a + b

    group = h.enqueue(add.s(1, 2).then(add, 3))
    drain(h)
    assert group.get() == [3, 6]


# --- codecs ---------------------------------------------------------------------------


def test_pickle_codec_round_trip(make_storage: Callable[..., Storage]) -> None:
    h = MemoryHuey("pickled", codec="pickle")
    h.storage = make_storage()

    @h.task()
    def move(p: Point, dx: int = 1) -> Point:
        return p.moved(dx)

    res = move(Point(1, 2), dx=5)
    group = h.enqueue(move.s(Point(0, 0)).then(move))
    drain(h)
    assert res() == Point(6, 2)
    assert group.get() == [Point(1, 0), Point(2, 0)]


def test_json_codec_rejects_unserializable_arguments(mhuey: Huey) -> None:
    @mhuey.task()
    def take(x: Any) -> None:
        return None

    with pytest.raises(CodecError):
        take(Point(1, 2))
    assert mhuey.pending_count() == 0


def test_json_codec_unserializable_return_value_is_an_error_result(huey: Huey) -> None:
    @huey.task()
    def odd() -> Any:
        return Point(1, 2)

    @huey.task()
    def one() -> int:
        return 1

    bad, good = odd(), one()
    sent = record_signals(huey, SIGNAL_ERROR, SIGNAL_COMPLETE)
    assert drain(huey) == 2
    with pytest.raises(TaskException) as info:
        bad()
    assert info.value.metadata["type"] == "CodecError"
    assert "Point" in info.value.error
    assert good() == 1
    assert names(sent) == [SIGNAL_ERROR, SIGNAL_COMPLETE]
    assert [d.id for d in huey.storage.dead_items()] == [bad.id]
