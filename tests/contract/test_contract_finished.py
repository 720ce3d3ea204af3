"""The storage contract: finished records and the dead letter's own body.

A finish whose outcome carries ``finished`` keeps that record under the task id, in the
same step, among at least the newest ``finished_cap`` (at most about twice as many); a
finish with ``dead`` and ``dead_data`` keeps the dead letter as ``dead_data``. Runs on
every backend through the ``storage`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from support.contract import LEASE, NOW, new_ids

from engine.storage.base import (
    FINISHED_BODY_MAX,
    Message,
    Outcome,
    Storage,
    finished_record,
)


def _finish(storage: Storage, task_id: str, data: bytes, outcome: Outcome) -> None:
    storage.enqueue([Message(task_id, data)])
    assert [c.id for c in storage.claim("c1", NOW, 1, LEASE)] == [task_id]
    assert storage.finish("c1", task_id, NOW + 1, outcome) is None


def test_finish_keeps_the_record(storage: Storage) -> None:
    (a, b) = new_ids(2)
    record = finished_record(b'{"state":"complete"}', b'{"task":"t"}')
    _finish(storage, a, b'{"task":"t"}', Outcome(finished=record))
    _finish(storage, b, b"plain", Outcome())  # no record given: none kept
    assert storage.finished(a) == b'{"state":"complete"}\n{"task":"t"}'
    assert storage.finished(b) is None
    assert storage.locate(a) is None  # finished means gone from the queue


def test_a_big_message_is_not_copied() -> None:
    assert finished_record(b"{}", b"x" * (FINISHED_BODY_MAX + 1)) == b"{}\n"
    assert finished_record(b"{}", b"x" * FINISHED_BODY_MAX).endswith(b"x")


def test_a_refused_finish_keeps_no_record(storage: Storage) -> None:
    (a,) = new_ids(1)
    storage.enqueue([Message(a, b"m")])
    storage.claim("c1", NOW, 1, LEASE)
    assert storage.finish("c2", a, NOW, Outcome(finished=b"{}")) is not None
    assert storage.finished(a) is None


def test_a_retry_or_dead_letter_keeps_no_record(storage: Storage) -> None:
    a, b = new_ids(2)
    _finish(storage, a, b"m", Outcome(enqueue=[Message(a, b"m2")], finished=None))
    assert storage.finished(a) is None
    assert storage.ready_items() == [Message(a, b"m2")]
    storage.flush("ready")
    _finish(storage, b, b"m", Outcome(dead=("failed", "boom"), finished=b"{}"))
    assert storage.finished(b) is None  # a dead letter is its own record


def test_dead_data_replaces_the_dead_letter_body(storage: Storage) -> None:
    a, b = new_ids(2)
    _finish(storage, a, b"claimed", Outcome(dead=("failed", "boom"), dead_data=b"as retried"))
    _finish(storage, b, b"claimed", Outcome(dead=("failed", "boom")))
    bodies = {d.id: d.data for d in storage.dead_items()}
    assert bodies == {a: b"as retried", b: b"claimed"}
    assert storage.retry_dead(a)
    assert storage.ready_items() == [Message(a, b"as retried")]


def test_finished_records_keep_at_least_the_newest_cap(storage: Storage) -> None:
    storage.finished_cap = cap = 8
    ids = new_ids(5 * cap + 3)
    for n, task_id in enumerate(ids):
        _finish(storage, task_id, b"m", Outcome(finished=str(n).encode()))
        kept = [i for i in ids[: n + 1] if storage.finished(i) is not None]
        assert kept[-cap:] == ids[max(0, n + 1 - cap) : n + 1]  # the newest cap stay
        assert len(kept) <= 2 * cap  # and at most twice as many
    assert storage.finished(ids[-1]) == str(len(ids) - 1).encode()
    assert storage.finished(ids[0]) is None


def test_destroy_drops_finished_records(storage: Storage) -> None:
    (a,) = new_ids(1)
    _finish(storage, a, b"m", Outcome(finished=b"{}"))
    storage.destroy()
    assert storage.finished(a) is None


def test_a_finished_id_is_found_by_its_end(storage: Storage) -> None:
    a, b = new_ids(2)
    _finish(storage, a, b"m", Outcome(finished=b"{}"))
    _finish(storage, b, b"m", Outcome())  # no record: not found
    assert storage.ids_ending(a[-6:]) == [a]
    assert storage.ids_ending(b[-6:]) == []
