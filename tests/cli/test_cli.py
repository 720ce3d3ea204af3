"""The admin commands through click's CliRunner, against real Redis and SQLite.

Each test builds its data with the facade (and, for dead letters, events and
statistics, the in-process worker step), then runs the command with
``--url/--queue`` (or ``--app`` for an application module written to tmp_path)
and checks stdout (data), stderr (messages) and the exit code.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from engine import RedisHuey, SqliteHuey, crontab
from engine.api import Huey
from engine.inspect import Inspector
from engine.scheduler import Scheduler
from engine.telemetry import Telemetry, registry_record
from engine.worker import Worker
from hueyctl import render, resolve
from hueyctl.cli import main
from hueyctl.commands import overview

# Documented JSON field names: changing one of these is a breaking change.
TASK_FIELDS = {
    "id",
    "name",
    "state",
    "args",
    "kwargs",
    "priority",
    "eta",
    "retries",
    "attempt",
    "enqueued_at",
    "expires",
    "claimed_at",
    "failed_at",
    "worker",
    "deliveries",
    "reason",
    "error",
    "revoked",
}
SHOW_FIELDS = TASK_FIELDS | {"envelope", "result"}
RESULT_FIELDS = {"id", "ok", "value", "error", "traceback"}
STATUS_FIELDS = {
    "queue",
    "store",
    "ready",
    "scheduled",
    "running",
    "dead",
    "workers",
    "at",
    "throughput",
    "tasks",
}
MINUTE_FIELDS = {"minute", "count", "failures", "total", "max"}
TASK_STATS_FIELDS = {"task", "count", "failures", "avg", "max"}
WORKER_FIELDS = {
    "id",
    "host",
    "pid",
    "version",
    "started",
    "heartbeat",
    "concurrency",
    "worker_type",
    "running",
    "processed",
    "failed",
    "lease_until",
    "alive",
}
PERIODIC_FIELDS = {
    "name",
    "crontab",
    "utc",
    "next_run",
    "last_run",
    "revoked",
    "revoked_until",
    "revoke_once",
}
EVENT_FIELDS = {"id", "ts", "event", "task_id", "task", "worker", "error", "runtime"}
REVOCATION_FIELDS = {"target", "kind", "until", "once"}

CLEAN_ENV = {"HUEYCTL_APP": None, "HUEYCTL_URL": None, "HUEYCTL_QUEUE": None}
ROOT = Path(__file__).resolve().parents[2]


def register(huey: Huey) -> None:
    @huey.task(name="tasks.add")
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task(name="tasks.boom")
    def boom() -> None:
        raise ValueError("boom")

    @huey.task(name="tasks.bad")
    def bad() -> None:
        raise KeyError("bad")

    @huey.periodic_task(crontab(minute="*/5"), name="tasks.print_time")
    def print_time() -> None:
        pass


class Queue:
    """A queue filled through the facade, and the CLI pointed at it with --url/--queue."""

    def __init__(self, huey: Huey, url: str, backend: str) -> None:
        self.huey, self.url, self.backend = huey, url, backend
        self.runner = CliRunner(env=CLEAN_ENV)

    @property
    def opts(self) -> list[str]:
        return ["--url", self.url, "--queue", self.huey.name]

    def cli(self, command: str, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(main, [*command.split(), *self.opts, *args], input=input)

    def ok(self, command: str, *args: str, input: str | None = None) -> Result:
        r = self.cli(command, *args, input=input)
        assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr, r.exception)
        return r

    def json(self, command: str, *args: str) -> Any:
        return json.loads(self.ok(command, *args, "--json").stdout)

    # --- data ---------------------------------------------------------------------
    def add(self, n: int = 1, **options: Any) -> list[str]:
        return [self.huey.enqueue_by_name("tasks.add", (i, i), **options).id for i in range(n)]

    def dead(self, name: str = "tasks.boom") -> str:
        """A dead letter: the task fails in an in-process worker step."""
        task_id = self.huey.enqueue_by_name(name, priority=100).id
        assert Worker(self.huey, "c1").step(time.time())
        assert self.huey.storage.locate(task_id).state == "dead"
        return task_id

    def result(self, a: int = 1) -> str:
        """A finished task with a stored result."""
        task_id = self.huey.enqueue_by_name("tasks.add", (a, a), priority=100).id
        assert Worker(self.huey, "c1").step(time.time())
        return task_id

    def snapshot(self) -> tuple[Any, ...]:
        insp = Inspector(self.huey)
        o = insp.overview(1)
        ids = [i.id for i in insp.pending(0, 1000) + insp.scheduled(0, 1000)]
        return (
            o.ready,
            o.scheduled,
            o.running,
            o.dead,
            ids,
            insp.revocations(),
            self.huey.result_count(),
        )


@pytest.fixture(params=["redis", "sqlite"])
def q(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Queue]:
    name = f"cli-{uuid.uuid4().hex[:12]}"
    huey: Huey
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        huey = RedisHuey(name, url=url)
    else:
        path = tmp_path / "q.db"
        huey = SqliteHuey(name, filename=str(path))
        huey.pending_count()  # creates the file: hueyctl never does
        url = f"sqlite:///{path}"
    register(huey)
    yield Queue(huey, url, request.param)
    huey.flush()
    huey.storage.close()


def one_line_error(r: Result, code: int, *fragments: str) -> str:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hueyctl: "), r.stderr
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "stdout_is_tty", lambda: True)
    monkeypatch.setattr(render, "stderr_is_tty", lambda: True)


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
    assert "result  10" in q.ok("show", done).stdout


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
    worker = Worker(q.huey, "c-wait")

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
    one_line_error(q.cli("restore", "print_time"), 1, "is not revoked")


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
    one_line_error(q.cli("retry", "--task", "boom"), 2, "--task goes with --all")


def test_retry_all_with_task_filter_and_confirmation(q: Queue) -> None:
    booms = [q.dead(), q.dead()]
    bad = q.dead("tasks.bad")
    r = q.cli("retry", "--all", input="n\n")
    assert r.exit_code == 1 and "nothing changed" in r.stderr and "Put 3 dead letter" in r.stderr
    assert len(q.json("failed")) == 3

    r = q.ok("retry", "--all", "--task", "boom", "--yes")
    assert "retried 2 dead letter(s) of boom" in r.stderr
    assert [f["id"] for f in q.json("failed")] == [bad]
    assert sorted(p["id"] for p in q.json("pending")) == sorted(booms)

    r = q.ok("retry", "--all", input="y\n")
    assert "retried 1 dead letter" in r.stderr and q.json("failed") == []
    assert "no dead letters to retry" in q.ok("retry", "--all").stderr


def test_retry_all_shows_progress_on_a_terminal(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    tty(monkeypatch)
    monkeypatch.setattr(resolve, "PAGE", 2)
    for _ in range(5):
        q.dead()
    r = q.ok("retry", "--all", "--yes")
    assert "retrying" in r.stderr and "retried 5 dead letter(s)" in r.stderr
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
    ids = q.add(3)
    r = q.ok("pending")
    assert "─" in r.stdout and ids[0] in r.stdout
    assert "1-3 of 3" in r.stderr  # where this page sits, on stderr
    r = q.ok("pending", "--limit", "2")
    assert "1-2 of 3" in r.stderr and "--offset 2 for more" in r.stderr
    assert json.loads(q.ok("pending", "--json").stdout)[0]["id"] == ids[0]


# --- connection errors -------------------------------------------------------------------------
def run(*args: str, input: str | None = None) -> Result:
    return CliRunner(env=CLEAN_ENV).invoke(main, list(args), input=input)


@pytest.mark.parametrize(
    "command", ["status", "pending", "failed --json", "periodic", "workers", "events", "results"]
)
def test_unreachable_redis_is_exit_69(command: str) -> None:
    r = run(*command.split(), "--url", "redis://:hunter2@127.0.0.1:1/0", "--queue", "x")
    line = one_line_error(r, 69, "cannot reach Redis at redis://:***@127.0.0.1:1/0")
    assert "hunter2" not in line


def test_unreachable_redis_actions_change_nothing_and_say_so() -> None:
    for args in (
        ["enqueue", "tasks.add", "1"],
        ["purge", "pending", "--yes"],
        ["revoke", "tasks.add", "--until", "1h"],
        ["retry", "--all", "--yes"],
    ):
        r = run(args[0], "--url", "redis://127.0.0.1:1", *args[1:])
        one_line_error(r, 69, "cannot reach Redis")


@pytest.mark.parametrize(
    ("url", "code", "fragment"),
    [
        ("mysql://user:hunter2@db/x", 2, "unsupported store URL 'mysql://user:***@db/x'"),
        ("localhost:6379", 2, "unsupported store URL"),
        ("redis://:hunter2@localhost:port/0", 2, "invalid Redis URL"),
        ("sqlite://", 2, "invalid SQLite URL"),
        ("unix:///no/such/redis.sock", 69, "cannot reach Redis"),
    ],
)
def test_bad_urls(url: str, code: int, fragment: str) -> None:
    line = one_line_error(run("status", "--url", url), code, fragment)
    assert "hunter2" not in line


def test_redis_database_out_of_range(redis_url: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    one_line_error(run("status", "--url", f"{base}/999"), 2, "DB index is out of range")


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    one_line_error(run("pending", "--url", f"sqlite:///{path}"), 69, f"no SQLite store at {path}")
    one_line_error(run("enqueue", "--url", f"sqlite:///{path}", "x.y", "--force"), 69)
    assert not path.exists()


def test_no_connection_given_is_a_usage_error() -> None:
    r = run("status")
    assert r.exit_code == 2 and "--app module.attr" in r.stderr and "Traceback" not in r.stderr


def test_env_vars_select_the_queue(q: Queue) -> None:
    q.add(2)
    env = {"HUEYCTL_URL": q.url, "HUEYCTL_QUEUE": q.huey.name}
    r = CliRunner(env={**CLEAN_ENV, **env}).invoke(main, ["pending", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 2


# --- with the application (--app) ------------------------------------------------------------
APP = """
from engine import {cls}, crontab

