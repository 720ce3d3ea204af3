"""The scheduler and the consumer's dispatcher step, with an injected clock.

``Scheduler.step(now)`` promotes due scheduled tasks, fires periodic tasks for
the whole minute ``now`` falls in (once per slot across consumers) and returns
how long it may sleep. ``Consumer.step(now)`` adds the lease: heartbeat,
recovery of lapsed consumers' tasks, and claiming; it is only ever stepped
here (never ``run()``/``start()``), and claimed tasks are run by hand from its
inbox with ``consumer.executor.run(...)``.

No sleeps and no threads: every time is an explicit epoch float.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine import MemoryHuey, crontab
from engine.api import Huey
from engine.consumer import PREFETCH_MAX, Consumer
from engine.executor import Executor
from engine.scheduler import LAST_RUN, SLOT, START_GRACE, Scheduler
from engine.storage.base import LEASE_LOST, NOT_OWNER, NOT_RUNNING, Message, new_task_id
from engine.wrapper import TaskWrapper

UTC = dt.UTC
# 12:00:00 UTC on Monday 2 March 2026: a whole minute (and a whole hour).
BASE = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
NEPAL_TZ = "NPT-5:45"  # UTC+5:45, no DST, POSIX form (no tz database needed)


def at(minute: int, second: float = 1.0) -> float:
    """``second`` seconds into the ``minute``-th minute after BASE."""
    return BASE + minute * 60 + second


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", NEPAL_TZ)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fired(huey: Huey, wrapper: TaskWrapper) -> int:
    """How many calls of ``wrapper`` wait in the ready queue."""
    return sum(1 for t in huey.pending() if t.name == wrapper.name)


def every_five(huey: Huey) -> TaskWrapper:
    @huey.periodic_task(crontab(minute="*/5"))
    def every_five_minutes() -> str:
        return "tick"

    return every_five_minutes


def fire_minutes(
    huey: Huey, wrapper: TaskWrapper, steps: list[tuple[Scheduler, float]]
) -> list[int]:
    """Step each scheduler at its time; return the minutes (after BASE) that fired."""
    out = []
    for sched, now in steps:
        before = fired(huey, wrapper)
        sched.step(now)
        after = fired(huey, wrapper)
        assert after - before in (0, 1), "a slot fired more than once"
        if after > before:
            out.append(int((now - BASE) // 60))
    return out


# --- promoting scheduled tasks --------------------------------------------------------


def test_promotes_due_scheduled_tasks(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    soon = add.schedule((1, 2), eta=time.time() + 100)
    later = add.schedule((3, 4), eta=time.time() + 200)
    (eta1, eta2) = [eta for _, eta in huey.storage.scheduled_items()]
    sched = Scheduler(huey, periodic=False)

    sched.step(eta1 - 0.01)
    assert huey.pending_count() == 0 and huey.scheduled_count() == 2
    sched.step(eta1)
    assert [t.id for t in huey.pending()] == [soon.id]
    assert huey.scheduled_count() == 1
    sched.step(eta2 + 500)
    assert {t.id for t in huey.pending()} == {soon.id, later.id}
    assert huey.scheduled_count() == 0

    w = Executor(huey, "c1", clock=lambda: eta2 + 500)
    while w.step(eta2 + 500):
        pass
    assert soon() == 3 and later() == 7


def test_promotes_more_than_one_batch() -> None:
    h = MemoryHuey("many")
    now = time.time()
    h.storage.schedule([(Message(new_task_id(), b"{}"), now - i) for i in range(2500)])
    Scheduler(h, periodic=False).step(now)
    assert h.pending_count() == 2500 and h.scheduled_count() == 0


def test_step_returns_wait_until_next_eta_capped_by_interval(huey: Huey) -> None:
    @huey.task()
    def one() -> int:
        return 1

    now = time.time()
    assert Scheduler(huey, interval=5).step(now) == 5
    one.schedule(eta=now + 0.25)
    assert Scheduler(huey, interval=5).step(now) == pytest.approx(0.25)
    assert Scheduler(huey, interval=0.1).step(now) == pytest.approx(0.1)
    # Once due, it is promoted and no longer counts.
    assert Scheduler(huey, interval=5).step(now + 0.25) == 5
    one.schedule(eta=now + 100)
    assert Scheduler(huey, interval=1.0).step(now) == 1.0
    assert Scheduler(huey, interval=3.0).step(now + 99) == pytest.approx(1.0)


def test_wait_stops_at_the_next_minute_when_periodic_tasks_exist(huey: Huey) -> None:
    every_five(huey)
    assert Scheduler(huey, interval=5).step(at(0, 58)) == pytest.approx(2)
    assert Scheduler(huey, interval=5).step(at(0, 30)) == 5
    assert Scheduler(huey, interval=1).step(at(3, 59.75)) == pytest.approx(0.25)
    # Without periodic scheduling the minute boundary does not matter.
    assert Scheduler(huey, periodic=False, interval=5).step(at(4, 58)) == 5


def test_wait_is_never_negative(huey: Huey) -> None:
    sched = Scheduler(huey, interval=5)
    huey.storage.schedule([(Message(new_task_id(), b"{}"), BASE + 10)])
    assert sched.step(BASE) == pytest.approx(5)
    assert sched.step(BASE + 7) == pytest.approx(3)
    assert sched.step(BASE + 10) == 5  # promoted


# --- periodic tasks -------------------------------------------------------------------


def test_crontab_fires_on_matching_minutes_only(huey: Huey) -> None:
    task = every_five(huey)
    sched = Scheduler(huey)
    minutes = fire_minutes(huey, task, [(sched, at(m)) for m in range(0, 12)])
    assert minutes == [0, 5, 10]
    assert 3 not in minutes


def test_crontab_fires_once_per_slot_with_many_steps_in_a_minute(huey: Huey) -> None:
    task = every_five(huey)
    sched = Scheduler(huey)
    steps = [(sched, at(m, s)) for m in range(0, 6) for s in (0.5, 1, 20, 59.9)]
    assert fire_minutes(huey, task, steps) == [0, 5]
    assert fired(huey, task) == 2


def test_two_schedulers_fire_each_slot_once(huey: Huey) -> None:
    task = every_five(huey)
    s1, s2 = Scheduler(huey), Scheduler(huey)
    steps = []
    for m in range(0, 16):
        first, second = (s1, s2) if m % 2 else (s2, s1)
        steps += [(first, at(m, 0.2)), (second, at(m, 0.4))]
    assert fire_minutes(huey, task, steps) == [0, 5, 10, 15]
    assert fired(huey, task) == 4


def test_two_consumers_fire_each_slot_once(huey: Huey) -> None:
    task = every_five(huey)
    c1 = Consumer(huey, consumer_id="c1", clock=lambda: BASE)
    c2 = Consumer(huey, consumer_id="c2", clock=lambda: BASE)
    for m in range(0, 11):
        c1.scheduler.step(at(m, 0.3))
        c2.step(at(m, 0.6))
        c1.step(at(m, 0.9))
    # The consumers also claimed the fired tasks; count slots, not ready tasks.
    slots = huey.storage.keys(SLOT + task.name + ":")
    assert sorted(int(k.rsplit(":", 1)[1]) for k in slots) == [
        int(BASE),
        int(BASE + 300),
        int(BASE + 600),
    ]
    counts = huey.storage.counts()
    assert counts.ready + counts.running == 3


def test_a_fired_slot_is_not_fired_again(huey: Huey) -> None:
    task = every_five(huey)
    sched = Scheduler(huey)
    sched.step(at(0, 1))
    assert fired(huey, task) == 1
    sched.step(at(0, 30))
    assert fired(huey, task) == 1
    # A consumer restarting within the same minute (inside the start grace).
    Scheduler(huey).step(at(0, 5))
    assert fired(huey, task) == 1
    assert huey.storage.map_get(LAST_RUN, task.name) == str(int(BASE)).encode()
    assert huey.storage.peek(f"{SLOT}{task.name}:{int(BASE)}") is not None


def test_a_missed_minute_is_not_fired_later(huey: Huey) -> None:
    task = every_five(huey)
    sched = Scheduler(huey)
    # Steps at 12:04:30 and then not again until 12:06:10: 12:05 was missed.
    assert fire_minutes(huey, task, [(sched, at(4, 30)), (sched, at(6, 10))]) == []
    assert fire_minutes(huey, task, [(sched, at(7, 1)), (sched, at(10, 1))]) == [10]


def test_a_minute_missed_while_no_scheduler_ran(huey: Huey) -> None:
    task = every_five(huey)
    assert fire_minutes(huey, task, [(Scheduler(huey), at(0))]) == [0]
    # Nobody ran from 12:01 to 12:06; a consumer starts at 12:06:01.
    restarted = Scheduler(huey)
    steps = [(restarted, at(m)) for m in range(6, 10)]
    assert fire_minutes(huey, task, steps) == []
    assert fired(huey, task) == 1


def test_start_grace(huey: Huey) -> None:
    @huey.periodic_task(crontab())  # every minute
    def each_minute() -> None:
        return None

    early = Scheduler(huey)
    assert fire_minutes(huey, each_minute, [(early, at(0, START_GRACE - 0.5))]) == [0]

    late = Scheduler(huey)
    assert fire_minutes(huey, each_minute, [(late, at(1, START_GRACE + 0.5))]) == []
    # ... and not later in that minute either, but the next minute fires.
    assert fire_minutes(huey, each_minute, [(late, at(1, 50)), (late, at(2, 30))]) == [2]


def test_periodic_false_never_fires(huey: Huey) -> None:
    task = every_five(huey)
    sched = Scheduler(huey, periodic=False)
    for m in range(0, 11):
        sched.step(at(m))
    assert fired(huey, task) == 0


def test_utc_mode_evaluates_crontabs_in_utc(local_tz: None) -> None:
    h = MemoryHuey("utc-mode")  # utc=True

    @h.periodic_task(crontab(minute="0", hour="12"))
    def noon() -> None:
        return None

    local_noon = dt.datetime(2026, 3, 2, 12, 0).timestamp()  # naive: local time
    assert dt.datetime.fromtimestamp(local_noon) == dt.datetime(2026, 3, 2, 12, 0)
    assert local_noon == BASE - (5 * 3600 + 45 * 60)
    assert Scheduler(h).utc is True

    assert fire_minutes(h, noon, [(Scheduler(h), local_noon + 1)]) == []
    assert fire_minutes(h, noon, [(Scheduler(h), BASE + 1)]) == [0]


def test_localtime_mode_evaluates_crontabs_in_local_time(local_tz: None) -> None:
    h = MemoryHuey("local-mode")

    @h.periodic_task(crontab(minute="0", hour="12"))
    def noon() -> None:
        return None

    local_noon = dt.datetime(2026, 3, 2, 12, 0).timestamp()
    assert dt.datetime.fromtimestamp(local_noon).strftime("%H:%M") == "12:00"
    assert dt.datetime.fromtimestamp(BASE).strftime("%H:%M") == "17:45"

    assert fire_minutes(h, noon, [(Scheduler(h, utc=False), BASE + 1)]) == []
    assert fire_minutes(h, noon, [(Scheduler(h, utc=False), local_noon + 1)]) == [
        int((local_noon - BASE) // 60)
    ]
    sched = Scheduler(h, utc=False)
    assert sched.clock_time(local_noon) == dt.datetime(2026, 3, 2, 12, 0)
    assert Scheduler(h).clock_time(BASE) == dt.datetime(2026, 3, 2, 12, 0)


def test_localtime_queue_defaults_the_scheduler_to_local(local_tz: None) -> None:
    h = MemoryHuey("local-queue", utc=False)

    @h.periodic_task(crontab(minute="0", hour="12"))
    def noon() -> None:
        return None

    sched = Scheduler(h)
    assert sched.utc is False
    local_noon = dt.datetime(2026, 3, 2, 12, 0).timestamp()
    assert fire_minutes(h, noon, [(sched, local_noon + 1)]) == [int((local_noon - BASE) // 60)]


def test_crontab_sees_the_whole_minute(huey: Huey) -> None:
    seen: list[dt.datetime] = []

    def validate(when: dt.datetime) -> bool:
        seen.append(when)
        return True

    @huey.periodic_task(validate)
    def anything() -> None:
        return None

    Scheduler(huey).step(at(0, 7.5))
    assert seen == [dt.datetime(2026, 3, 2, 12, 0)]
    assert seen[0].tzinfo is None


def test_a_failing_crontab_does_not_stop_the_others(huey: Huey) -> None:
    def broken(when: dt.datetime) -> bool:
        raise RuntimeError("bad schedule")

    @huey.periodic_task(broken)
    def never() -> None:
        return None

    task = every_five(huey)
    sched = Scheduler(huey)
    assert fire_minutes(huey, task, [(sched, at(0)), (sched, at(5))]) == [0, 5]
    assert fired(huey, never) == 0


def test_periodic_tasks_store_no_result(huey: Huey) -> None:
    task = every_five(huey)
    Scheduler(huey).step(at(0))
    (call,) = huey.pending()
    w = Executor(huey, "c1", clock=lambda: at(0, 2))
    assert w.step(at(0, 2))
    assert huey.result_count() == 0
    assert huey.result(call.id) is None
    assert task.name == call.name


# --- the consumer's step: leases, recovery, poison ------------------------------------


def consumer(huey: Huey, cid: str, clock: Clock, **options: Any) -> Consumer:
    options.setdefault("lease", 10)
    return Consumer(huey, consumer_id=cid, clock=clock, **options)


def test_consumer_step_promotes_and_claims(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    t0 = time.time()
    res = add.schedule((1, 2), eta=t0 + 5)
    clock = Clock(t0)
    c = consumer(huey, "A", clock)
    assert c.step(t0) == pytest.approx(1.0)  # nothing to claim: until the scheduler's tick
    assert c._inbox.empty()
    clock.now = t0 + 5
    # Promoted and claimed in the same round; fewer than it had room for, so the
    # loop may sleep (until new work wakes it) instead of asking again at once.
    assert c.step(t0 + 5) == pytest.approx(1.0)
    item = c._inbox.get_nowait()[1]
    assert item.id == res.id and item.deliveries == 1
    assert c.idle == 0
    assert c.executor.run(item) is None
    assert res() == 3


def test_lapsed_consumer_task_is_recovered_by_another(huey: Huey) -> None:
    calls: list[int] = []

    @huey.task()
    def work() -> int:
        calls.append(1)
        return len(calls)

    res = work()
    t0 = time.time()
    clock_a, clock_b = Clock(t0), Clock(t0)
    a, b = consumer(huey, "A", clock_a), consumer(huey, "B", clock_b)

    a.step(t0)
    item_a = a._inbox.get_nowait()[1]  # A claimed it ... and froze
    assert [r.consumer for r in huey.storage.running_items()] == ["A"]

    clock_b.now = t0 + 5
    b.step(t0 + 5)  # A's lease (t0 + 10) still holds
    assert b._inbox.empty()
    assert [r.consumer for r in huey.storage.running_items()] == ["A"]

    clock_b.now = t0 + 11
    b.step(t0 + 11)  # A's lease lapsed: B recovers and claims the task
    item_b = b._inbox.get_nowait()[1]
    assert item_b.id == res.id and item_b.deliveries == 2
    assert [r.consumer for r in huey.storage.running_items()] == ["B"]

    assert b.executor.run(item_b) is None
    assert res(preserve=True) == 1

    # A wakes up and finishes late: its commit is refused, B's result stands.
    clock_a.now = t0 + 12
    refused = a.executor.run(item_a)
    assert refused in (NOT_OWNER, NOT_RUNNING, LEASE_LOST)
    assert calls == [1, 1]
    assert res() == 1
    assert huey.storage.counts().running == 0


def test_heartbeat_keeps_a_busy_consumer_lease(huey: Huey) -> None:
    @huey.task()
    def work() -> int:
        return 1

    res = work()
    t0 = time.time()
    clock_a, clock_b = Clock(t0), Clock(t0)
    a, b = consumer(huey, "A", clock_a), consumer(huey, "B", clock_b)
    a.step(t0)
    item = a._inbox.get_nowait()[1]
    for t in (t0 + 3, t0 + 6, t0 + 9, t0 + 12):
        clock_a.now = t
        a.step(t)  # busy: claims nothing, but renews the lease
    clock_b.now = t0 + 15
    b.step(t0 + 15)
    assert b._inbox.empty()
    assert [r.consumer for r in huey.storage.running_items()] == ["A"]
    clock_a.now = t0 + 16
    assert a.executor.run(item) is None
    assert res() == 1


def test_poison_after_max_deliveries(huey: Huey) -> None:
    calls: list[int] = []

    @huey.task()
    def hangs() -> None:
        calls.append(1)

    res = hangs()
    t0 = time.time()
    a = consumer(huey, "A", Clock(t0), max_deliveries=2)
    b = consumer(huey, "B", Clock(t0 + 11), max_deliveries=2)
    c = consumer(huey, "C", Clock(t0 + 22), max_deliveries=2)

    a.step(t0)
    assert a._inbox.get_nowait()[1].deliveries == 1
    b.step(t0 + 11)
    assert b._inbox.get_nowait()[1].deliveries == 2
    c.step(t0 + 22)  # delivered twice without finishing: poison
    assert c._inbox.empty()
    (dead,) = huey.storage.dead_items()
    assert dead.id == res.id and dead.reason == "poison"
    assert huey.storage.counts().running == 0 and huey.pending_count() == 0
    assert calls == []


def test_consumer_flush_locks_on_start(huey: Huey) -> None:
    for name in ("a", "b"):
        assert huey.lock_task(name).acquire()
    consumer(huey, "A", Clock(time.time()), extra_locks=["a"])
    assert not huey.is_locked("a") and huey.is_locked("b")
    consumer(huey, "B", Clock(time.time()), flush_locks=True)
    assert not huey.is_locked("b")


def test_consumer_flush_locks_with_extra_locks(huey: Huey) -> None:
    for name in ("a", "b"):
        assert huey.lock_task(name).acquire()
    consumer(huey, "A", Clock(time.time()), flush_locks=True, extra_locks=["a"])
    assert not huey.is_locked("a") and not huey.is_locked("b")


def test_process_consumer_claims_ahead_by_how_long_tasks_take(huey: Huey) -> None:
    """A process worker runs its claims one after another: it claims ahead many short
    tasks (few round trips) but only one slow task at a time (none held back)."""
    naps: list[float] = []
    timer = [0.0]  # the consumer's run timer: a task "takes" what it is told, no sleep

    @huey.task()
    def work(seconds: float) -> None:
        naps.append(seconds)
        timer[0] += seconds + 0.0001  # 100 µs of overhead per task

    t0 = time.time()
    # Stepped at one instant, it beats once: the lease (whose lapse is reckoned on the
    # real monotonic clock) must outlast the test however slow the machine, or what
    # it claimed ahead is handed back unstarted and the rounds differ.
    c = consumer(huey, "P", Clock(t0), inline=True, periodic=False, lease=3600)
    c.timer = lambda: timer[0]

    def claims_per_round(until_run: int) -> list[int]:
        rounds = []
        while len(naps) < until_run:
            before = c._claimed_total
            c.step(t0)
            rounds.append(c._claimed_total - before)
        return rounds

    huey.enqueue_many(work.s(0) for _ in range(60))
    rounds = claims_per_round(60)
    assert rounds[0] == 4  # one to run and 3 ahead until it knows how long tasks take
    assert 8 < max(rounds) <= 1 + PREFETCH_MAX  # short tasks: many claimed ahead

    huey.enqueue_many(work.s(0.02) for _ in range(6))  # 20 ms each: over the 5 ms budget
    claims_per_round(66)  # the average runtime catches up with the slow tasks
    huey.enqueue_many(work.s(0.02) for _ in range(3))
    assert set(claims_per_round(69)) == {1}  # slow tasks: one at a time


def test_thread_consumer_claims_ahead_by_how_long_tasks_take(huey: Huey) -> None:
    """Threads: what the consumer gets through in about 5 ms (between none and 8 per
    thread), 4 per thread until it knows; a given --prefetch is kept."""
    c = consumer(huey, "T", Clock(time.time()), workers=4)
    assert c.room == 4 + 16  # idle threads plus 4 per thread
    c.prefetch.per_task = 0.00002  # a task finished every 20 µs
    assert c.room == 4 + 32  # capped at 8 per thread
    c.prefetch.per_task = 0.0005  # every 0.5 ms: 10 in 5 ms
    assert c.room == 4 + 10
    c.prefetch.per_task = 0.5  # slow tasks: only for idle threads
    assert c.room == 4
    fixed = consumer(huey, "F", Clock(time.time()), workers=4, prefetch=2)
    fixed.prefetch.per_task = 0.5
    assert fixed.room == 4 + 2


def test_tasks_waiting_for_their_commit_free_room_up_to_a_window(huey: Huey) -> None:
    """A task that has run holds no worker while its outcome waits in the committer's
    batch: up to one window (threads + prefetch) of those is not counted against the
    next claim; beyond it they count again, so at most two windows are unacknowledged."""
    c = consumer(huey, "W", Clock(time.time()), workers=4, prefetch=2)  # window 6

    def room(claimed: int, not_run: int) -> int:
        c._busy, c._held = claimed, not_run
        return c.room

    assert room(0, 0) == 6
    assert room(6, 6) == 0  # every thread busy and the prefetch full
    assert room(6, 0) == 6  # all six ran and wait for their commit: claim again
    assert room(8, 2) == 4  # two running; six waiting for the commit
    assert room(10, 2) == 2  # eight waiting: the two beyond the window count
    assert room(12, 0) == 0  # two windows unacknowledged: wait for the committer
    c._busy = c._held = 0
