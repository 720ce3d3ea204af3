"""The CLI in real shell pipelines (``bash -o pipefail``), as scripts use it: listings
are complete in JSON, ``| head`` ends quietly with exit 0, and connection options go
before or after the subcommand.

Each test runs ``python -m hueyctl`` in a subprocess against a queue on the test Redis.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from engine import RedisHuey
from engine.keys import result_key
from engine.storage.base import Outcome

HUEYCTL = f"{shlex.quote(sys.executable)} -m hueyctl"


class Piped:
    """A Redis queue and a shell pointed at it through HUEYCTL_URL/HUEYCTL_QUEUE."""

    def __init__(self, huey: RedisHuey, url: str, add: Any) -> None:
        self.huey, self.url, self.add = huey, url, add
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUEYCTL_")}
        self.env = dict(env, HUEYCTL_URL=url, HUEYCTL_QUEUE=huey.name)

    def sh(
        self, script: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", script.replace("hueyctl", HUEYCTL)],
            capture_output=True,
            text=True,
            env=env or self.env,
            timeout=120,
        )

    def pending(self, n: int) -> None:
        for start in range(0, n, 1000):
            self.huey.enqueue_many([self.add.s(i, i) for i in range(start, min(n, start + 1000))])

    def dead(self, n: int) -> None:
        """``n`` dead letters, made in batches straight through the store's ack."""
        self.pending(n)
        storage = self.huey.storage
        while claimed := storage.claim("c-pipes", time.time(), 1000, 60):
            dead = Outcome(dead=("failed", "ValueError: boom"))
            storage.finish_many("c-pipes", [(c.id, time.time(), dead) for c in claimed])


@pytest.fixture
def piped(redis_url: str) -> Iterator[Piped]:
    huey = RedisHuey(f"pipes-{uuid.uuid4().hex[:10]}", url=redis_url)

    @huey.task(name="tasks.add")
    def add(a: int, b: int) -> int:
        return a + b

    yield Piped(huey, redis_url, add)
    huey.flush()
    huey.storage.close()


# --- item 2: JSON listings are complete ----------------------------------------------------
def test_failed_jsonl_streams_every_dead_letter(piped: Piped) -> None:
    piped.dead(2500)
    r = piped.sh("hueyctl failed --jsonl | wc -l")
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == 2500 == piped.huey.storage.counts().dead
    ids = [
        json.loads(line)["id"] for line in piped.sh("hueyctl failed --jsonl").stdout.splitlines()
    ]
    assert len(set(ids)) == 2500
    doc = json.loads(piped.sh("hueyctl failed --json").stdout)
    assert len(doc) == 2500 and {d["id"] for d in doc} == set(ids)
    assert len(json.loads(piped.sh("hueyctl failed --json --limit 7").stdout)) == 7


def test_a_table_says_how_many_rows_it_left_out(piped: Piped) -> None:
    piped.pending(120)
    r = piped.sh("hueyctl pending")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1 + 50  # header and the default 50 rows
    assert "… 70 more: --limit N or --all" in r.stderr
    everything = piped.sh("hueyctl pending --all")
    assert len(everything.stdout.splitlines()) == 121 and "more" not in everything.stderr
    assert "not both" in piped.sh("hueyctl pending --all --limit 3").stderr


def test_results_jsonl_is_complete(piped: Piped) -> None:
    for i in range(120):
        piped.huey.storage.put(result_key(f"r{i:04d}"), b'{"value": 1}')
    r = piped.sh("hueyctl results --jsonl | wc -l")
    assert r.returncode == 0 and int(r.stdout) >= 120, r.stderr


# --- item 3: | head ends quietly ------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        "hueyctl pending --limit 100000 | head -2",
        "hueyctl pending --jsonl | head -1",
        "hueyctl pending --json | head -c 10",
        "hueyctl pending --help | head -1",
        "hueyctl --help | head -1",
        "hueyctl status | head -1",
    ],
)
def test_a_closed_pipe_ends_quietly_with_exit_0(piped: Piped, command: str) -> None:
    piped.pending(3000)
    r = piped.sh(command)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert r.stderr == "", r.stderr
    assert r.stdout


# --- item 10: connection options before the subcommand -----------------------------------
def test_url_and_queue_before_the_subcommand(piped: Piped) -> None:
    piped.pending(3)
    bare = {k: v for k, v in piped.env.items() if not k.startswith("HUEYCTL_")}
    opts = f"--url {piped.url} --queue {piped.huey.name}"
    for script in (f"hueyctl {opts} status --json", f"hueyctl status {opts} --json"):
        r = piped.sh(script, env=bare)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["ready"] == 3
    r = piped.sh(f"hueyctl {opts} pending --jsonl | wc -l", env=bare)
    assert int(r.stdout) == 3


# --- item 4: a misspelled --queue is not a healthy empty queue --------------------------
def test_a_queue_the_store_never_saw_is_warned_about_and_not_written(piped: Piped) -> None:
    piped.pending(2)
    typo = piped.huey.name[:-1]
    env = dict(piped.env, HUEYCTL_QUEUE=typo)
    r = piped.sh("hueyctl status --json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["ready"] == 0
    assert f"warning: queue {typo!r} has never been seen" in r.stderr
    assert repr(piped.huey.name) in r.stderr  # the queues the store has are listed
    r = piped.sh("hueyctl enqueue tasks.add 1 2", env=env)
    assert r.returncode == 1 and "--force uses it anyway" in r.stderr and r.stdout == ""
    assert "never been seen" not in piped.sh("hueyctl status").stderr  # the real name


def test_an_sqlite_url_without_queue_warns(tmp_path: Any) -> None:
    from engine import SqliteHuey

    db = tmp_path / "demo.db"
    SqliteHuey("demo", filename=str(db)).enqueue_by_name("tasks.add", (1, 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUEYCTL_")}
    r = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{HUEYCTL} status --url sqlite:///{db}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0
    assert "queue 'huey' has never been seen" in r.stderr and "it has 'demo'" in r.stderr
