"""The storage contract (``engine/storage/base.py``), run against every backend.

``memory.py`` is the reference; each test here runs once per backend through the
``storage`` fixture (tests/conftest.py). Times are explicit ``now`` values, never
the clock, except for key/value TTLs, which expire on the store's own clock
(polled with a short deadline).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from engine.exceptions import ConfigurationError
from engine.storage.base import (
    LEASE_LOST,
    NOT_OWNER,
    NOT_RUNNING,
    Claimed,
    Counts,
    Located,
    Message,
    Outcome,
    Running,
    Storage,
    new_task_id,
)

NOW = 1_700_000_000.0
LEASE = 30.0

PAYLOADS = [
    b"",
    b"\x00",
    b"\xff\xfe\x80\x00\x01",
    bytes(range(256)),
    "caf\u00e9 \u2603".encode("latin-1", "replace"),
    "caf\u00e9 \u2603".encode(),
    b"a|b\nc\r\n\\0",
]


def new_ids(n: int) -> list[str]:
    """``n`` fresh ids in creation order (time-ordered, so also sorted)."""
    ids = [new_task_id(time.time() + i / 1000) for i in range(n)]
    assert ids == sorted(ids)
    return ids


def counts(ready: int = 0, scheduled: int = 0, running: int = 0, dead: int = 0) -> Counts:
    return Counts(ready=ready, scheduled=scheduled, running=running, dead=dead)


def eventually(predicate: Callable[[], bool], timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def run_one(storage: Storage, data: bytes = b"x", priority: int = 0, consumer: str = "c1") -> str:
    """Enqueue one message and claim it for ``consumer`` at NOW; return its id."""
    (task_id,) = new_ids(1)
    storage.enqueue([Message(task_id, data, priority)])
    claimed = storage.claim(consumer, NOW, 1, LEASE)
    assert [c.id for c in claimed] == [task_id]
    return task_id


def kill(storage: Storage, task_id: str, consumer: str, at: float, reason: str = "error") -> None:
    assert storage.finish(consumer, task_id, at, Outcome(dead=(reason, f"boom {at}"))) is None


# --- enqueue and claim ----------------------------------------------------------------


def test_empty_store(storage: Storage) -> None:
    assert storage.counts() == counts()
    assert storage.ready_items() == []
    assert storage.scheduled_items() == []
    assert storage.running_items() == []
    assert storage.dead_items() == []
    assert storage.next_eta() is None
    assert storage.promote(NOW) == []
    assert storage.claim("c1", NOW, 10, LEASE) == []
    assert storage.locate(new_task_id()) is None


def test_claim_order_is_priority_then_fifo_by_id(storage: Storage) -> None:
    ids = new_ids(7)
    prios = [0, 5, 0, 5, -1, 0, 9]
    pairs = enumerate(zip(ids, prios, strict=True))
    msgs = [Message(i, f"m{n}".encode(), p) for n, (i, p) in pairs]
    # Insertion order is scrambled: FIFO is by id, not by arrival.
    storage.enqueue([msgs[5], msgs[2]])
    storage.enqueue([msgs[4], msgs[3], msgs[0], msgs[6], msgs[1]])
    assert storage.counts() == counts(ready=7)

    expected = [msgs[6], msgs[1], msgs[3], msgs[0], msgs[2], msgs[5], msgs[4]]
    assert storage.ready_items() == expected

    first = storage.claim("c1", NOW, 2, LEASE)
    assert first == [Claimed(m.id, m.data, 1) for m in expected[:2]]
    assert storage.counts() == counts(ready=5, running=2)
    assert storage.ready_items() == expected[2:]

    second = storage.claim("c2", NOW, 1, LEASE)
    assert second == [Claimed(expected[2].id, expected[2].data, 1)]
    assert storage.counts() == counts(ready=4, running=3)

    rest = storage.claim("c1", NOW, 100, LEASE)
    assert rest == [Claimed(m.id, m.data, 1) for m in expected[3:]]
    assert storage.counts() == counts(running=7)
    assert storage.claim("c1", NOW, 100, LEASE) == []


def test_ready_items_paging(storage: Storage) -> None:
    ids = new_ids(6)
    msgs = [Message(i, b"%d" % n, n % 3) for n, i in enumerate(ids)]
    storage.enqueue(msgs)
    order = sorted(msgs, key=lambda m: (-m.priority, m.id))
    assert storage.ready_items(0, 100) == order
    assert storage.ready_items(0, 2) == order[:2]
    assert storage.ready_items(2, 3) == order[2:5]
    assert storage.ready_items(4, 100) == order[4:]
    assert storage.ready_items(6, 10) == []
    assert [m.priority for m in storage.ready_items()] == [2, 2, 1, 1, 0, 0]
    # Inspection does not move anything.
    assert storage.counts() == counts(ready=6)


def test_running_items(storage: Storage) -> None:
    a, b = new_ids(2)
    storage.enqueue([Message(a, b"a"), Message(b, b"b")])
    storage.claim("c1", NOW, 1, LEASE)
    storage.claim("c2", NOW + 1, 1, LEASE)
    assert storage.running_items() == [
        Running(a, b"a", "c1", NOW, 1),
        Running(b, b"b", "c2", NOW + 1, 1),
    ]


# --- schedule and promote -------------------------------------------------------------


def test_schedule_next_eta_and_promote(storage: Storage) -> None:
    a, b, c, d = new_ids(4)
    items = [
        (Message(a, b"a", 1), NOW + 30),
        (Message(b, b"b", 7), NOW + 10),
        (Message(c, b"c", 0), NOW + 20),
        (Message(d, b"d", -2), NOW + 20),
    ]
    storage.schedule(items)
    assert storage.counts() == counts(scheduled=4)
    assert storage.next_eta() == NOW + 10
    by_eta = [items[1], items[2], items[3], items[0]]
    assert storage.scheduled_items() == by_eta
    assert storage.scheduled_items(1, 2) == by_eta[1:3]
    assert storage.claim("c1", NOW + 100, 10, LEASE) == []  # scheduled is not claimable

    assert storage.promote(NOW + 9.999) == []
    assert storage.counts() == counts(scheduled=4)

    # eta <= now is due (inclusive), returned in eta order.
    assert storage.promote(NOW + 20) == [b, c, d]
    assert storage.counts() == counts(ready=3, scheduled=1)
    assert storage.next_eta() == NOW + 30
    assert storage.scheduled_items() == [items[0]]
    # Promoted messages keep their priority.
    assert storage.ready_items() == [Message(b, b"b", 7), Message(c, b"c", 0), Message(d, b"d", -2)]
    loc = storage.locate(b)
    assert loc is not None and (loc.state, loc.priority, loc.eta) == ("ready", 7, None)

    assert storage.promote(NOW + 1000) == [a]
    assert storage.next_eta() is None
    assert storage.counts() == counts(ready=4)
    assert [m.id for m in storage.ready_items()] == [b, a, c, d]


def test_promote_limit(storage: Storage) -> None:
    ids = new_ids(3)
    storage.schedule([(Message(i, b"x"), NOW - n) for n, i in enumerate(ids)])
    assert storage.promote(NOW, limit=2) == [ids[2], ids[1]]
    assert storage.counts() == counts(ready=2, scheduled=1)
    assert storage.promote(NOW, limit=2) == [ids[0]]


# --- finish ---------------------------------------------------------------------------


def test_finish_success_removes_the_task(storage: Storage) -> None:
    task_id = run_one(storage)
    assert storage.counts() == counts(running=1)
    assert storage.finish("c1", task_id, NOW + 1, Outcome()) is None
    assert storage.locate(task_id) is None
    assert storage.counts() == counts()
    assert storage.running_items() == []
    # Finishing again, or an id nobody knows, is refused.
    assert storage.finish("c1", task_id, NOW + 1, Outcome()) == NOT_RUNNING
    assert storage.finish("c1", new_task_id(), NOW + 1, Outcome()) == NOT_RUNNING


def test_finish_refused_when_not_running(storage: Storage) -> None:
    dead = run_one(storage, consumer="c2")
    kill(storage, dead, "c2", NOW + 1)
    assert storage.finish("c2", dead, NOW + 2, Outcome()) == NOT_RUNNING
    ready, scheduled = new_ids(2)
    storage.enqueue([Message(ready, b"r")])
    storage.schedule([(Message(scheduled, b"s"), NOW + 5)])
    storage.heartbeat("c1", NOW, LEASE)  # a lease, but no task
    assert storage.finish("c1", ready, NOW, Outcome()) == NOT_RUNNING
    assert storage.finish("c1", scheduled, NOW, Outcome()) == NOT_RUNNING
    assert storage.counts() == counts(ready=1, scheduled=1, dead=1)


def test_refused_finish_changes_nothing(storage: Storage) -> None:
    task_id = run_one(storage, data=b"payload", priority=3)
    (other,) = new_ids(1)
    outcome = Outcome(
        results=[("result:x", b"value")],
        result_ttl=60,
        enqueue=[Message(other, b"next")],
        schedule=[(Message(task_id, b"retry"), NOW + 100)],
        dead=("error", "nope"),
    )
    before = storage.locate(task_id)
    assert before == Located(task_id, b"payload", "running", 3, None, "c1", 1, since=NOW)

    assert storage.finish("c2", task_id, NOW + 1, outcome) == NOT_OWNER
    assert storage.finish("c1", task_id, NOW + LEASE + 0.001, outcome) == LEASE_LOST

    assert storage.locate(task_id) == before
    assert storage.counts() == counts(running=1)
    assert storage.peek("result:x") is None
    assert storage.locate(other) is None
    assert storage.dead_items() == []
    assert storage.keys("") == []


def test_finish_at_lease_end_is_allowed_and_heartbeat_renews(storage: Storage) -> None:
    a = run_one(storage)
    assert storage.finish("c1", a, NOW + LEASE, Outcome()) is None  # now == lease end
    b = run_one(storage)  # claim at NOW renews the lease to NOW + LEASE
    assert storage.finish("c1", b, NOW + LEASE + 1, Outcome()) == LEASE_LOST
    storage.heartbeat("c1", NOW + LEASE + 1, LEASE)
    assert storage.consumers(NOW + LEASE + 1) == {"c1": NOW + 2 * LEASE + 1}
    assert storage.finish("c1", b, NOW + LEASE + 2, Outcome()) is None
    assert storage.counts() == counts()


def test_finish_writes_results(storage: Storage) -> None:
    task_id = run_one(storage)
    outcome = Outcome(results=[("r:a", b"\x00\xff"), ("r:b", b"")])
    assert storage.finish("c1", task_id, NOW + 1, outcome) is None
    assert storage.peek("r:a") == b"\x00\xff"
    assert storage.peek("r:b") == b""
    assert storage.keys("r:") == ["r:a", "r:b"]


def test_finish_writes_results_with_ttl(storage: Storage) -> None:
    long, short = run_one(storage), run_one(storage)
    assert storage.finish("c1", long, NOW + 1, Outcome([("r:long", b"1")], result_ttl=60)) is None
    assert storage.finish("c1", short, NOW + 1, Outcome([("r:short", b"2")], 0.05)) is None
    assert storage.peek("r:long") == b"1"
    assert eventually(lambda: storage.peek("r:short") is None)
    assert storage.peek("r:long") == b"1"
    assert storage.keys("r:") == ["r:long"]


def test_finish_enqueues_new_messages(storage: Storage) -> None:
    task_id = run_one(storage)
    n1, n2 = new_ids(2)
    outcome = Outcome(enqueue=[Message(n1, b"one", 0), Message(n2, b"two", 4)])
    assert storage.finish("c1", task_id, NOW + 1, outcome) is None
    assert storage.locate(task_id) is None
    assert storage.counts() == counts(ready=2)
    assert storage.ready_items() == [Message(n2, b"two", 4), Message(n1, b"one", 0)]
    claimed = storage.claim("c2", NOW + 2, 5, LEASE)
    assert claimed == [Claimed(n2, b"two", 1), Claimed(n1, b"one", 1)]


def test_finish_schedules_a_retry_with_the_same_id(storage: Storage) -> None:
    task_id = run_one(storage, data=b"attempt 1", priority=2)
    retry = Message(task_id, b"attempt 2", 2)
    assert storage.finish("c1", task_id, NOW + 1, Outcome(schedule=[(retry, NOW + 60)])) is None
    assert storage.counts() == counts(scheduled=1)
    assert storage.running_items() == []
    assert storage.locate(task_id) == Located(task_id, b"attempt 2", "scheduled", 2, NOW + 60)
    assert storage.scheduled_items() == [(retry, NOW + 60)]
    assert storage.next_eta() == NOW + 60
    assert storage.promote(NOW + 60) == [task_id]
    assert storage.claim("c2", NOW + 61, 1, LEASE) == [Claimed(task_id, b"attempt 2", 1)]


def test_finish_enqueues_a_retry_with_the_same_id(storage: Storage) -> None:
    task_id = run_one(storage, data=b"attempt 1")
    retry = Message(task_id, b"attempt 2", 1)
    assert storage.finish("c1", task_id, NOW + 1, Outcome(enqueue=[retry])) is None
    assert storage.counts() == counts(ready=1)
    assert storage.locate(task_id) == Located(task_id, b"attempt 2", "ready", 1)
    assert storage.ready_items() == [retry]


def test_finish_dead_keeps_a_dead_letter(storage: Storage) -> None:
    task_id = run_one(storage, data=b"body", priority=1)
    error = "Traceback (most recent call last):\n  ...\nValueError: boom \u2603"
    outcome = Outcome(results=[("r:dead", b"err")], dead=("error", error))
    assert storage.finish("c1", task_id, NOW + 5, outcome) is None
    assert storage.counts() == counts(dead=1)
    assert storage.peek("r:dead") == b"err"
    (letter,) = storage.dead_items()
    assert (letter.id, letter.data, letter.reason) == (task_id, b"body", "error")
    assert letter.error == error
    assert letter.failed_at == NOW + 5
    loc = storage.locate(task_id)
    assert loc is not None
    assert (loc.id, loc.data, loc.state, loc.priority) == (task_id, b"body", "dead", 1)
    assert (loc.reason, loc.error, loc.consumer, loc.eta) == ("error", error, None, None)


# --- recover, heartbeat, release ------------------------------------------------------


def test_recover_requeues_tasks_of_lapsed_consumers(storage: Storage) -> None:
    a, b, c = new_ids(3)
    storage.enqueue([Message(a, b"a"), Message(b, b"b"), Message(c, b"c")])
    storage.claim("dead-consumer", NOW, 2, 10)  # lease ends NOW + 10
    storage.claim("live-consumer", NOW, 1, 100)
    storage.heartbeat("idle-consumer", NOW, 5)  # holds nothing
    assert storage.consumers(NOW) == {
        "dead-consumer": NOW + 10,
        "live-consumer": NOW + 100,
        "idle-consumer": NOW + 5,
    }

    report = storage.recover(NOW + 10, max_deliveries=5)  # lease end itself is still valid
    assert (report.requeued, report.dead) == ([], [])
    assert storage.counts() == counts(running=3)

    report = storage.recover(NOW + 11, max_deliveries=5)
    assert sorted(report.requeued) == [a, b]
    assert report.dead == []
    assert storage.counts() == counts(ready=2, running=1)
    assert storage.consumers(NOW + 11) == {"live-consumer": NOW + 100}
    loc = storage.locate(c)
    assert loc is not None and (loc.state, loc.consumer) == ("running", "live-consumer")
    assert storage.locate(a) == Located(a, b"a", "ready", deliveries=1)
    assert storage.ready_items() == [Message(a, b"a"), Message(b, b"b")]

    # Nothing left to recover; the redelivery is counted, and each redelivered task
    # is claimed alone (no bystanders if it is the one that kills its worker).
    assert storage.recover(NOW + 12, max_deliveries=5).requeued == []
    assert storage.claim("other", NOW + 12, 5, LEASE) == [Claimed(a, b"a", 2)]
    assert storage.claim("other", NOW + 12, 5, LEASE) == [Claimed(b, b"b", 2)]


def test_a_redelivered_task_is_claimed_alone(storage: Storage) -> None:
    a, b, c = new_ids(3)
    storage.enqueue([Message(a, b"a"), Message(b, b"b"), Message(c, b"c")])
    assert len(storage.claim("c1", NOW, 3, 1)) == 3
    storage.recover(NOW + 5, max_deliveries=5)  # the worker died: all three come back
    assert storage.claim("c2", NOW + 5, 3, LEASE) == [Claimed(a, b"a", 2)]
    assert storage.finish("c2", a, NOW + 5, Outcome()) is None
    (d,) = new_ids(1)
    storage.enqueue([Message(d, b"d")])
    # b is redelivered: alone again; after it, c, and the fresh d may come in a batch
    assert storage.claim("c2", NOW + 5, 3, LEASE) == [Claimed(b, b"b", 2)]
    assert storage.claim("c2", NOW + 5, 3, LEASE) == [Claimed(c, b"c", 2)]
    assert storage.claim("c2", NOW + 5, 3, LEASE) == [Claimed(d, b"d", 1)]


def test_heartbeat_keeps_tasks_from_recovery(storage: Storage) -> None:
    task_id = run_one(storage)
    storage.heartbeat("c1", NOW + LEASE, LEASE)
    assert storage.recover(NOW + LEASE + 1, 5).requeued == []
    assert storage.consumers(NOW + LEASE + 1) == {"c1": NOW + 2 * LEASE}
    report = storage.recover(NOW + 2 * LEASE + 1, 5)
    assert report.requeued == [task_id]
    assert storage.consumers(NOW + 2 * LEASE + 1) == {}


def test_recover_dead_letters_poison_after_max_deliveries(storage: Storage) -> None:
    (task_id,) = new_ids(1)
    storage.enqueue([Message(task_id, b"poison", 3)])
    t = NOW
    for delivery in (1, 2):
        assert storage.claim(f"c{delivery}", t, 1, 1) == [Claimed(task_id, b"poison", delivery)]
        report = storage.recover(t + 2, max_deliveries=3)
        assert (report.requeued, report.dead) == ([task_id], [])
        t += 10
    assert storage.claim("c3", t, 1, 1) == [Claimed(task_id, b"poison", 3)]
    assert storage.locate(task_id) == Located(
        task_id, b"poison", "running", 3, None, "c3", 3, since=t
    )
    report = storage.recover(t + 2, max_deliveries=3)
    assert (report.requeued, report.dead) == ([], [task_id])
    assert storage.counts() == counts(dead=1)
    assert storage.consumers(t + 2) == {}
    (letter,) = storage.dead_items()
    assert (letter.id, letter.data, letter.reason, letter.failed_at) == (
        task_id,
        b"poison",
        "poison",
        t + 2,
    )
    loc = storage.locate(task_id)
    assert loc is not None and (loc.state, loc.reason, loc.priority) == ("dead", "poison", 3)


def test_release_all_hands_tasks_back_uncounted(storage: Storage) -> None:
    a, b, c = new_ids(3)
    storage.enqueue([Message(a, b"a"), Message(b, b"b"), Message(c, b"c")])
    assert len(storage.claim("c1", NOW, 2, LEASE)) == 2
    storage.claim("c2", NOW, 1, LEASE)
    assert sorted(storage.release("c1")) == [a, b]
    assert storage.counts() == counts(ready=2, running=1)
    assert storage.consumers(NOW) == {"c2": NOW + LEASE}
    assert storage.ready_items() == [Message(a, b"a"), Message(b, b"b")]
    assert storage.locate(a) == Located(a, b"a", "ready")
    assert storage.claim("c3", NOW, 5, LEASE) == [Claimed(a, b"a", 1), Claimed(b, b"b", 1)]
    assert storage.release("nobody") == []


def test_release_given_ids_goes_to_the_front_of_its_priority(storage: Storage) -> None:
    a, b, h = new_ids(3)
    storage.enqueue([Message(a, b"a", 0), Message(b, b"b", 0), Message(h, b"h", 5)])
    assert [x.id for x in storage.claim("c1", NOW, 2, LEASE)] == [h, a]
    d, e = new_ids(2)
    storage.enqueue([Message(d, b"d", 5), Message(e, b"e", 0)])
    assert [m.id for m in storage.ready_items()] == [d, b, e]

    assert storage.release("c2", [a]) == []  # not c2's task
    assert storage.release("c1", [a]) == [a]
    assert [m.id for m in storage.ready_items()] == [d, a, b, e]
    # Only the given task went back; the consumer keeps its lease and its other task.
    assert storage.consumers(NOW) == {"c1": NOW + LEASE}
    loc = storage.locate(h)
    assert loc is not None and (loc.state, loc.consumer) == ("running", "c1")
    assert storage.release("c1", []) == []

    assert storage.release("c1") == [h]
    assert [m.id for m in storage.ready_items()] == [h, d, a, b, e]
    assert storage.consumers(NOW) == {}
    claimed = storage.claim("c2", NOW, 10, LEASE)
    assert [(x.id, x.deliveries) for x in claimed] == [(h, 1), (d, 1), (a, 1), (b, 1), (e, 1)]


def test_release_after_redelivery_keeps_the_earlier_count(storage: Storage) -> None:
    task_id = run_one(storage)
    storage.recover(NOW + LEASE + 1, 10)
    assert storage.claim("c2", NOW + 50, 1, LEASE) == [Claimed(task_id, b"x", 2)]
    assert storage.release("c2", [task_id]) == [task_id]
    assert storage.claim("c3", NOW + 51, 1, LEASE) == [Claimed(task_id, b"x", 2)]


# --- dead letters and admin -----------------------------------------------------------


def test_dead_letters_newest_first_and_capped(make_storage: Callable[..., Storage]) -> None:
    storage = make_storage(dead_cap=3)
    ids = new_ids(5)
    storage.enqueue([Message(i, b"%d" % n) for n, i in enumerate(ids)])
    storage.claim("c1", NOW, 5, 100)
    for n, task_id in enumerate(ids):
        kill(storage, task_id, "c1", NOW + n)
    assert storage.counts() == counts(dead=3)
    letters = storage.dead_items()
    assert [x.id for x in letters] == [ids[4], ids[3], ids[2]]
    assert [x.failed_at for x in letters] == [NOW + 4, NOW + 3, NOW + 2]
    assert [x.data for x in letters] == [b"4", b"3", b"2"]
    assert [x.id for x in storage.dead_items(1, 1)] == [ids[3]]
    assert [x.id for x in storage.dead_items(2, 10)] == [ids[2]]
    assert storage.locate(ids[0]) is None
    assert storage.locate(ids[1]) is None


def test_dead_cap_applies_to_poison_too(make_storage: Callable[..., Storage]) -> None:
    storage = make_storage(dead_cap=1)
    first = run_one(storage)
    kill(storage, first, "c1", NOW + 1)
    second = run_one(storage)
    report = storage.recover(NOW + LEASE + 10, max_deliveries=1)
    assert report.dead == [second]
    assert [x.id for x in storage.dead_items()] == [second]
    assert storage.locate(first) is None
    assert storage.counts() == counts(dead=1)


def test_retry_dead(storage: Storage) -> None:
    task_id = run_one(storage, data=b"again", priority=2)
    kill(storage, task_id, "c1", NOW + 1)
    assert storage.retry_dead(task_id) is True
    assert storage.counts() == counts(ready=1)
    assert storage.dead_items() == []
    assert storage.locate(task_id) == Located(task_id, b"again", "ready", 2)
    assert storage.ready_items() == [Message(task_id, b"again", 2)]
    assert storage.retry_dead(task_id) is False  # no longer dead
    assert storage.retry_dead(new_task_id()) is False
    assert storage.claim("c2", NOW + 2, 1, LEASE) == [Claimed(task_id, b"again", 1)]


def test_remove(storage: Storage) -> None:
    running = run_one(storage)
    dead = run_one(storage)
    kill(storage, dead, "c1", NOW + 1)
    ready, scheduled = new_ids(2)
    storage.enqueue([Message(ready, b"r", 4)])
    storage.schedule([(Message(scheduled, b"s", 4), NOW + 9)])
    assert storage.counts() == counts(ready=1, scheduled=1, running=1, dead=1)

    assert storage.remove(running) is False
    assert storage.locate(running) is not None
    assert storage.remove(new_task_id()) is False

    for task_id in (ready, scheduled, dead):
        assert storage.remove(task_id) is True
        assert storage.locate(task_id) is None
        assert storage.remove(task_id) is False
    assert storage.counts() == counts(running=1)
    assert storage.next_eta() is None
    assert storage.ready_items() == [] and storage.dead_items() == []
    assert storage.finish("c1", running, NOW + 2, Outcome()) is None


def test_flush_by_state(storage: Storage) -> None:
    running = run_one(storage)
    kill(storage, run_one(storage), "c1", NOW + 1)
    storage.enqueue([Message(i, b"r") for i in new_ids(3)])
    storage.schedule([(Message(i, b"s"), NOW + 5) for i in new_ids(2)])
    assert storage.counts() == counts(ready=3, scheduled=2, running=1, dead=1)
    assert storage.flush("ready") == 3
    assert storage.counts() == counts(scheduled=2, running=1, dead=1)
    assert storage.flush("scheduled") == 2
    assert storage.next_eta() is None
    assert storage.flush("dead") == 1
    assert storage.counts() == counts(running=1)
    assert [storage.flush(s) for s in ("ready", "scheduled", "dead")] == [0, 0, 0]
    assert storage.locate(running) is not None


# --- one place at a time ----------------------------------------------------------------


def test_re_adding_an_id_moves_it(storage: Storage) -> None:
    """Module docstring: a task lives in exactly one place at a time."""
    a, b = new_ids(2)
    storage.schedule([(Message(a, b"s"), NOW + 10)])
    storage.enqueue([Message(a, b"r")])
    storage.enqueue([Message(b, b"r")])
    storage.schedule([(Message(b, b"s"), NOW + 10)])
    assert storage.counts() == counts(ready=1, scheduled=1)
    assert storage.ready_items() == [Message(a, b"r")]
    assert storage.scheduled_items() == [(Message(b, b"s"), NOW + 10)]
    assert storage.locate(a) == Located(a, b"r", "ready")
    assert storage.locate(b) == Located(b, b"s", "scheduled", eta=NOW + 10)


# --- locate ---------------------------------------------------------------------------


def test_locate_in_every_state(storage: Storage) -> None:
    running = run_one(storage, data=b"run", priority=6, consumer="worker-1:123")
    expected = Located(running, b"run", "running", 6, None, "worker-1:123", 1, since=NOW)
    assert storage.locate(running) == expected
    storage.recover(NOW + LEASE + 1, 10)
    storage.claim("worker-2:9", NOW + 50, 1, LEASE)
    assert storage.locate(running) == Located(
        running, b"run", "running", 6, None, "worker-2:9", 2, since=NOW + 50
    )

    dead = run_one(storage, data=b"dead", consumer="c9")
    kill(storage, dead, "c9", NOW + 1, reason="expired")
    loc = storage.locate(dead)
    assert loc is not None
    assert (loc.id, loc.data, loc.state, loc.priority, loc.eta, loc.consumer) == (
        dead,
        b"dead",
        "dead",
        0,
        None,
        None,
    )
    assert (loc.reason, loc.error) == ("expired", f"boom {NOW + 1}")
    assert loc.since == NOW + 1  # when it failed

    ready, scheduled = new_ids(2)
    storage.enqueue([Message(ready, b"r", 3)])
    storage.schedule([(Message(scheduled, b"s", -1), NOW + 42.5)])
    assert storage.locate(ready) == Located(ready, b"r", "ready", 3, None, None, 0, None, None)
    assert storage.locate(scheduled) == Located(scheduled, b"s", "scheduled", -1, NOW + 42.5)

    assert storage.locate(new_task_id()) is None


# --- key/value ------------------------------------------------------------------------


def test_put_peek_pop_delete(storage: Storage) -> None:
    assert storage.peek("k") is None
    storage.put("k", b"v1")
    assert storage.peek("k") == b"v1"
    storage.put("k", b"v2")  # overwrite
    assert storage.peek("k") == b"v2"
    assert storage.pop("k") == b"v2"
    assert storage.peek("k") is None
    assert storage.pop("k") is None
    storage.put("k", b"v3")
    assert storage.delete("k") is True
    assert storage.delete("k") is False
    assert storage.peek("k") is None


def test_put_if_empty_and_delete_if_equal(storage: Storage) -> None:
    assert storage.put_if_empty("lock", b"owner-1") is True
    assert storage.put_if_empty("lock", b"owner-2") is False
    assert storage.peek("lock") == b"owner-1"
    assert storage.delete_if_equal("lock", b"owner-2") is False
    assert storage.peek("lock") == b"owner-1"
    assert storage.delete_if_equal("lock", b"owner-1") is True
    assert storage.peek("lock") is None
    assert storage.delete_if_equal("lock", b"owner-1") is False
    assert storage.put_if_empty("lock", b"owner-2") is True
    assert storage.peek("lock") == b"owner-2"


def test_incr(storage: Storage) -> None:
    assert storage.incr("n", 60) == 1
    assert storage.incr("n", 60) == 2
    assert storage.incr("n", 60) == 3
    assert storage.peek("n") == b"3"
    assert storage.incr("m", 60) == 1


def test_keys_by_prefix_sorted(storage: Storage) -> None:
    for key in ("b:2", "a:1", "b:10", "b:1", "c", "b*x", "b?y", "b[z]"):
        storage.put(key, b"1")
    assert storage.keys("b:") == ["b:1", "b:10", "b:2"]
    assert storage.keys("a") == ["a:1"]
    assert storage.keys("zz") == []
    # Glob characters in a prefix are literal.
    assert storage.keys("b*") == ["b*x"]
    assert storage.keys("b?") == ["b?y"]
    assert storage.keys("b[") == ["b[z]"]
    assert storage.keys("") == sorted(["a:1", "b*x", "b:1", "b:10", "b:2", "b?y", "b[z]", "c"])
    assert storage.flush_keys("b:") == 3
    assert storage.keys("b:") == []


def test_ttl_expiry(storage: Storage) -> None:
    storage.put("keep", b"1", ttl=60)
    storage.put("gone", b"1", ttl=0.05)
    assert storage.put_if_empty("lock", b"a", ttl=0.05) is True
    assert storage.incr("count", 0.05) == 1
    assert storage.incr("count", 0.05) == 2
    expiring = ("gone", "lock", "count")
    assert eventually(lambda: all(storage.peek(k) is None for k in expiring))
    assert storage.keys("") == ["keep"]
    assert storage.peek("keep") == b"1"
    # Expired keys are free again.
    assert storage.put_if_empty("lock", b"b") is True
    assert storage.incr("count", 60) == 1
    assert storage.pop("gone") is None
    assert storage.delete("gone") is False


# --- bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", PAYLOADS, ids=lambda d: f"{len(d)}b")
def test_bytes_round_trip_through_the_queue(storage: Storage, data: bytes) -> None:
    a, s, n = new_ids(3)
    storage.enqueue([Message(a, data, 1)])
    storage.schedule([(Message(s, data), NOW + 1)])
    assert storage.ready_items() == [Message(a, data, 1)]
    assert storage.scheduled_items() == [(Message(s, data), NOW + 1)]
    loc = storage.locate(a)
    assert loc is not None and loc.data == data
    loc = storage.locate(s)
    assert loc is not None and loc.data == data

    assert storage.claim("c1", NOW, 1, LEASE) == [Claimed(a, data, 1)]
    assert storage.running_items() == [Running(a, data, "c1", NOW, 1)]
    outcome = Outcome(results=[("r", data)], enqueue=[Message(n, data)], dead=("error", "e"))
    assert storage.finish("c1", a, NOW, outcome) is None
    assert [x.data for x in storage.dead_items()] == [data]
    assert storage.peek("r") == data
    assert storage.claim("c1", NOW, 1, LEASE) == [Claimed(n, data, 1)]


@pytest.mark.parametrize("data", PAYLOADS, ids=lambda d: f"{len(d)}b")
def test_bytes_round_trip_through_key_value(storage: Storage, data: bytes) -> None:
    storage.put("v", data)
    assert storage.peek("v") == data
    assert storage.pop("v") == data
    assert storage.put_if_empty("v", data) is True
    assert storage.put_if_empty("v", data + b"!") is False
    assert storage.delete_if_equal("v", data + b"!") is False
    assert storage.delete_if_equal("v", data) is True
    assert storage.peek("v") is None


# --- one call per id while it runs; unique enqueue ---------------------------------------


def test_enqueueing_a_running_id_is_refused_and_writes_nothing(storage: Storage) -> None:
    task_id = run_one(storage, data=b"v1")
    (other,) = new_ids(1)
    with pytest.raises(ConfigurationError, match="is running"):
        storage.enqueue([Message(other, b"o"), Message(task_id, b"v2")])
    with pytest.raises(ConfigurationError, match="is running"):
        storage.schedule([(Message(task_id, b"v3"), NOW + 10)])
    assert storage.counts() == counts(running=1)
    assert storage.finish("c1", task_id, NOW, Outcome()) is None
    storage.enqueue([Message(task_id, b"v2")])  # fine once it has finished
    assert storage.locate(task_id) == Located(task_id, b"v2", "ready")


def test_re_enqueue_resets_priority(storage: Storage) -> None:
    (task_id,) = new_ids(1)
    storage.schedule([(Message(task_id, b"a", 5), NOW + 10)])
    storage.schedule([(Message(task_id, b"a", 0), NOW + 10)])
    storage.promote(NOW + 10)
    assert storage.ready_items() == [Message(task_id, b"a", 0)]


def test_enqueue_unique_fires_once(storage: Storage) -> None:
    a, b = new_ids(2)
    assert storage.enqueue_unique("slot:x:1", 60, Message(a, b"a", 2)) is True
    assert storage.enqueue_unique("slot:x:1", 60, Message(b, b"b")) is False
    assert storage.ready_items() == [Message(a, b"a", 2)]
    assert storage.peek("slot:x:1") is not None


def test_release_with_count_keeps_the_delivery(storage: Storage) -> None:
    task_id = run_one(storage)
    assert storage.release("c1", [task_id], count=True) == [task_id]
    assert storage.claim("c2", NOW, 1, LEASE) == [Claimed(task_id, b"x", 2)]


def test_maps(storage: Storage) -> None:
    assert storage.map_items("m") == {}
    storage.map_set("m", "a", b"1")
    storage.map_set("m", "b", b"\xff")
    storage.map_set("other", "a", b"x")
    assert storage.map_get("m", "a") == b"1"
    assert storage.map_items("m") == {"a": b"1", "b": b"\xff"}
    assert storage.map_delete("m", "a", b"2") is False
    assert storage.map_delete("m", "a", b"1") is True
    assert storage.map_delete("m", "b") is True
    assert storage.map_delete("m", "b") is False
    assert storage.map_items("m") == {}
    assert storage.map_get("other", "a") == b"x"
    storage.destroy()
    assert storage.map_items("other") == {}


# --- waiting for work and for results -------------------------------------------------


def test_wait_and_claim_round_claims_work_that_arrives_while_it_waits(storage: Storage) -> None:
    (task_id,) = new_ids(1)
    enqueuer = threading.Timer(0.2, lambda: storage.enqueue([Message(task_id, b"late", 0)]))
    enqueuer.start()
    start = time.monotonic()
    try:
        rnd = storage.wait_and_claim_round(3.0, "c1", NOW, 5, LEASE, "revoke:version")
    finally:
        enqueuer.join()
    assert [(c.id, c.data) for c in rnd.claimed] == [(task_id, b"late")]
    assert time.monotonic() - start < 2.0  # woken by the work, not by the end of the wait
    assert storage.counts() == counts(running=1)


def test_wait_and_claim_round_without_work_claims_nothing(storage: Storage) -> None:
    # It waits up to ``block`` (Redis stops early, leaving the last stretch to a poll).
    start = time.monotonic()
    rnd = storage.wait_and_claim_round(0.3, "c1", NOW, 5, LEASE, "revoke:version")
    assert rnd.claimed == [] and rnd.more is False
    assert time.monotonic() - start < 0.8


def test_wait_result_returns_a_value_already_there_at_once(storage: Storage) -> None:
    storage.put("result:x", b"v")
    start = time.monotonic()
    assert storage.wait_result("result:x", 3.0, pop=False) == b"v"
    assert storage.wait_result("result:x", 3.0, pop=True) == b"v"
    assert time.monotonic() - start < 2.0  # not held up by the 3 s wait
    assert storage.peek("result:x") is None
    start = time.monotonic()
    assert storage.wait_result("result:x", 0.3, pop=True) is None
    assert time.monotonic() - start >= 0.2


def test_wait_result_is_woken_by_the_finish_that_writes_it(storage: Storage) -> None:
    task_id = run_one(storage)
    outcome = Outcome(results=[("result:" + task_id, b"42")])
    finisher = threading.Timer(0.2, lambda: storage.finish("c1", task_id, NOW + 1, outcome))
    finisher.start()
    start = time.monotonic()
    try:
        assert storage.wait_result("result:" + task_id, 3.0, pop=True) == b"42"
    finally:
        finisher.join()
    assert time.monotonic() - start < 2.0
    assert storage.peek("result:" + task_id) is None


def test_finish_many_finishes_each_task_on_its_own(storage: Storage) -> None:
    """A batch mixing every kind of outcome, with a refused finish in the middle:
    each task gets exactly its own outcome, the refused one writes nothing."""
    a, b, c, d = (run_one(storage) for _ in range(4))
    other = run_one(storage, consumer="c2")
    retry_id, later_id = new_ids(2)
    refusals = storage.finish_many(
        "c1",
        [
            (a, NOW + 1, Outcome(results=[("result:" + a, b"A"), ("extra:" + a, b"A2")])),
            (other, NOW + 1, Outcome(results=[("result:" + other, b"stolen")])),
            (b, NOW + 1, Outcome(dead=("failed", "boom b"))),
            (c, NOW + 1, Outcome(enqueue=[Message(retry_id, b"next", 2)])),
            (d, NOW + 1, Outcome(schedule=[(Message(later_id, b"later", 0), NOW + 60)])),
        ],
    )
    assert refusals == [None, NOT_OWNER, None, None, None]
    assert storage.peek("result:" + a) == b"A" and storage.peek("extra:" + a) == b"A2"
    assert storage.peek("result:" + other) is None
    assert [x.id for x in storage.dead_items()] == [b]
    assert [(m.id, m.data, m.priority) for m in storage.ready_items()] == [(retry_id, b"next", 2)]
    assert [(m.id, eta) for m, eta in storage.scheduled_items()] == [(later_id, NOW + 60)]
    assert [r.id for r in storage.running_items()] == [other]
    assert storage.counts() == counts(ready=1, scheduled=1, running=1, dead=1)


def test_a_claim_never_moves_the_lease_back(storage: Storage) -> None:
    # A worker's round may run with a clock read before it blocked (Redis): the lease
    # a fresher heartbeat gave must survive it.
    storage.heartbeat("c1", NOW + 5, LEASE)
    task_id = run_one(storage)  # claims at NOW
    assert storage.finish("c1", task_id, NOW + 4 + LEASE, Outcome()) is None


def test_wait_result_with_a_tiny_timeout_just_looks(storage: Storage) -> None:
    start = time.monotonic()
    assert storage.wait_result("result:none", 0.0003, pop=True) is None
    assert time.monotonic() - start < 0.5


def test_wait_result_finds_a_value_at_once_while_others_wait(storage: Storage) -> None:
    waited: list[bytes | None] = []
    waiter = threading.Thread(
        target=lambda: waited.append(storage.wait_result("result:y", 1.5, pop=False))
    )
    waiter.start()
    try:
        time.sleep(0.1)  # the other reader is blocked on the result
        storage.put("result:y", b"v")
        start = time.monotonic()
        assert storage.wait_result("result:y", 3.0, pop=False) == b"v"
        assert time.monotonic() - start < 1.0  # its own wake-up was not taken by the other
    finally:
        waiter.join()
    assert waited == [b"v"]
