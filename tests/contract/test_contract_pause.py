"""The storage contract of pausing (engine/storage/base.py): the pause map read by the
claim round, and parking the calls of a paused task name. Runs once per backend."""

from __future__ import annotations

import json

from support.contract import LEASE, NOW, counts, new_ids

from engine.storage.base import QUEUE_PAUSED, Message, Storage, pause_in_force

PAUSES = "pauses"


def _record(until: float | None = None) -> bytes:
    return json.dumps({"who": "ops@box", "at": NOW, "until": until}).encode()


def test_round_claims_nothing_while_the_queue_is_paused(storage: Storage) -> None:
    ids = new_ids(3)
    storage.enqueue([Message(i, b"x") for i in ids])
    storage.map_set(PAUSES, QUEUE_PAUSED, _record())
    rnd = storage.claim_round("c1", NOW, 5, LEASE, "revoke:version", PAUSES)
    assert rnd.claimed == []
    assert rnd.pauses == {QUEUE_PAUSED: _record()}
    assert storage.counts() == counts(ready=3)
    storage.map_delete(PAUSES, QUEUE_PAUSED)
    rnd = storage.claim_round("c1", NOW, 5, LEASE, "revoke:version", PAUSES)
    assert [c.id for c in rnd.claimed] == ids
    assert rnd.pauses == {}


def test_round_promotes_while_paused(storage: Storage) -> None:
    (task_id,) = new_ids(1)
    storage.schedule([(Message(task_id, b"x"), NOW - 1)])
    storage.map_set(PAUSES, QUEUE_PAUSED, _record())
    rnd = storage.claim_round("c1", NOW, 5, LEASE, "revoke:version", PAUSES)
    assert rnd.claimed == []
    assert storage.counts() == counts(ready=1)


def test_a_pause_with_until_lapses_at_that_time(storage: Storage) -> None:
    ids = new_ids(2)
    storage.enqueue([Message(i, b"x") for i in ids])
    storage.map_set(PAUSES, QUEUE_PAUSED, _record(until=NOW + 2))
    assert storage.claim_round("c1", NOW + 1.9, 5, LEASE, "revoke:version", PAUSES).claimed == []
    rnd = storage.claim_round("c1", NOW + 2, 5, LEASE, "revoke:version", PAUSES)
    assert [c.id for c in rnd.claimed] == ids


def test_an_unreadable_pause_holds(storage: Storage) -> None:
    storage.enqueue([Message(new_ids(1)[0], b"x")])
    storage.map_set(PAUSES, QUEUE_PAUSED, b"{not json")
    assert storage.claim_round("c1", NOW, 5, LEASE, "revoke:version", PAUSES).claimed == []
    assert pause_in_force(b"{not json", NOW)
    assert not pause_in_force(None, NOW)


def test_a_task_pause_does_not_stop_the_round(storage: Storage) -> None:
    ids = new_ids(2)
    storage.enqueue([Message(i, b"x") for i in ids])
    storage.map_set(PAUSES, "app.slow", _record())
    rnd = storage.claim_round("c1", NOW, 5, LEASE, "revoke:version", PAUSES)
    assert [c.id for c in rnd.claimed] == ids
    assert set(rnd.pauses) == {"app.slow"}


def test_park_and_unpark_keep_order_and_deliveries(storage: Storage) -> None:
    ids = new_ids(5)
    storage.enqueue([Message(i, b"%d" % n) for n, i in enumerate(ids)])
    storage.map_set(PAUSES, "app.slow", _record())
    claimed = storage.claim("c1", NOW, 5, LEASE)
    assert len(claimed) == 5
    assert storage.park("c1", "app.slow", [ids[0], ids[2]], PAUSES) == [ids[0], ids[2]]
    assert storage.park("c1", "app.slow", [ids[4]], PAUSES) == [ids[4]]
    assert storage.parked("app.slow") == 3
    assert storage.counts() == counts(running=2)
    located = storage.locate(ids[2])
    assert located is not None and located.state == "parked" and located.data == b"2"
    # Another consumer's task, or one not running, is not parked.
    assert storage.park("c2", "app.slow", [ids[1]], PAUSES) == []
    assert storage.unpark("app.slow", PAUSES) == 3
    assert storage.map_items(PAUSES) == {}
    assert storage.parked("app.slow") == 0
    assert [m.id for m in storage.ready_items()] == [ids[0], ids[2], ids[4]]
    again = storage.claim("c1", NOW, 5, LEASE)
    assert [(c.id, c.deliveries) for c in again] == [(ids[0], 1), (ids[2], 1), (ids[4], 1)]


def test_park_after_resume_hands_back(storage: Storage) -> None:
    ids = new_ids(2)
    storage.enqueue([Message(i, b"x") for i in ids])
    storage.claim("c1", NOW, 2, LEASE)
    assert storage.park("c1", "app.slow", ids, PAUSES) == []  # not paused (any more)
    assert storage.counts() == counts(ready=2)
    assert [c.deliveries for c in storage.claim("c1", NOW, 2, LEASE)] == [1, 1]


def test_unpark_with_record_only_if_it_still_holds(storage: Storage) -> None:
    ids = new_ids(1)
    storage.enqueue([Message(ids[0], b"x")])
    storage.map_set(PAUSES, "app.slow", _record(until=NOW))
    storage.claim("c1", NOW, 1, LEASE)
    assert storage.park("c1", "app.slow", ids, PAUSES) == ids
    assert storage.unpark("app.slow", PAUSES, _record(until=NOW + 5)) is None
    assert storage.parked("app.slow") == 1
    assert storage.unpark("app.slow", PAUSES, _record(until=NOW)) == 1
    assert storage.unpark("app.slow", PAUSES, _record(until=NOW)) is None
    assert storage.counts() == counts(ready=1)


def test_a_parked_call_deleted_is_skipped_by_unpark(storage: Storage) -> None:
    ids = new_ids(2)
    storage.enqueue([Message(i, b"x") for i in ids])
    storage.map_set(PAUSES, "app.slow", _record())
    storage.claim("c1", NOW, 2, LEASE)
    storage.park("c1", "app.slow", ids, PAUSES)
    assert storage.remove(ids[0])
    assert storage.unpark("app.slow", PAUSES) == 1
    assert [m.id for m in storage.ready_items()] == [ids[1]]
