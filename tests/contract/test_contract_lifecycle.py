"""The storage contract (engine/storage/base.py), a task's life: enqueue, claim,
schedule, finish, recover.

``memory.py`` is the reference; each test runs once per backend through the ``storage``
fixture (tests/conftest.py). Times are explicit ``now`` values, never the clock, except
key/value TTLs, which expire on the store's own clock (polled with a short deadline).
"""

from __future__ import annotations

from support.contract import (
    LEASE,
    NOW,
    counts,
    eventually,
    kill,
    new_ids,
    run_one,
)

from engine.storage.base import (
    LEASE_LOST,
    NOT_OWNER,
    NOT_RUNNING,
    Claimed,
    Located,
    Message,
    Outcome,
    Running,
    Storage,
    new_task_id,
)

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


def test_claim_order_is_priority_then_fifo_by_arrival(storage: Storage) -> None:
    ids = new_ids(7)
    prios = [0, 5, 0, 5, -1, 0, 9]
    pairs = enumerate(zip(ids, prios, strict=True))
    msgs = [Message(i, f"m{n}".encode(), p) for n, (i, p) in pairs]
    # Arrival order is not id order: FIFO is by arrival (the ORDER rule), not by id.
    storage.enqueue([msgs[5], msgs[2]])
    storage.enqueue([msgs[4], msgs[3], msgs[0], msgs[6], msgs[1]])
    assert storage.counts() == counts(ready=7)

    expected = [msgs[6], msgs[3], msgs[1], msgs[5], msgs[2], msgs[0], msgs[4]]
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


def ready_ids(storage: Storage) -> list[str]:
    return [m.id for m in storage.ready_items()]


def test_a_retry_and_a_next_stage_go_to_the_back_of_their_priority(storage: Storage) -> None:
    # huey enqueues them: a retry keeps its id (result handles read by id), not its place.
    a, b, c, h = new_ids(4)
    storage.enqueue([Message(a, b"a"), Message(b, b"b")])
    assert [x.id for x in storage.claim("c1", NOW, 1, LEASE)] == [a]
    storage.enqueue([Message(c, b"c"), Message(h, b"h", 5)])
    (nxt,) = new_ids(1)  # the next stage has a newer id than c, the retry an older one
    retry = Outcome(enqueue=[Message(a, b"a again"), Message(nxt, b"next")])
    assert storage.finish("c1", a, NOW, retry) is None
    assert ready_ids(storage) == [h, b, c, a, nxt]
    assert [x.id for x in storage.claim("c2", NOW, 10, LEASE)] == [h, b, c, a, nxt]


def test_promote_enqueue_unique_and_retry_dead_go_to_the_back(storage: Storage) -> None:
    s, u, d, a = new_ids(4)  # ids older than the task already waiting
    storage.schedule([(Message(s, b"s"), NOW + 1)])
    storage.enqueue([Message(d, b"d")])
    assert [x.id for x in storage.claim("c1", NOW, 1, LEASE)] == [d]
    assert storage.finish("c1", d, NOW, Outcome(dead=("failed", "boom"))) is None
    storage.enqueue([Message(a, b"a")])
    assert storage.promote(NOW + 1) == [s]
    assert storage.enqueue_unique("slot", 60, Message(u, b"u"))
    assert storage.retry_dead(d)
    assert ready_ids(storage) == [a, s, u, d]


def test_enqueueing_a_waiting_id_again_moves_it_to_the_back(storage: Storage) -> None:
    a, b = new_ids(2)
    storage.enqueue([Message(a, b"a"), Message(b, b"b")])
    storage.enqueue([Message(a, b"a2")])
    assert storage.ready_items() == [Message(b, b"b"), Message(a, b"a2")]


def test_recovered_tasks_go_to_the_front_of_their_priority_in_id_order(
    storage: Storage,
) -> None:
    a, b, c, h = new_ids(4)
    storage.enqueue([Message(a, b"a"), Message(b, b"b"), Message(h, b"h", 3)])
    assert [x.id for x in storage.claim("c1", NOW, 2, 1)] == [h, a]
    storage.enqueue([Message(c, b"c")])
    (fresh,) = new_ids(1)
    storage.enqueue([Message(fresh, b"f", 3)])
    report = storage.recover(NOW + 5, max_deliveries=5)
    assert sorted(report.requeued) == [a, h]
    # Each comes back ahead of what waited behind it at its priority.
    assert ready_ids(storage) == [h, fresh, a, b, c]


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
