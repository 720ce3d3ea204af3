"""What exists: ``hueyctl tasks`` (what workers serve), ``hueyctl queues`` (every queue
of the store), ``enqueue`` of a task a worker publishes with no application code, the
argument check against its signature, and the worker log an operator reads. The last
two run a real ``hueyctl worker`` process (tests/support/procs.py) on real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.cli import CLEAN_ENV, Queue, one_line_error
from support.procs import App, wait_for

from engine.consumer import Consumer
from engine.loader import connect
from hueyctl.cli import main

TASK_ENTRY_FIELDS = {
    "name",
    "workers",
    "stale",
    "in_app",
    "periodic",
    "signature",
    "params",
    "retries",
    "retry_delay",
    "priority",
    "timeout",
    "pending",
    "scheduled",
    "running",
    "failed",
    "counts_complete",
    "runs",
    "failures",
}
QUEUE_FIELDS = {
    "name",
    "ready",
    "scheduled",
    "running",
    "dead",
    "workers",
    "oldest_ready",
    "error",
}


def publish(q: Queue, cid: str = "w1") -> Consumer:
    """A worker of the app registers (its first heartbeat), as `hueyctl worker` would."""
    c = Consumer(q.huey, consumer_id=cid)
    c.beat(time.time())
    return c


# --- tasks -----------------------------------------------------------------------------------
def test_tasks_lists_what_workers_publish_without_the_app(q: Queue) -> None:
    assert q.ok("tasks").stdout == ""  # no worker yet: nothing known
    publish(q)
    q.add(3)
    rows = {r["name"]: r for r in q.json("tasks")}
    assert set(rows) == {"tasks.add", "tasks.bad", "tasks.boom", "tasks.print_time"}
    add = rows["tasks.add"]
    assert set(add) == TASK_ENTRY_FIELDS
    assert add["workers"] == ["w1"] and add["signature"] == "(a, b)" and add["pending"] == 3
    assert add["params"] == [
        {"name": "a", "kind": "positional_or_keyword", "default": None},
        {"name": "b", "kind": "positional_or_keyword", "default": None},
    ]
    assert rows["tasks.print_time"]["periodic"] == "*/5 * * * *"
    lines = q.ok("tasks").stdout.splitlines()
    assert lines[0].split()[:4] == ["TASK", "SIGNATURE", "PERIODIC", "WORKERS"]
    assert any(line.startswith("tasks.add ") and " (a, b) " in line for line in lines)
    jsonl = q.ok("tasks", "--jsonl").stdout.splitlines()
    assert [json.loads(line)["name"] for line in jsonl] == sorted(rows)


def write_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tasks: str) -> str:
    """An application module on SQLite (its store made); returns its ``module.huey``."""
    module = f"app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "from engine import SqliteHuey\n"
        f"huey = SqliteHuey('appq', filename={str(tmp_path / 'app.db')!r})\n"
        "huey.pending_count()\n" + tasks
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{module}.huey"


def test_tasks_with_the_app_lists_its_tasks_even_without_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = write_app(
        tmp_path, monkeypatch, "@huey.task(name='tasks.add')\ndef add(a, b=1):\n    return a + b\n"
    )
    runner = CliRunner(env=CLEAN_ENV)
    r = runner.invoke(main, ["tasks", "--json", "-A", app])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert row["name"] == "tasks.add" and row["in_app"] and row["workers"] == []
    assert row["signature"] == "(a, b=1)"
    assert "app only" in runner.invoke(main, ["tasks", "-A", app]).stdout


def test_a_damaged_catalog_never_breaks_the_listing(q: Queue) -> None:
    c = publish(q)
    q.huey.storage.map_set("catalog", c.catalog_digest, b'{"tasks": {"x.y": [1], "x.z": {}}}')
    q.huey.storage.map_set("catalog", "f" * 16, b"\xff not json")
    q.huey.storage.map_set("workers", "w2", json.dumps({"id": "w2", "catalog": "f" * 16}).encode())
    rows = {r["name"]: r for r in q.json("tasks")}
    assert set(rows) == {"x.z"} and rows["x.z"]["signature"] is None
    assert q.ok("enqueue", "x.z", "1", "2").stdout  # no signature known: not checked


# --- enqueue ---------------------------------------------------------------------------------
def test_enqueue_checks_arguments_against_the_published_signature(q: Queue) -> None:
    publish(q)
    one_line_error(
        q.cli("enqueue", "add", "1"),
        2,
        "tasks.add(a, b): missing a required argument: 'b'",
        "--force",
    )
    one_line_error(q.cli("enqueue", "add", "1", "2", "3"), 2, "too many positional arguments")
    one_line_error(
        q.cli("enqueue", "add", "1", "--kwargs", '{"c": 1}', "--", "2"),
        2,
        "unexpected keyword argument 'c'",
    )
    assert q.huey.pending_count() == 0  # nothing was enqueued
    task_id = q.ok("enqueue", "add", "1", "2").stdout.strip()
    forced = q.ok("enqueue", "add", "1", "--force").stdout.strip()
    assert {t.id for t in q.huey.pending()} == {task_id, forced}


def test_enqueue_with_the_app_checks_the_functions_own_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = write_app(tmp_path, monkeypatch, "@huey.task()\ndef fast(n):\n    return n\n")
    module = app.split(".")[0]
    runner = CliRunner(env=CLEAN_ENV)
    r = runner.invoke(main, ["-A", app, "enqueue", "fast", "1", "2", "3"])
    one_line_error(r, 2, f"{module}.fast(n): too many positional arguments")
    r = runner.invoke(main, ["-A", app, "enqueue", "fast", "1"])
    assert r.exit_code == 0, r.output


def test_shell_completion_offers_published_task_names(q: Queue) -> None:
    def complete(words: str, env: dict[str, str] | None = None) -> list[str]:
        r = CliRunner(
            env={
                **CLEAN_ENV,
                **(env or {}),
                "_HUEYCTL_COMPLETE": "bash_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            }
        ).invoke(main, [], prog_name="hueyctl")
        assert r.exit_code == 0, r.stderr
        return [line.split(",", 1)[1] for line in r.stdout.splitlines() if line]

    where = f"--url {q.url} --queue {q.huey.name}"
    assert complete(f"hueyctl enqueue {where} ad") == []  # no worker yet: nothing offered
    publish(q)
    assert complete(f"hueyctl enqueue {where} ad") == ["tasks.add"]
    assert complete(f"hueyctl {where} revoke print") == ["tasks.print_time"]
    env = {"HUEYCTL_URL": q.url, "HUEYCTL_QUEUE": q.huey.name}
    assert complete("hueyctl pending --task bo", env) == ["tasks.boom"]


# --- queues ----------------------------------------------------------------------------------
def test_queues_lists_every_queue_with_counts_workers_and_latency(q: Queue) -> None:
    other = connect(q.url, f"cli-other-{uuid.uuid4().hex[:8]}")
    try:
        other.enqueue_by_name("x.y", (1,))
        publish(q)
        q.add(2)
        q.dead()
        rows = {r["name"]: r for r in q.json("queues")}
        assert {q.huey.name, other.name} <= set(rows)
        mine = rows[q.huey.name]
        assert set(mine) == QUEUE_FIELDS
        # two leases live: the registered worker's and the one q.dead() ran a task with
        assert (mine["ready"], mine["dead"], mine["workers"]) == (2, 1, 2)
        assert mine["oldest_ready"] is not None and 0 <= mine["oldest_ready"] < 60
        assert rows[other.name]["ready"] == 1 and rows[other.name]["workers"] == 0
        text = q.ok("queues").stdout
        assert text.splitlines()[0].split()[:3] == ["QUEUE", "PENDING", "SCHEDULED"]
        # a misspelled --queue names the queues the store has
        r = q.runner.invoke(main, ["status", "--url", q.url, "--queue", q.huey.name + "x"])
        assert r.exit_code == 0 and "has never been seen" in r.stderr
        assert repr(q.huey.name) in r.stderr and repr(other.name) in r.stderr
    finally:
        other.flush()
        other.storage.close()


# --- with a real worker process --------------------------------------------------------------
TASKS = """
@huey.task(retries=1)
def count_beans(n, *, color="red"):
    record(n)
    return n * 2

