"""Small operator traps of issue 13, item 12: Ctrl-C in ``purge`` says how many went,
and a ``--task`` filter naming no known task says so instead of a silent empty list.

Real Redis and SQLite through click's CliRunner (``q`` fixture of conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from support.cli import Queue, tty

from engine.api import Huey


def test_ctrl_c_in_purge_says_how_many_went(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    q.add(700)  # more than a page: purged batch by batch, with a progress bar
    tty(monkeypatch)
    calls = {"n": 0}
    delete = Huey.delete_task

    def interrupted(self: Huey, task_id: str) -> Any:
        calls["n"] += 1
        if calls["n"] > 120:
            raise KeyboardInterrupt
        return delete(self, task_id)

    monkeypatch.setattr(Huey, "delete_task", interrupted)
    r = q.cli("purge", "pending", "--yes")
    assert r.exit_code == 1
    assert "interrupted: 120 of 700 pending tasks purged, 580 left" in r.stderr
    assert q.huey.pending_count() == 580


def test_a_task_filter_naming_nothing_known_says_so(q: Queue) -> None:
    q.add(2)
    r = q.ok("pending", "--task", "nosuch")
    assert r.stdout == "" and "no task named 'nosuch' is seen on queue" in r.stderr
    r = q.ok("pending", "--task", "tasks.ad", "--json")
    assert r.stdout.strip() == "[]" and "did you mean tasks.add?" in r.stderr
    assert "no task named" not in q.ok("scheduled", "--task", "add").stderr  # known, none
    assert "no task named 'nosuch'" in q.ok("events", "--task", "nosuch").stderr
