"""The CLI and ``top`` write the same fact the same way: a task's id, its state,
its times and its arguments come out of ``hueyctl.present`` for both.

One SQLite queue holds a running task (claimed 250 s ago) and a dead one (failed
250 s ago); the CLI reads it through ``--url`` exactly as an operator would, and
``top``'s row and detail builders read it through an ``Inspector``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from engine import SqliteHuey
from engine.inspect import Inspector
from engine.storage.base import Outcome
from hueyctl import present
from hueyctl.cli import main
from hueyctl.tui.data import Detail
from hueyctl.tui.rows import Revoked, task_rows
from hueyctl.tui.widgets.task_detail import render_detail

AGO = 250.0  # seconds: "4m 10s ago" in both


def test_present_words() -> None:
    assert present.duration(250) == "4m 10s" and present.duration(3725) == "1h 2m"
    assert present.duration(0.35) == "0.35s" and present.duration(93_600) == "1d 2h"
    assert (
        present.ago(100.0 - AGO, 100.0) == "4m 10s ago" and present.ago(190.0, 100.0) == "in 1m 30s"
    )
    assert present.state_label("ready") == "pending" and present.state_label("dead") == "failed"
    assert present.call_args([1, {"$tuple": [2, 3]}], {"b": None}) == "1, (2, 3), b=None"


@pytest.fixture
def queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SqliteHuey, str, str, str]:
    path = tmp_path / "q.db"
    huey = SqliteHuey("orders", filename=str(path))

    @huey.task(name="jobs.add")
    def add(a: int, b: int) -> int:
        return a + b

    now = time.time()
    dead = add(1, 2).id
    huey.storage.claim("w-1", now - 2 * AGO, 1, 3600)
    huey.storage.finish("w-1", dead, now - AGO, Outcome(dead=("poison", "ValueError: boom")))
    running = add(3, 4).id
    huey.storage.claim("w-2", now - AGO, 1, 3600)
    # One clock for the queue, the CLI (time.time() when it renders) and top's
    # builders: a real second passing between two renders read "4m 11s" vs "4m 10s".
    monkeypatch.setattr(time, "time", lambda: now)
    return huey, f"sqlite:///{path}", running, dead


def _cli(url: str, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--url", url, "--queue", "orders"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_listing_rows_are_the_same_in_the_cli_and_top(
    queue: tuple[SqliteHuey, str, str, str],
) -> None:
    huey, url, running, dead = queue
    now = time.time()
    insp = Inspector(huey, clock=lambda: now)
    cases = (
        (
            "running",
            "id task worker started claimed deliveries",
            # no worker reports it started (no registry entry): claimed ahead
            [running, "jobs.add", "w-2", "claimed ahead", "4m 10s ago", "1"],
        ),
        (
            "failed",
            "id task failed reason attempt error",
            [dead, "jobs.add", "4m 10s ago", "poison", "1", "ValueError: boom"],
        ),
    )
    for listing, headers, expected in cases:
        header, line = _cli(url, listing).splitlines()
        infos = insp.running() if listing == "running" else insp.failed()
        (row,) = task_rows(listing, infos, now, Revoked([]), None)
        assert _cells(header.lower())[: len(expected)] == headers.split()
        assert _cells(line)[: len(expected)] == expected
        assert [cell.plain for cell in row.cells][: len(expected)] == expected


def test_show_and_the_detail_screen_say_the_same(
    queue: tuple[SqliteHuey, str, str, str],
) -> None:
    huey, url, running, dead = queue
    now = time.time()
    insp = Inspector(huey, clock=lambda: now)
    failed_at = present.when(now - AGO)
    for task_id, state, moment in (
        (dead, "failed", f"failed at +{failed_at} \\(4m 10s ago\\)"),
        (running, "running", "claimed +.* \\(4m 10s ago\\)"),
    ):
        cli = _cli(url, "show", task_id)
        console = Console(record=True, width=160, color_system=None)
        console.print(render_detail(Detail(task_id, insp.task(task_id), None), now, None))
        tui = "\n".join(line.rstrip() for line in console.export_text().splitlines())
        for text in (cli, tui):
            assert re.search(f"^state +{state}", text, re.M), text
            assert re.search(f"^id +{task_id}$", text, re.M)
            assert re.search(f"^{moment}$", text, re.M), text
