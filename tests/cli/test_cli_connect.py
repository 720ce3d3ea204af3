"""Connecting: bad URLs and stores that do not answer, and commands run with --app.

Each test builds its data with the facade (and the in-process worker step), runs the
command through click's CliRunner against real Redis and SQLite, and checks stdout,
stderr and the exit code. Shared helpers: ``support/cli.py``; fixtures: ``conftest.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from support.cli import (
    CLEAN_ENV,
    ROOT,
    Queue,
    one_line_error,
)

from engine import SqliteHuey
from engine.executor import Executor
from engine.inspect import Inspector
from hueyctl.cli import main


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
    Executor(app.huey, "c1").step(time.time())
    rec = json.loads(app_cli("show", task_id[:-5], "--json").stdout)
    assert rec["state"] == "dead" and "ValueError: boom" in rec["error"]
    assert app_cli("retry", task_id).exit_code == 0
    assert app.huey.pending_count() == 1


def test_app_errors(app: Any) -> None:
    one_line_error(run("status", "--app", "nomodule_here.huey"), 2, "cannot import")
    one_line_error(run("status", "--app", "tasks.nothing"), 2, "has no attribute 'nothing'")
    one_line_error(run("status", "--app", "tasks.add"), 2, "not a Huey queue")


def test_options_before_the_subcommand_and_app_with_another_queue(app: Any) -> None:
    """`hueyctl -A app status` as `celery -A app ...`; `--app X --queue Y` is X's tasks
    on queue Y for every command (issue 13, items 10 and 12)."""
    before = run("-A", "tasks.huey", "periodic", "--json")
    assert before.exit_code == 0, before.stderr
    assert json.loads(before.stdout)[0]["name"] == "tasks.print_time"
    assert run("--app", "tasks.huey", "status", "--json").exit_code == 0
    name = app.huey.name
    other = f"{name}-other"
    r = run("-A", "tasks.huey", "--queue", other, "enqueue", "add", "1", "2")
    assert r.exit_code == 1 and "has never been seen" in r.stderr  # a new queue: --force
    r = run("-A", "tasks.huey", "--queue", other, "enqueue", "add", "1", "2", "--force")
    assert r.exit_code == 0, r.stderr
    status = json.loads(app_cli("status", "--queue", other, "--json").stdout)
    assert status["queue"] == other and status["ready"] == 1
    assert run("-A", "tasks.huey", "--queue", other, "purge", "pending", "--yes").exit_code == 0
    app.huey.flush()  # one process here: the loaded app was pointed at `other`
    app.huey.use_store(None, name)
    assert app.huey.pending_count() == 0


def test_the_environment_does_not_redirect_an_app(app: Any) -> None:
    """HUEYCTL_URL/HUEYCTL_QUEUE exported for admin work: --app keeps its own store."""
    app.add(1, 1)
    env = {"HUEYCTL_URL": "redis://127.0.0.1:1/0", "HUEYCTL_QUEUE": "elsewhere"}
    r = CliRunner(env={**CLEAN_ENV, **env}).invoke(
        main, ["status", "--app", "tasks.huey", "--json"]
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["queue"] == app.huey.name
    assert json.loads(r.stdout)["ready"] == 1


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
    """`hueyctl pending | head -1`: no traceback, no "internal error", exit 0 (so
    `set -o pipefail` scripts go on)."""
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
    assert proc.wait(timeout=60) == 0 and proc.stderr.read() == b""
