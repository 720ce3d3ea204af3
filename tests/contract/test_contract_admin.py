"""The storage contract (engine/storage/base.py): dead letters, admin, lookup, key/value, waiting.

``memory.py`` is the reference; each test runs once per backend through the ``storage``
fixture (tests/conftest.py). Times are explicit ``now`` values, never the clock, except
key/value TTLs, which expire on the store's own clock (polled with a short deadline).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from support.contract import (
    LEASE,
    NOW,
    PAYLOADS,
    counts,
    eventually,
    kill,
    new_ids,
    run_one,
)

from engine.exceptions import ConfigurationError
from engine.storage.base import (
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


def test_dead_letters_are_capped_by_bytes_too(make_storage: Callable[..., Storage]) -> None:
    # 20 bodies of 100 KiB against a 1 MiB byte cap: the newest are kept, within the cap
    # (Redis trims to 90% of it once over, the others to the cap itself).
    cap = 1024 * 1024
    storage = make_storage(dead_cap_bytes=cap)
    ids = new_ids(20)
    storage.enqueue([Message(i, bytes([n]) * 102_400) for n, i in enumerate(ids)])
    storage.claim("c1", NOW, 20, 100)
    for n, task_id in enumerate(ids):
        kill(storage, task_id, "c1", NOW + n)
        held = storage.dead_items(0, 100)
        assert sum(len(x.data) for x in held) <= cap
        assert held[0].id == task_id  # the newest always stays
    letters = storage.dead_items(0, 100)
    assert 8 <= len(letters) <= 10
    assert [x.id for x in letters] == ids[::-1][: len(letters)]
    # Poison letters count too; a body bigger than the cap alone is still kept.
    big = run_one(storage, data=b"b" * (2 * cap), consumer="c2")
    assert storage.recover(NOW + LEASE + 1, max_deliveries=1).dead == [big]
    assert [(x.id, len(x.data)) for x in storage.dead_items(0, 100)] == [(big, 2 * cap)]


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


def test_retry_dead_many_and_remove_many_count_each_id(storage: Storage) -> None:
    """The batch forms of retry_dead/remove (admin bulk actions): each id on its own,
    ids that are not there (or running) are counted out, nothing else moves."""
    dead = [run_one(storage, data=f"d{i}".encode()) for i in range(4)]
    for at, task_id in enumerate(dead):
        kill(storage, task_id, "c1", NOW + at)
    running = run_one(storage)
    assert storage.retry_dead_many([]) == 0 and storage.remove_many([]) == 0
    assert storage.retry_dead_many([dead[0], dead[1], new_task_id(), running]) == 2
    assert storage.counts() == counts(ready=2, running=1, dead=2)
    assert {m.id for m in storage.ready_items()} == {dead[0], dead[1]}
    assert storage.retry_dead_many([dead[0]]) == 0  # no longer dead
    assert storage.remove_many([dead[0], dead[2], running, new_task_id()]) == 2
    assert storage.counts() == counts(ready=1, running=1, dead=1)
    assert [d.id for d in storage.dead_items()] == [dead[3]]
    assert storage.locate(running) is not None


def test_counts_while_another_client_claims_miss_no_task(storage: Storage) -> None:
    """counts() is one snapshot: read while a second client claims (tasks move from ready
    to running), ready + running is always every task (Redis read the ready lists one
    round trip after ``running``: a benchmark's drain looked finished with its last
    batch still running)."""
    n = 1500
    storage.enqueue([Message(i, b"x") for i in new_ids(n)])
    claimer = storage
    if type(storage).__name__ == "SqliteStorage":
        claimer = type(storage)(name=storage.name, filename=storage.path)  # type: ignore[call-arg, attr-defined]
    elif type(storage).__name__ == "RedisStorage":
        claimer = type(storage)(name=storage.name, url=storage.url, lease_clock="caller")  # type: ignore[call-arg, attr-defined]

    def claim_all() -> None:
        while claimer.claim("c1", NOW, 7, LEASE):
            pass

    thread = threading.Thread(target=claim_all)
    thread.start()
    seen = []
    while thread.is_alive():
        c = storage.counts()
        seen.append(c.ready + c.running)
    thread.join()
    if claimer is not storage:
        claimer.close()
    assert storage.counts() == counts(running=n)
    assert [s for s in seen if s != n] == []


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


def test_finish_many_keeps_the_order_of_one_at_a_time(storage: Storage) -> None:
    """A batch behaves as its tasks finished one after another: a task met again is
    refused once it is done (and writes nothing), a retry reusing its own id between
    plain successes keeps its new body, and a waiter on a result stored in the batch
    is woken."""
    a, b, c = (run_one(storage, data=b"%d" % n, priority=n) for n in range(3))
    got: list[bytes | None] = []
    waiter = threading.Thread(
        target=lambda: got.append(storage.wait_result("result:" + c, 3.0, pop=False))
    )
    waiter.start()
    time.sleep(0.2)
    try:
        refusals = storage.finish_many(
            "c1",
            [
                (a, NOW + 1, Outcome(results=[("result:" + a, b"A")], finished=b"{}\na")),
                (a, NOW + 1, Outcome(results=[("again:" + a, b"A2")], finished=b"{}\nx")),
                (b, NOW + 1, Outcome(enqueue=[Message(b, b"retry", 1)])),
                (c, NOW + 1, Outcome(results=[("result:" + c, b"C")], result_ttl=60)),
                (b, NOW + 1, Outcome(results=[("again:" + b, b"B2")])),
            ],
        )
    finally:
        waiter.join()
    assert refusals == [None, NOT_RUNNING, None, None, NOT_RUNNING]
    assert got == [b"C"]
    assert storage.peek("result:" + a) == b"A"
    assert storage.peek("again:" + a) is None and storage.peek("again:" + b) is None
    assert storage.finished(a) == b"{}\na"
    assert [(m.id, m.data, m.priority) for m in storage.ready_items()] == [(b, b"retry", 1)]
    assert storage.counts() == counts(ready=1)


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


def test_ids_ending_finds_short_ids_in_every_state(storage: Storage) -> None:
    running = run_one(storage, consumer="c1")
    ready = ["01a232ee-6953-7003-8683-6bebf047aacb", "01a232ee-6953-7003-8683-6bebf147aacb"]
    storage.enqueue([Message(i, b"r") for i in ready])
    assert storage.ids_ending(running[-8:]) == [running]
    assert storage.ids_ending("f047aacb") == [ready[0]]
    assert storage.ids_ending("47aacb") == ready
    assert storage.ids_ending("47aacb", limit=1) in ([ready[0]], [ready[1]])
    assert storage.ids_ending("0000dead") == []


# --- await_result (asyncio) ---------------------------------------------------------------
def test_await_result_returns_a_value_already_there_and_times_out(storage: Storage) -> None:
    storage.put("result:x", b"v")

    async def main() -> None:
        assert await storage.await_result("result:x", 3.0, pop=False) == b"v"
        assert await storage.await_result("result:x", 3.0, pop=True) == b"v"
        assert storage.peek("result:x") is None
        start = time.monotonic()
        assert await storage.await_result("result:x", 0.2, pop=True) is None
        assert 0.15 <= time.monotonic() - start < 2.0
        await storage.aclose()

    asyncio.run(main())


def test_await_result_is_woken_by_the_finish_that_writes_it(storage: Storage) -> None:
    task_id = run_one(storage)
    outcome = Outcome(results=[("result:" + task_id, b"42")])

    async def main() -> float:
        waiting = asyncio.ensure_future(storage.await_result("result:" + task_id, 10.0, True))
        await asyncio.sleep(0.2)
        done = await asyncio.to_thread(storage.finish, "c1", task_id, NOW + 1, outcome)
        assert done is None
        start = time.monotonic()
        assert await waiting == b"42"
        await storage.aclose()
        return time.monotonic() - start

    assert asyncio.run(main()) < 1.0  # woken (Redis) or the next look (0.1 s at most)
    assert storage.peek("result:" + task_id) is None


def test_await_result_cancelled_takes_nothing(storage: Storage) -> None:
    task_id = run_one(storage)

    async def main() -> None:
        waiting = asyncio.ensure_future(storage.await_result("result:" + task_id, 10.0, True))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await storage.aclose()

    asyncio.run(main())
    outcome = Outcome(results=[("result:" + task_id, b"kept")])
    assert storage.finish("c1", task_id, NOW + 1, outcome) is None
    assert storage.peek("result:" + task_id) == b"kept"
