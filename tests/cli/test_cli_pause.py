"""``hueyctl pause``, ``resume`` and ``cancel`` (issue 14) on Redis and SQLite through
click's CliRunner (``q`` fixture of conftest.py): messages, refusals, what status and
workers show. Real workers: tests/system/test_pause_cancel.py."""

from __future__ import annotations

import time

from support.cli import Queue, one_line_error

from engine import steering
from engine.consumer import Consumer


def test_pause_and_resume_the_queue(q: Queue) -> None:
    q.add(1)  # a queue the store has never seen is refused (a typo in --queue)
    r = q.ok("pause")
    assert "paused queue" in r.stderr and "'hueyctl resume' undoes it" in r.stderr
    (p,) = q.json("status")["pauses"]
    assert p["task"] is None and p["in_force"] and p["until"] is None and "@" in p["who"]
    status = q.ok("status")
    assert "note: queue paused by" in status.stderr
    assert "queue paused by" in q.ok("workers").stderr
    r = q.ok("resume")
    assert "resumed queue" in r.stderr
    assert q.json("status")["pauses"] == []
    assert "was not paused" in q.ok("resume").stderr
    events = [e["event"] for e in q.json("events")]
    assert events[-2:] == ["admin.pause", "admin.resume"]


def test_pause_for_a_while_and_a_task_name(q: Queue) -> None:
    one_line_error(q.cli("pause"), 1, "never been seen", "--force")
    r = q.ok("pause", "--for", "30m", "--force")
    assert "paused queue" in r.stderr
    q.add(1)  # tasks.add is known now
    r = q.ok("pause", "--for", "30m")
    assert "until" in r.stderr and "(in 30m)" in r.stderr
    q.ok("pause", "add")  # the last part of tasks.add
    pauses = q.json("status")["pauses"]
    assert [p["task"] for p in pauses] == [None, "tasks.add"]
    assert abs(pauses[0]["until"] - time.time() - 1800) < 60
    assert "task tasks.add paused by" in q.ok("status").stderr
    r = q.ok("resume", "add")
    assert "resumed task tasks.add; 0 parked call(s) back on the queue" in r.stderr


def test_bad_pause_input_is_one_line(q: Queue) -> None:
    q.add(1)
    one_line_error(q.cli("pause", "--for", "soon"), 2, "--for 'soon' is not a duration")
    one_line_error(q.cli("pause", "--for", "0s"), 2, "is not a duration")
    one_line_error(q.cli("pause", "tasks.nope"), 1, "tasks.nope")
    assert q.json("status")["pauses"] == []  # nothing changed


def test_parked_calls_go_back_in_order_on_resume(q: Queue) -> None:
    ids = q.add(3)
    q.ok("pause", "tasks.add")
    c = Consumer(q.huey, inline=True, worker_type="process", periodic=False)
    c.step(time.time())
    assert q.huey.storage.parked("tasks.add") == 3
    assert "3 call(s) parked" in q.ok("status").stderr
    shown = q.ok("show", ids[0][-8:])
    assert "parked" in shown.stdout
    r = q.ok("resume", "tasks.add")
    assert "3 parked call(s) back on the queue" in r.stderr
    assert [t["id"] for t in q.json("pending")] == ids


def test_cancel_a_waiting_call_deletes_it(q: Queue) -> None:
    (task_id,) = q.add(1)
    r = q.ok("cancel", task_id[-8:])
    assert f"cancelled task {task_id}: it was ready, now deleted" in r.stderr
    assert q.huey.pending_count() == 0
    later = q.huey.enqueue_by_name("tasks.add", (1, 1), delay=3600).id
    assert "it was scheduled" in q.ok("cancel", later).stderr
    assert [e["event"] for e in q.json("events")][-2:] == ["admin.cancel", "admin.cancel"]


def test_cancel_of_an_ended_call_says_so(q: Queue) -> None:
    done = q.result()
    r = q.ok("cancel", done)
    assert "has already finished: nothing to cancel" in r.stderr
    dead = q.dead()
    assert "already ended (a dead letter)" in q.ok("cancel", dead).stderr
    one_line_error(q.cli("cancel", "ffffffff"), 1, "no task with id")


def test_cancel_of_a_running_call_asks_its_worker(q: Queue) -> None:
    (task_id,) = q.add(1)
    q.huey.storage.claim("w1", time.time(), 1, 30)
    r = q.ok("cancel", task_id)
    assert "asked the worker running task" in r.stderr
    assert steering.cancel_requested(q.huey, task_id)
    one_line_error(q.cli("cancel", task_id, "--wait", "--timeout", "0.2"), 1, "still running")
