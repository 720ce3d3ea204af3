"""The operator recipes in docs/operating.md run verbatim.

Every fenced block after a ``<!-- recipe: NAME -->`` marker is run as it is written
through ``bash -euo pipefail`` (``hueyctl`` and ``jq`` on PATH) against a real Redis
queue that this test fills with pending tasks and dead letters, with
``HUEYCTL_APP`` exported as the docs' "Seeing a queue" block says. Each must exit 0;
the ones that change the queue are checked against the store.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import RedisHuey
from engine.inspect import Inspector
from engine.storage.base import Outcome

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operating.md"
RECIPE = re.compile(r"<!-- recipe: ([\w-]+) -->\n```sh\n(.*?)```", re.S)
APP = """
import os

from engine import RedisHuey, crontab

huey = RedisHuey(os.environ["RECIPE_QUEUE"], url=os.environ["RECIPE_URL"])


@huey.task()
def flaky(n):
    raise ValueError(f"flaky {n}")


@huey.task()
def noisy(n):
    return n


@huey.task()
def add(a, b):
    return a + b


@huey.periodic_task(crontab(minute="0"))
def report():
    pass
"""


def recipes() -> dict[str, str]:
    return dict(RECIPE.findall(DOCS.read_text()))


def test_the_docs_mark_their_recipes() -> None:
    names = set(recipes())
    assert {"json-examples", "retry-one-task", "drop-flood", "alert-dead"} <= names, names
    marked = DOCS.read_text().count("<!-- recipe:")
    assert marked == len(names), "every marker is followed by a ```sh block, names unique"


class Shell:
    def __init__(self, tmp_path: Path, huey: RedisHuey, url: str) -> None:
        self.cwd, self.huey = tmp_path, huey
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUEYCTL_")}
        path = f"{Path(sys.executable).parent}:{env['PATH']}"
        self.env = dict(
            env, PATH=path, HUEYCTL_APP="app.huey", RECIPE_QUEUE=huey.name, RECIPE_URL=url
        )

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def shell(redis_url: str, tmp_path: Path) -> Iterator[Shell]:
    if shutil.which("jq") is None:
        message = "jq is not installed (scripts/test.sh installs it when run as root)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{message}; CI is set")
        pytest.skip(message)
    (tmp_path / "app.py").write_text(APP)
    huey = RedisHuey(f"recipes-{uuid.uuid4().hex[:8]}", url=redis_url)
    for name, n in (("app.flaky", 3), ("app.add", 2)):  # dead letters
        for i in range(n):
            huey.enqueue_by_name(name, (i,))
    storage = huey.storage
    while claimed := storage.claim("c-recipes", time.time(), 100, 60):
        dead = Outcome(dead=("failed", "ValueError: boom"))
        storage.finish_many("c-recipes", [(c.id, time.time(), dead) for c in claimed])
    for i in range(4):
        huey.enqueue_by_name("app.noisy", (i,))
    huey.enqueue_by_name("app.add", (1, 2))
    try:
        yield Shell(tmp_path, huey, redis_url)
    finally:
        huey.flush()
        storage.close()


def _pending(huey: RedisHuey) -> list[str]:
    return [i.name for i in Inspector(huey).tasks("ready", 0, 1000)]


def _dead(huey: RedisHuey) -> list[str]:
    return [i.name for i in Inspector(huey).tasks("dead", 0, 1000)]


@pytest.mark.parametrize("name", sorted(recipes()))
def test_recipe_runs_verbatim(name: str, shell: Shell) -> None:
    huey = shell.huey
    done = shell.run(recipes()[name])
    assert done.returncode == 0, f"{name}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    out = done.stdout
    if name == "json-examples":  # every "failed" dead letter retried; then the count
        assert sorted(_dead(huey)) == [] and out.strip().splitlines()[-1] == "0"
    elif name == "dead-per-task":
        assert re.search(r"^\s*3 app\.flaky$", out, re.M) and re.search(
            r"^\s*2 app\.add$", out, re.M
        )
    elif name == "retry-one-task":
        assert sorted(_dead(huey)) == ["app.add", "app.add"]
        assert _pending(huey).count("app.flaky") == 3
    elif name == "export-dead":
        assert len((shell.cwd / "dead-letters.jsonl").read_text().splitlines()) == 5
        assert "app.flaky\t[0]" in out
    elif name == "drop-flood":
        assert "app.noisy" not in _pending(huey) and "app.add" in _pending(huey)
    elif name == "oldest-pending":
        assert 0 <= int(out) < 600
    elif name == "maintenance":
        assert "app.report" in out and Inspector(huey).revocations() == []


def test_the_alert_fires_above_its_threshold(shell: Shell) -> None:
    script = recipes()["alert-dead"].replace("100", "4")  # 5 dead letters here
    done = shell.run(script)
    assert done.returncode == 1 and "too many dead letters: 5" in done.stderr