@huey.task(retries=1, retry_delay=0)
def always_fails():
    raise ValueError("beans spilled")

@huey.periodic_task(crontab(minute="0", hour="3"))
def nightly():
    pass
"""


@pytest.fixture
def worker_app(redis_url: str, tmp_path: Path) -> Iterator[tuple[App, str]]:
    name = f"cat-{uuid.uuid4().hex[:8]}"
    config = (
        f"from engine import RedisHuey, crontab\nhuey = RedisHuey({name!r}, url={redis_url!r})\n"
    )
    app = App(tmp_path, config, TASKS)
    try:
        yield app, name
    finally:
        app.stop_all()
        huey = connect(redis_url, name)
        huey.flush()
        huey.storage.close()


@pytest.mark.slow
def test_enqueue_by_url_runs_on_the_worker_that_publishes_the_task(
    worker_app: tuple[App, str], redis_url: str
) -> None:
    app, name = worker_app
    runner = CliRunner(env=CLEAN_ENV)
    opts = ["--url", redis_url, "--queue", name]
    # no worker has published it (nor registered the queue): refused, nothing written
    r = runner.invoke(main, [*opts, "enqueue", "count_beans", "7"])
    assert r.exit_code == 1 and r.stdout == ""
    app.start_worker()

    def published() -> bool:  # the worker's first heartbeat announces the queue and catalog
        listed = runner.invoke(main, ["tasks", "--json", *opts])
        return listed.exit_code == 0 and any(
            t["name"] == "app.count_beans" and t["workers"] for t in json.loads(listed.stdout)
        )

    wait_for(published, 20, "the worker's catalog")
    r = runner.invoke(main, [*opts, "enqueue", "count_beans", "7", "--wait", "--timeout", "20"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "14" and "enqueued app.count_beans" in r.stderr
    r = runner.invoke(main, [*opts, "enqueue", "count_beans", "7", "8"])
    one_line_error(r, 2, "app.count_beans(n, *, color='red'): too many positional arguments")
    rows = {
        t["name"]: t for t in json.loads(runner.invoke(main, ["tasks", "--json", *opts]).stdout)
    }
    assert len(rows["app.count_beans"]["workers"]) == 1 and rows["app.count_beans"]["retries"] == 1
    assert rows["app.nightly"]["periodic"] == "0 3 * * *"
    queues = {
        q["name"]: q for q in json.loads(runner.invoke(main, ["queues", "--json", *opts]).stdout)
    }
    assert queues[name]["workers"] == 1


@pytest.mark.slow
def test_the_worker_log_lists_tasks_and_with_v_each_run(
    worker_app: tuple[App, str], redis_url: str
) -> None:
    app, name = worker_app
    proc = app.start_worker("-v")
    huey = connect(redis_url, name)
    try:
        huey.enqueue_by_name("app.count_beans", (3,))
        failing = huey.enqueue_by_name("app.always_fails").id
        wait_for(lambda: getattr(huey.storage.locate(failing), "state", "") == "dead", 20, "dead")
        wait_for(lambda: 3 in app.executions(), 20, "count_beans ran")
        wait_for(lambda: "count_beans" in app.output(proc).split("started", 1)[-1], 10, "log")
    finally:
        huey.storage.close()
    proc.terminate()
    proc.wait(timeout=20)
    log = app.output(proc)
    # the banner lists the tasks, periodic ones with their crontab
    assert "+ app.count_beans\n" in log and "+ app.nightly  (periodic: 0 3 * * *)" in log
    lines = log.splitlines()
    started = [line for line in lines if "app.count_beans" in line and "started" in line]
    done = [line for line in lines if "app.count_beans" in line and " done in " in line]
    assert len(started) == 1 and len(done) == 1 and done[0].rstrip().endswith("ms")
    retried = [line for line in lines if "retrying (0 left)" in line]
    final = [line for line in lines if "no retries left" in line]
    assert len(retried) == 1 and "WARNING" in retried[0] and "beans spilled" in retried[0]
    assert len(final) == 1 and "ERROR" in final[0]
    assert 'raise ValueError("beans spilled")' in log  # the final failure's traceback
    assert log.count("Traceback") == 1  # only the final failure carries one
    assert " redis." not in log  # no redis-py debug noise with -v


@pytest.mark.slow
def test_the_worker_log_without_v_has_no_line_per_task(
    worker_app: tuple[App, str], redis_url: str
) -> None:
    app, name = worker_app
    proc = app.start_worker()
    huey = connect(redis_url, name)
    try:
        huey.enqueue_by_name("app.count_beans", (4,))
        wait_for(lambda: 4 in app.executions(), 20, "count_beans ran")
    finally:
        huey.storage.close()
    proc.terminate()
    proc.wait(timeout=20)
    log = app.output(proc)
    assert "+ app.count_beans" in log and "started (attempt" not in log


def test_log_level_is_a_choice() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "hueyctl", "worker", "x.huey", "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "--log-level" in r.stderr