huey = {cls}({name!r}, {where})


@huey.task(retries=2, priority=5)
def add(a, b):
    return a + b


@huey.task()
def boom():
    raise ValueError('boom')


@huey.periodic_task(crontab(minute='0', hour='*/6'))
def print_time():
    pass
"""


@pytest.fixture(params=["redis", "sqlite"])
def app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """``tasks.py`` in tmp_path (task names tasks.add, tasks.print_time ...) on sys.path."""
    name = f"app-{uuid.uuid4().hex[:12]}"
    if request.param == "redis":
        where = f"url={request.getfixturevalue('redis_url')!r}"
        cls = "RedisHuey"
    else:
        where = f"filename={str(tmp_path / 'app.db')!r}"
        cls = "SqliteHuey"
    (tmp_path / "tasks.py").write_text(textwrap.dedent(APP.format(cls=cls, name=name, where=where)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tasks", raising=False)
    module = importlib.import_module("tasks")
    module.huey.pending_count()
    yield module
    module.huey.flush()
    module.huey.storage.close()
    sys.modules.pop("tasks", None)


def app_cli(*args: str, input: str | None = None) -> Result:
    command, *rest = args
    return run(*command.split(), "--app", "tasks.huey", *rest, input=input)


def test_app_revoke_short_name_until_and_periodic(app: Any) -> None:
    r = app_cli("periodic", "--json")
    assert r.exit_code == 0, r.stderr
    (p,) = json.loads(r.stdout)
    assert p["name"] == "tasks.print_time" and p["crontab"] == "0 */6 * * *"

    r = app_cli("revoke", "print_time", "--until", "1d")
    assert r.exit_code == 0 and "tasks.print_time" in r.stderr
    (p,) = json.loads(app_cli("periodic", "--json").stdout)
    assert p["revoked"] is True and abs(p["revoked_until"] - time.time() - 86400) < 5
    assert app.print_time.is_revoked()
    assert app_cli("restore", "print_time").exit_code == 0
    assert not app.print_time.is_revoked()

    one_line_error(app_cli("revoke", "print_tim"), 1, "registered in tasks.huey", "did you mean")


def test_app_enqueue_uses_the_task_defaults(app: Any) -> None:
    task_id = app_cli("enqueue", "add", "1", "2").stdout.strip()
    info = Inspector(app.huey).task(task_id)
    assert (info.name, info.priority, info.retries) == ("tasks.add", 5, 2)
    one_line_error(app_cli("enqueue", "nope"), 1, "no task named 'nope' is registered")


def test_app_show_failed_and_retry(app: Any) -> None:
    task_id = app.boom().id
    Worker(app.huey, "c1").step(time.time())
    rec = json.loads(app_cli("show", task_id[:-5], "--json").stdout)
    assert rec["state"] == "dead" and "ValueError: boom" in rec["error"]
    assert app_cli("retry", task_id).exit_code == 0
    assert app.huey.pending_count() == 1


def test_app_errors(app: Any) -> None:
    one_line_error(run("status", "--app", "nomodule_here.huey"), 2, "cannot import")
    one_line_error(run("status", "--app", "tasks.nothing"), 2, "has no attribute 'nothing'")
    one_line_error(run("status", "--app", "tasks.add"), 2, "not a Huey queue")
    one_line_error(run("status", "--app", "tasks.huey", "--queue", "other"), 2, "does not match")


def test_shell_completion_offers_task_names(app: Any) -> None:
    def complete(words: str) -> list[str]:
        env = {
            **CLEAN_ENV,
            "_HUEYCTL_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        r = CliRunner(env=env).invoke(main, [], prog_name="hueyctl")
        assert r.exit_code == 0, r.stderr
        return [line.split(",", 1)[1] for line in r.stdout.splitlines() if line]

    assert complete("hueyctl revoke -A tasks.huey print") == ["tasks.print_time"]
    assert complete("hueyctl enqueue -A tasks.huey tasks.") == [
        "tasks.add",
        "tasks.boom",
        "tasks.print_time",
    ]
    assert complete("hueyctl pending -A tasks.huey --task bo") == ["tasks.boom"]
    assert complete("hueyctl revoke print") == []  # no app: nothing to offer, no error
    assert "revoke" in complete("hueyctl rev")


def test_a_closed_pipe_ends_a_listing_quietly(tmp_path: Path) -> None:
    """`hueyctl pending | head -1`: no traceback, no "internal error", exit 1."""
    store = SqliteHuey("q", filename=str(tmp_path / "q.db"))
    for n in range(2000):  # far more than a pipe buffer holds
        store.enqueue_by_name("tasks.add", (n, n))
    argv = [sys.executable, "-m", "hueyctl", "pending", "--limit", "2000"]
    argv += ["--url", f"sqlite:///{tmp_path / 'q.db'}", "--queue", "q"]
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().split()[:2] == [b"ID", b"TASK"]
    proc.stdout.close()
    assert proc.wait(timeout=60) == 1 and proc.stderr.read() == b""
