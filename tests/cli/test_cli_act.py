"""The commands that steer a queue: enqueue, revoke/restore, retry, delete, purge, flush-locks.

Each test builds its data with the facade (and the in-process worker step), runs the
command through click's CliRunner against real Redis and SQLite, and checks stdout,
stderr and the exit code. Shared helpers: ``support/cli.py``; fixtures: ``conftest.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from support.cli import (
    Queue,
    one_line_error,
    tty,
)

from engine.executor import Executor
from engine.inspect import Inspector
from engine.scheduler import Scheduler
from hueyctl import bulk, render, resolve


# --- enqueue ------------------------------------------------------------------------------
def test_enqueue_parses_json_args_and_prints_the_id(q: Queue) -> None:
    q.huey.enqueue_by_name("tasks.add", (0, 0))  # known to the queue without the app
    r = q.ok(
        "enqueue",
        "tasks.add",
        "1",
        "2.5",
        "true",
        "null",
        "[1, 2]",
        "hello",
        '"7"',
        "--kwargs",
        '{"x": {"y": 1}}',
        "--priority",
        "4",
    )
    task_id = r.stdout.strip()
    assert "enqueued tasks.add as " + task_id in r.stderr
    info = Inspector(q.huey).task(task_id)
    assert info is not None and info.name == "tasks.add" and info.priority == 4
    assert info.args == [1, 2.5, True, None, [1, 2], "hello", "7"]
    assert info.kwargs == {"x": {"y": 1}}

    short = q.ok("enqueue", "add", "1", "2").stdout.strip()  # short name, known from the store
    assert Inspector(q.huey).task(short).name == "tasks.add"
    negative = q.ok("enqueue", "tasks.add", "--", "-1", "2").stdout.strip()
    assert Inspector(q.huey).task(negative).args == [-1, 2]


def test_enqueue_delay_and_eta(q: Queue) -> None:
    q.add(1)  # makes tasks.add known without the app
    delayed = q.ok("enqueue", "add", "1", "1", "--delay", "90s").stdout.strip()
    info = Inspector(q.huey).task(delayed)
    assert info.state == "scheduled" and abs(info.eta - (time.time() + 90)) < 5

    seconds = q.ok("enqueue", "add", "1", "1", "--delay", "30").stdout.strip()
    assert abs(Inspector(q.huey).task(seconds).eta - (time.time() + 30)) < 5

    local = (dt.datetime.now() + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    at = q.ok("enqueue", "add", "1", "1", "--eta", local.strftime("%Y-%m-%d %H:%M")).stdout
    assert Inspector(q.huey).task(at.strip()).eta == local.timestamp()  # naive = local

    aware = "2099-01-01T00:00:00+00:00"
    at = q.ok("enqueue", "add", "1", "1", "--eta", aware).stdout.strip()
    assert Inspector(q.huey).task(at).eta == dt.datetime.fromisoformat(aware).timestamp()


def test_enqueue_wait_prints_the_result(q: Queue) -> None:
    stop = threading.Event()
    worker = Executor(q.huey, "c-wait")

    def run() -> None:
        while not stop.is_set():
            if not worker.step(time.time()):
                time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        q.add(1, delay=3600)  # known to the queue (the worker would consume a pending one)
        r = q.ok("enqueue", "add", "20", "22", "--wait", "--timeout", "10")
        assert r.stdout == "42\n" and "waiting" in r.stderr
        r = q.cli("enqueue", "tasks.boom", "--force", "--wait", "--timeout", "10")
        assert r.exit_code == 1 and r.stdout == "" and "Traceback" not in r.stderr
        assert "failed: ValueError('boom')" in r.stderr.splitlines()[-1]
    finally:
        stop.set()
        thread.join(5)
    r = q.cli("enqueue", "tasks.add", "1", "1", "--wait", "--timeout", "0.2")
    assert r.exit_code == 1 and "no result within 0.2s" in r.stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["nosuch.task"], 1, "no task named 'nosuch.task'"),
        (["tasks.ad"], 1, "did you mean tasks.add"),
        (["tasks.add", '{"a": 1'], 2, "looks like JSON but does not parse"),
        (["tasks.add", "[1,"], 2, "argument 1"),
        (["tasks.add", "--kwargs", "{nope}"], 2, "--kwargs is not valid JSON"),
        (["tasks.add", "--kwargs", "[1]"], 2, "must be a JSON object"),
        (["tasks.add", "--eta", "2001-01-01 10:00"], 2, "is in the past"),
        (["tasks.add", "--eta", "tomorrow"], 2, "is not a time"),
        (["tasks.add", "--delay", "soon"], 2, "is not a duration"),
        (["tasks.add", "--delay", "5", "--eta", "1h"], 2, "not both"),
        (["tasks.add", "--timeout", "3"], 2, "goes with --wait"),
    ],
)
def test_enqueue_bad_input_changes_nothing(
    q: Queue, args: list[str], code: int, fragment: str
) -> None:
    q.add(1)
    q.huey.enqueue_by_name("tasks.boom")
    before = q.snapshot()
    one_line_error(q.cli("enqueue", *args), code, fragment)
    assert q.snapshot() == before


def test_enqueue_unknown_name_with_force_and_ambiguous_short_name(q: Queue) -> None:
    forced = q.ok("enqueue", "brand.new_task", "--force").stdout.strip()
    assert Inspector(q.huey).task(forced).name == "brand.new_task"
    q.huey.enqueue_by_name("tasks.add", (1, 1))
    q.huey.enqueue_by_name("other.add", (1, 1))
    one_line_error(q.cli("enqueue", "add"), 1, "could be other.add, tasks.add")


# --- revoke / restore ---------------------------------------------------------------------
def test_revoke_periodic_by_short_name_until_and_restore(q: Queue) -> None:
    Scheduler(q.huey).publish()
    r = q.ok("revoke", "print_time", "--until", "2h")
    assert "revoked every call of tasks.print_time until" in r.stderr
    (p,) = q.json("periodic")
    assert p["revoked"] is True and abs(p["revoked_until"] - (time.time() + 7200)) < 5
    assert "until" in q.ok("periodic").stdout

    local = (dt.datetime.now() + dt.timedelta(days=2)).replace(second=0, microsecond=0)
    q.ok("revoke", "print_time", "--until", local.strftime("%Y-%m-%d %H:%M"))
    assert q.json("periodic")[0]["revoked_until"] == local.timestamp()

    assert "restored every call of tasks.print_time" in q.ok("restore", "print_time").stderr
    assert q.json("periodic")[0]["revoked"] is False
    again = q.ok("restore", "print_time")  # nothing to lift: exit 0 (set -e scripts go on)
    assert "is not revoked" in again.stderr and "nothing to restore" in again.stderr


def test_revoke_once_and_by_id(q: Queue) -> None:
    ids = q.add(2)
    q.ok("revoke", "tasks.add", "--once")
    (rev,) = q.json("revocations")
    assert (rev["target"], rev["kind"], rev["once"], rev["until"]) == (
        "tasks.add",
        "task",
        True,
        None,
    )
    assert all(r["revoked"] for r in q.json("pending"))
    q.ok("restore", "tasks.add")

    r = q.ok("revoke", ids[1][:-3])
    assert f"revoked task {ids[1]} (tasks.add, ready)" in r.stderr
    rows = q.json("pending")
    assert [r["revoked"] for r in rows] == [False, True]
    assert q.json("show", ids[1])["revoked"] is True
    q.ok("restore", ids[1][:-3])
    assert q.json("revocations") == []


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["print_time", "--until", "2001-01-01 10:00"], 2, "is in the past"),
        (["print_time", "--until", "next week"], 2, "is not a time"),
        (["print_time", "--until", "0s"], 2, "is in the past"),
        (["no_such_task"], 1, "no task named 'no_such_task'"),
        (["ffffffff-ffff"], 1, "no task named 'ffffffff-ffff'"),
    ],
)
def test_revoke_bad_input_changes_nothing(
    q: Queue, args: list[str], code: int, fragment: str
) -> None:
    Scheduler(q.huey).publish()
    q.add(1)
    before = q.snapshot()
    one_line_error(q.cli("revoke", *args), code, fragment)
    assert q.snapshot() == before


def test_revoke_unknown_name_with_force(q: Queue) -> None:
    q.ok("revoke", "future.task", "--force", "--until", "1d")
    (rev,) = q.json("revocations")
    assert rev["target"] == "future.task" and abs(rev["until"] - time.time() - 86400) < 5


# --- retry / delete / purge / flush-locks ------------------------------------------------
def test_retry_one_dead_letter_by_prefix(q: Queue) -> None:
    task_id = q.dead()
    r = q.ok("retry", task_id[:-4])
    assert f"retried tasks.boom {task_id}" in r.stderr
    assert q.json("failed") == []
    assert [p["id"] for p in q.json("pending")] == [task_id]
    one_line_error(q.cli("retry", task_id), 1, "is ready, not a dead letter")
    one_line_error(q.cli("retry", "ffffffff-ffff"), 1, "no task with id")
    one_line_error(q.cli("retry"), 2, "--all")
    one_line_error(q.cli("retry", task_id, "--all"), 2, "--all")
    # --task alone is a bulk retry now (a filter): here nothing matches
    assert (
        "no dead letter(s) matching state=dead task=boom" in q.ok("retry", "--task", "boom").stderr
    )


def test_retry_all_with_task_filter_and_confirmation(
    q: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    booms = [q.dead(), q.dead()]
    bad = q.dead("tasks.bad")
    # no terminal to ask: refused in one line, nothing changed
    one_line_error(q.cli("retry", "--all"), 1, "Retry 3 dead letter(s)", "nothing changed")
    monkeypatch.setattr(render, "stdin_is_tty", lambda: True)
    r = q.cli("retry", "--all", input="n\n")
    assert r.exit_code == 1 and "nothing changed" in r.stderr and "Retry 3 dead letter" in r.stderr
    assert len(q.json("failed")) == 3

    r = q.ok("retry", "--all", "--task", "boom", "--yes")
    assert "retried 2 of 2 matching; 0 skipped (already gone)" in r.stderr
    assert [f["id"] for f in q.json("failed")] == [bad]
    assert sorted(p["id"] for p in q.json("pending")) == sorted(booms)

    r = q.ok("retry", "--all", input="y\n")
    assert "retried 1 of 1 matching" in r.stderr and q.json("failed") == []
    assert "no dead letter(s) matching state=dead" in q.ok("retry", "--all").stderr


def test_retry_all_shows_progress_on_a_terminal(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    tty(monkeypatch)
    monkeypatch.setattr(bulk, "PAGE", 2)
    for _ in range(5):
        q.dead()
    r = q.ok("retry", "--all", "--yes")
    assert "retry" in r.stderr and "retried 5 of 5 matching" in r.stderr
    assert q.json("failed") == [] and len(q.json("pending")) == 5


def test_delete_asks_then_deletes(q: Queue) -> None:
    ids = q.add(2)
    r = q.cli("delete", ids[0][:-2], input="n\n")
    assert r.exit_code == 1 and f"Delete task {ids[0]} (tasks.add, ready)?" in r.stderr
    assert len(q.json("pending")) == 2
    r = q.ok("delete", ids[0], "--yes")
    assert f"deleted task {ids[0]} (tasks.add, was ready)" in r.stderr
    assert [p["id"] for p in q.json("pending")] == [ids[1]]

    dead = q.dead()
    q.ok("delete", dead, input="y\n")
    assert q.json("failed") == []

    done = q.result()
    assert "deleted the result" in q.ok("delete", done, "--yes").stderr
    assert done not in [r["id"] for r in q.json("results")]

    running = q.huey.storage.claim("c-run", time.time(), 1, 30.0)[0].id
    one_line_error(q.cli("delete", running, "--yes"), 1, "is running and cannot be deleted")
    one_line_error(q.cli("delete", "ffffffff-ffff", "--yes"), 1, "no task with id")


@pytest.mark.parametrize("what", ["pending", "scheduled", "failed", "results"])
def test_purge_reports_counts(q: Queue, what: str) -> None:
    make = {
        "pending": lambda: q.add(3),
        "scheduled": lambda: q.add(3, delay=600),
        "failed": lambda: [q.dead() for _ in range(3)],
        "results": lambda: [q.result(i) for i in range(3)],
    }[what]
    make()
    keep = q.add(1, delay=900) if what != "scheduled" else q.add(1)
    r = q.cli("purge", what, input="n\n")
    assert r.exit_code == 1 and "Delete 3 " in r.stderr and "nothing changed" in r.stderr
    r = q.ok("purge", what, "--yes")
    label = {
        "pending": "pending tasks",
        "scheduled": "scheduled tasks",
        "failed": "dead letters",
        "results": "results",
    }[what]
    assert f"purged 3 {label}" in r.stderr
    assert q.json(what) == []
    assert Inspector(q.huey).task(keep[0]) is not None  # the rest is untouched
    assert "nothing to purge" in q.ok("purge", what, "--yes").stderr


def test_purge_in_batches_with_progress_on_a_terminal(
    q: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    tty(monkeypatch)
    monkeypatch.setattr(resolve, "PAGE", 4)
    q.add(11)
    r = q.ok("purge", "pending", "--yes")
    assert "purging pending tasks" in r.stderr and "purged 11 pending tasks" in r.stderr
    assert q.json("pending") == []


def test_purge_rejects_unknown_kind(q: Queue) -> None:
    r = q.cli("purge", "everything", "--yes")
    assert r.exit_code == 2 and "everything" in r.stderr


def test_flush_locks(q: Queue) -> None:
    assert q.huey.lock_task("reports").acquire()
    assert q.huey.lock_task("backup").acquire()
    r = q.cli("flush-locks", input="n\n")
    assert r.exit_code == 1 and q.huey.is_locked("reports")
    r = q.ok("flush-locks", "reports", "nothing", "--yes")
    assert "cleared 1 lock(s): reports" in r.stderr and "not held: nothing" in r.stderr
    assert not q.huey.is_locked("reports") and q.huey.is_locked("backup")
    assert "cleared 1 lock(s): backup" in q.ok("flush-locks", "--yes").stderr
