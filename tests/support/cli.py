"""Helpers shared by the tests split out of test_cli.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from engine import crontab
from engine.api import Huey
from engine.executor import Executor
from engine.inspect import Inspector
from hueyctl import render
from hueyctl.cli import main

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
    "started_at",
    "claimed_ahead",
    "attempts",
    "finished_at",
    "runtime",
    "outcome",
    "orphaned",
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
    "started",
    "claimed_ahead",
    "tasks",
    "pauses",
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
    "store_state",
    "persistent",
    "claimed_ahead",
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
    "next_slot",
}


EVENT_FIELDS = {
    "id",
    "ts",
    "event",
    "task_id",
    "task",
    "worker",
    "error",
    "runtime",
    "actor",
    "target",
    "count",
    "detail",
}


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
        assert Executor(self.huey, "c1").step(time.time())
        assert self.huey.storage.locate(task_id).state == "dead"
        return task_id

    def result(self, a: int = 1) -> str:
        """A finished task with a stored result."""
        task_id = self.huey.enqueue_by_name("tasks.add", (a, a), priority=100).id
        assert Executor(self.huey, "c1").step(time.time())
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
