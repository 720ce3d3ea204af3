"""The read commands: status, listings, show, workers, periodic, revocations, events.

Each test builds its data with the facade (and the in-process worker step), runs the
command through click's CliRunner against real Redis and SQLite, and checks stdout,
stderr and the exit code. Shared helpers: ``support/cli.py``; fixtures: ``conftest.py``.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from support.cli import (
    EVENT_FIELDS,
    MINUTE_FIELDS,
    PERIODIC_FIELDS,
    RESULT_FIELDS,
    REVOCATION_FIELDS,
    SHOW_FIELDS,
    STATUS_FIELDS,
    TASK_FIELDS,
    TASK_STATS_FIELDS,
    WORKER_FIELDS,
    Queue,
    one_line_error,
    tty,
)

from engine.scheduler import Scheduler
from engine.telemetry import Telemetry, registry_record
from hueyctl.commands import overview


# --- status -----------------------------------------------------------------------------
def test_status_counts_throughput_and_json(q: Queue) -> None:
    telemetry = Telemetry(q.huey, "c1")
    telemetry.attach()
    q.dead()
    q.result()
    telemetry.flush()
    telemetry.detach()
    q.add(3)
    q.add(2, delay=600)

    rec = q.json("status", "--minutes", "5")
    assert set(rec) == STATUS_FIELDS
    assert (rec["ready"], rec["scheduled"], rec["running"], rec["dead"]) == (3, 2, 0, 1)
    assert rec["queue"] == q.huey.name
    assert len(rec["throughput"]) == 5 and set(rec["throughput"][0]) == MINUTE_FIELDS
    assert sum(m["count"] for m in rec["throughput"]) == 2
    assert sum(m["failures"] for m in rec["throughput"]) == 1
    assert {t["task"] for t in rec["tasks"]} == {"tasks.add", "tasks.boom"}
    assert set(rec["tasks"][0]) == TASK_STATS_FIELDS

    text = q.ok("status").stdout
    assert "pending    3" in text and "scheduled  2" in text and "failed     1" in text
    assert "2 done, 1 failed" in text
    assert "tasks.boom" in text  # the per-task table

    line = q.ok("status", "--jsonl").stdout.strip()
    assert json.loads(line)["ready"] == 3


def test_status_watch_refreshes_until_ctrl_c(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            q.add(2)
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(overview, "sleep", sleep)
    r = q.ok("status", "--watch", "2", "--jsonl")
    frames = [json.loads(line) for line in r.stdout.splitlines()]
    assert [f["ready"] for f in frames] == [0, 2]
    assert sleeps == [2.0, 2.0]
    one_line_error(q.cli("status", "--watch", "1", "--json"), 2, "--jsonl")


# --- listings -----------------------------------------------------------------------------
def test_pending_pagination_filters_and_formats(q: Queue) -> None:
    ids = q.add(7)
    other = q.huey.enqueue_by_name("tasks.bad", ("x",), {"k": [1, 2]}).id

    rows = q.json("pending")
    assert [r["id"] for r in rows] == [*ids, other]
    assert set(rows[0]) == TASK_FIELDS  # listings leave the envelope to `show`
    assert rows[0]["state"] == "ready" and rows[0]["args"] == [0, 0]
    assert isinstance(rows[0]["enqueued_at"], float)

    page = q.json("pending", "--limit", "3", "--offset", "2")
    assert [r["id"] for r in page] == ids[2:5]
    assert [r["id"] for r in q.json("pending", "--task", "bad")] == [other]
    assert [r["id"] for r in q.json("pending", "--task", "tasks.add", "--offset", "6")] == ids[6:]
    assert [r["id"] for r in q.json("pending", "--id", ids[3])] == [ids[3]]

    lines = q.ok("pending", "--jsonl", "--limit", "2").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids[:2]

    text = q.ok("pending").stdout.splitlines()
    assert text[0].split() == ["ID", "TASK", "PRIORITY", "ENQUEUED", "ATTEMPT", "REVOKED", "ARGS"]
    assert len(text) == 9
    assert text[1].startswith(ids[0]) and "tasks.add" in text[1] and text[1].endswith("0, 0")
    assert "tasks.bad" in text[8] and text[8].endswith('"x", k=[1, 2]')
    # columns line up in plain text
    assert len({line.index("tasks.") for line in text[1:]}) == 1

    empty = q.ok("pending", "--task", "nothing.here")
    assert empty.stdout == "" and "no pending tasks" in empty.stderr
    assert q.json("pending", "--task", "nothing.here") == []
    one_line_error(q.cli("pending", "--json", "--jsonl"), 2, "--json")


def test_scheduled_listing_is_by_eta(q: Queue) -> None:
    late = q.add(1, delay=3600)[0]
    soon = q.add(1, delay=60)[0]
    rows = q.json("scheduled")
    assert [r["id"] for r in rows] == [soon, late]
    assert rows[0]["state"] == "scheduled" and rows[0]["eta"] > time.time() + 50
    text = q.ok("scheduled").stdout.splitlines()
    assert text[0].split()[:4] == ["ID", "TASK", "ETA", "DUE"]
    assert re.search(r"  in (5\ds|1m)  ", text[1]) and re.search(r"  in (59m \d+s|1h)  ", text[2])


def test_running_listing_names_the_worker(q: Queue) -> None:
    q.add(3)
    claimed = q.huey.storage.claim("worker-9", time.time(), 2, 30.0)
    rows = q.json("running")
    assert sorted(r["id"] for r in rows) == sorted(c.id for c in claimed)
    assert {r["worker"] for r in rows} == {"worker-9"} and rows[0]["deliveries"] == 1
    assert len(q.json("running", "--limit", "1")) == 1
    assert q.json("running", "--task", "boom") == []
    assert "worker-9" in q.ok("running").stdout
    shown = q.json("show", claimed[0].id)
    assert shown["state"] == "running" and shown["worker"] == "worker-9"
    assert abs(shown["claimed_at"] - time.time()) < 5 and shown["eta"] is None
    assert "started" in q.ok("show", claimed[0].id).stdout


def test_failed_lists_dead_letters_with_their_error(q: Queue) -> None:
    first = q.dead()
    second = q.dead("tasks.bad")
    rows = q.json("failed")
    assert [r["id"] for r in rows] == [second, first]  # newest first
    assert rows[1]["reason"] == "failed" and rows[1]["error"].startswith("ValueError: boom")
    assert "Traceback" in rows[1]["error"]
    assert [r["id"] for r in q.json("failed", "--task", "tasks.boom")] == [first]
    text = q.ok("failed").stdout.splitlines()
    assert text[0].split()[:3] == ["ID", "TASK", "FAILED"]
    assert "ValueError: boom" in text[2] and "Traceback" not in "\n".join(text)


def test_results_listing_and_id_filter(q: Queue) -> None:
    ok_id = q.result(21)
    failed_id = q.dead()
    rows = {r["id"]: r for r in q.json("results")}
    assert set(rows) == {ok_id, failed_id}
    assert set(rows[ok_id]) == RESULT_FIELDS
    assert rows[ok_id]["ok"] is True and rows[ok_id]["value"] == 42
    assert rows[failed_id]["ok"] is False and "ValueError" in rows[failed_id]["error"]
    assert [r["id"] for r in q.json("results", "--id", ok_id[:-4])] == [ok_id]
    assert len(q.json("results", "--limit", "1")) == 1
    assert ok_id in q.ok("results").stdout
    one_line_error(q.cli("results", "--task", "add"), 2, "--id")


# --- show -------------------------------------------------------------------------------------
def test_show_dead_letter_by_prefix_with_traceback(q: Queue) -> None:
    task_id = q.dead()
    q.add(2)
    rec = q.json("show", task_id[:-6])
    assert set(rec) == SHOW_FIELDS
    assert rec["id"] == task_id and rec["name"] == "tasks.boom" and rec["state"] == "dead"
    assert rec["reason"] == "failed" and "Traceback" in rec["error"]
    assert rec["envelope"]["task"] == "tasks.boom" and rec["failed_at"] > 0
    assert rec["result"]["ok"] is False and "Traceback" in rec["result"]["traceback"]

    text = q.ok("show", task_id).stdout
    assert re.search(r"^state +failed$", text, re.M)
    assert "ValueError: boom" in text and "Traceback" in text
    assert "envelope" in text


def test_show_pending_finished_and_revoked(q: Queue) -> None:
    pending = q.add(1, priority=3)[0]
    q.huey.revoke_by_id(pending)
    rec = q.json("show", pending)
    assert rec["state"] == "ready" and rec["priority"] == 3 and rec["revoked"] is True
    assert rec["args"] == [0, 0] and rec["result"] is None
    assert "pending, revoked" in q.ok("show", pending).stdout  # the label of "ready"

    done = q.result(5)
    rec = q.json("show", done)
    assert rec["state"] == "finished" and rec["result"]["value"] == 10
    assert (rec["name"], rec["args"], rec["worker"], rec["outcome"]) == (
        "tasks.add",
        [5, 5],
        "c1",
        "complete",
    )
    lines = [line.split(None, 1) for line in q.ok("show", done).stdout.splitlines()]
    assert ["result", "10"] in lines and ["worker", "c1"] in lines


def test_show_unknown_and_ambiguous_ids(q: Queue) -> None:
    ids = q.add(2)
    one_line_error(q.cli("show", "ffffffff-0000"), 1, "no task with id 'ffffffff-0000'")
    common = ids[0][:8]  # both made in the same millisecond-ish window
    if ids[1].startswith(common):
        one_line_error(q.cli("show", common), 1, "matches 2 tasks", "more characters")


# --- workers, periodic, revocations -----------------------------------------------------
def test_workers_registry(q: Queue) -> None:
    now = time.time()
    running = {"01-task": ("tasks.add", now - 3)}
    record = registry_record("host-1:42:ab", now - 3600, now, 4, "thread", running, 10, 2, "q")
    q.huey.storage.map_set("workers", "host-1:42:ab", record)
    q.huey.storage.heartbeat("host-1:42:ab", now, 30)
    rows = q.json("workers")
    assert len(rows) == 1 and set(rows[0]) == WORKER_FIELDS
    w = rows[0]
    assert (w["concurrency"], w["processed"], w["failed"], w["alive"]) == (4, 10, 2, True)
    assert w["running"] == [{"id": "01-task", "name": "tasks.add", "started": now - 3}]
    text = q.ok("workers").stdout.splitlines()
    assert text[0].split()[:4] == ["WORKER", "HOST", "PID", "UPTIME"]
    assert "1h" in text[1] and "tasks.add" in text[1] and " ok " in text[1]
    assert "no workers" in q.ok("workers", "--url", q.url, "--queue", "empty-q").stderr


def test_a_worker_that_cannot_write_says_so_in_workers_and_status(q: Queue) -> None:
    now = time.time()
    store = {"persistent": False, "aof": False, "rdb": False, "eviction": "noeviction"}
    record = registry_record("host-1:42:ab", now - 60, now, 4, "thread", {}, 0, 0, "q",
                             store=store, state="full")  # fmt: skip
    q.huey.storage.map_set("workers", "host-1:42:ab", record)
    q.huey.storage.heartbeat("host-1:42:ab", now, 30)
    (w,) = q.json("workers")
    assert (w["store_state"], w["persistent"]) == ("full", False)
    assert " full " in q.ok("workers").stdout.splitlines()[1] + " "
    err = q.ok("status").stderr
    assert "worker host-1:42:ab: the store is full" in err
    assert "keeps nothing on disk" in err


def test_periodic_from_published_specs(q: Queue) -> None:
    assert q.json("periodic") == []
    Scheduler(q.huey).publish()
    rows = q.json("periodic")
    assert len(rows) == 1 and set(rows[0]) == PERIODIC_FIELDS
    p = rows[0]
    assert (p["name"], p["crontab"], p["utc"], p["revoked"]) == (
        "tasks.print_time",
        "*/5 * * * *",
        True,
        False,
    )
    assert time.time() < p["next_run"] <= time.time() + 300 and p["next_run"] % 300 == 0
    assert "*/5 * * * *" in q.ok("periodic").stdout


def test_revocations_listing(q: Queue) -> None:
    task_id = q.add(1)[0]
    q.huey.revoke_all("tasks.add", revoke_until=time.time() + 600)
    q.huey.revoke_by_id(task_id)
    rows = {r["target"]: r for r in q.json("revocations")}
    assert set(rows[task_id]) == REVOCATION_FIELDS
    assert rows["tasks.add"]["kind"] == "task" and rows["tasks.add"]["until"] > time.time()
    assert rows[task_id]["kind"] == "id" and rows[task_id]["once"] is True


# --- events ---------------------------------------------------------------------------------
def _record_run(q: Queue) -> None:
    telemetry = Telemetry(q.huey, "c1")
    telemetry.attach()
    q.result()
    telemetry.flush()
    telemetry.detach()


def test_events_listing(q: Queue) -> None:
    assert "no events yet" in q.ok("events").stderr
    _record_run(q)
    rows = q.json("events")
    assert [e["event"] for e in rows] == ["enqueued", "executing", "complete"]
    assert set(rows[0]) == EVENT_FIELDS and rows[2]["runtime"] is not None
    assert [e["event"] for e in q.json("events", "-n", "1")] == ["complete"]
    assert q.json("events", "--task", "boom") == []
    lines = q.ok("events").stdout.splitlines()
    assert len(lines) == 3 and "complete" in lines[2] and "tasks.add" in lines[2]


def test_events_follow_prints_new_events_until_ctrl_c(
    q: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record_run(q)
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            _record_run(q)
        elif len(polls) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(overview, "sleep", sleep)
    r = q.ok("events", "--follow", "-n", "1", "--jsonl")
    events = [json.loads(line)["event"] for line in r.stdout.splitlines()]
    assert events == ["complete", "enqueued", "executing", "complete"]
    assert polls == [0.5] * 4
    one_line_error(q.cli("events", "--follow", "--json"), 2, "--jsonl")


def test_events_follow_from_an_empty_stream(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:
            _record_run(q)
        elif len(polls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(overview, "sleep", sleep)
    r = q.ok("events", "-f")
    assert len(r.stdout.splitlines()) == 3  # printed once, not on every poll


# --- terminal output --------------------------------------------------------------------
def test_tables_are_drawn_with_rich_on_a_terminal(
    q: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    tty(monkeypatch)
    monkeypatch.setenv("COLUMNS", "160")  # wide enough for whole ids (80 shortens them)
    ids = q.add(3)
    r = q.ok("pending")
    assert "─" in r.stdout and ids[0] in r.stdout
    assert "1-3 of 3" in r.stderr  # where this page sits, on stderr
    r = q.ok("pending", "--limit", "2")
    assert "1-2 of 3" in r.stderr and "--offset 2 for more" in r.stderr
    assert json.loads(q.ok("pending", "--json").stdout)[0]["id"] == ids[0]


def test_running_tells_started_from_claimed_ahead(q: Queue) -> None:
    """A 2-thread worker that claimed 5 runs 2: the registry (its heartbeat) lists what
    started, the rest of what it holds in the store is claimed ahead (issue 13 item 5)."""
    now = time.time()
    ids = q.add(5)
    q.huey.storage.claim("host-1:42:ab", now, 5, 30)
    started = {ids[0]: ("tasks.add", now - 2), ids[1]: ("tasks.add", now - 1)}
    record = registry_record("host-1:42:ab", now - 60, now, 2, "thread", started, 0, 0, "q")
    q.huey.storage.map_set("workers", "host-1:42:ab", record)
    q.huey.storage.heartbeat("host-1:42:ab", now, 30)

    rows = {r["id"]: r for r in q.json("running")}
    assert set(rows) == set(ids)
    assert [rows[i]["claimed_ahead"] for i in ids] == [False, False, True, True, True]
    assert rows[ids[0]]["started_at"] == now - 2 and rows[ids[4]]["started_at"] is None
    text = q.ok("running").stdout
    assert text.count("claimed ahead") == 3, text

    rec = q.json("status")
    assert (rec["running"], rec["started"], rec["claimed_ahead"]) == (5, 2, 3)
    assert "5 (2 started, 3 claimed ahead)" in q.ok("status").stdout

    (w,) = q.json("workers")
    assert w["claimed_ahead"] == 3 and len(w["running"]) == 2
    header, row = q.ok("workers").stdout.splitlines()[:2]
    assert "AHEAD" in header and " 2/2 " in row + " " and " 3 " in row

    shown = q.json("show", ids[4])
    assert shown["claimed_ahead"] is True and shown["started_at"] is None
    assert "running (claimed ahead, not started)" in q.ok("show", ids[4]).stdout


def test_short_ids_are_suffixes_of_the_random_part(q: Queue) -> None:
    """Issue 13 item 7: UUIDv7 ids made in the same minute share their first 8
    characters; their last ones are random, so a suffix is what people type."""

    @q.huey.task(name="tasks.mark")
    def mark(n: int) -> None: ...

    ids = ["01a232ee-6953-7003-8683-6bebf047aacb", "01a232ee-6953-7003-8683-6bebf147aacb"]
    for n, task_id in enumerate(ids):
        task = mark.s(n)
        task.id = task_id
        q.huey.enqueue(task)
    assert q.json("show", "f047aacb")["id"] == ids[0]  # the last 8 hex digits
    assert q.json("show", "F147AACB")["id"] == ids[1]
    both = q.cli("show", "47aacb")  # lengthen it, as git does, when two share it
    assert both.exit_code == 1 and "matches 2 tasks" in both.stderr, both.stderr
    assert q.cli("show", "acb").exit_code == 1  # under 4 digits: a prefix only
    q.ok("delete", "f047aacb", "--yes")
    assert [r["id"] for r in q.json("pending")] == [ids[1]]
