"""``top``: ``R``/``D`` with a filter offer "all N matching" (issue 14), with a question
first, and write the audit event; the helpers and the queue are test_tui's."""

from __future__ import annotations

import json
from typing import Any

import test_tui
from test_tui import DEAD, NOW, PENDING, cursor_to, run, settle
from textual.pilot import Pilot

from engine import MemoryHuey
from engine.inspect import Inspector
from engine.storage.base import Outcome
from hueyctl.tui.app import TopApp
from hueyctl.tui.rows import event_rows
from hueyctl.tui.screens.bulk import BulkScreen

queue = test_tui.queue  # the fixture: test_tui's queue, clock frozen


def bury_adds(huey: MemoryHuey, n: int) -> list[str]:
    add = huey.registered("jobs.add")
    assert add is not None
    ids = []
    for i in range(n):
        task = add.s(i, i)
        task.priority = 20  # claimed before the pending ones
        huey.enqueue(task)
        (claimed,) = huey.storage.claim("w9", NOW - 100, 1, 600)
        huey.storage.finish("w9", claimed.id, NOW - 90, Outcome(dead=("error", "E: x")))
        ids.append(claimed.id)
    return ids


def admin(huey: MemoryHuey) -> list[Any]:
    return [e for e in Inspector(huey).events(None, 100) if e.admin]


def test_retry_all_dead_letters_the_filter_matches(queue: MemoryHuey) -> None:
    adds = bury_adds(queue, 7)

    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"task:add", "enter")
        await settle(pilot)
        assert len(app.dashboard.table("failed").keys()) == 7
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, BulkScreen)
        body = str(app.screen.query_one(".dialog-body").render())
        assert "Retry all 7 dead letter(s) matching “task:add”?" in body
        await pilot.press("n")  # cancel: nothing changes
        await settle(pilot)
        assert not isinstance(app.screen, BulkScreen)
        assert all(queue.storage.locate(i).state == "dead" for i in adds)
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert all(queue.storage.locate(i).state == "ready" for i in adds)
        assert queue.storage.locate(DEAD).state == "dead"  # not matched: left alone
        assert app.dashboard.table("failed").keys() == []
        (event,) = admin(queue)
        assert event.event == "admin.retry" and event.count == 7
        assert event.target == "state=dead filter='task:add'"
        assert event.detail == "retried 7 of 7 matching; 0 skipped (already gone)"

    run(queue, "failed", script)


def test_delete_offers_the_row_or_all_matching(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"task:add", "enter")
        await settle(pilot)
        cursor_to(app, "pending", PENDING[0])
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, BulkScreen)
        await pilot.press("o")  # only the row under the cursor
        await settle(pilot)
        assert queue.storage.locate(PENDING[0]) is None
        assert all(queue.storage.locate(i) is not None for i in PENDING[1:])
        await pilot.press("D")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert all(queue.storage.locate(i) is None for i in PENDING)
        assert queue.pending_count() == 1  # the send_email one did not match
        assert [(e.event, e.count) for e in admin(queue)] == [
            ("admin.delete", 1),
            ("admin.delete", 4),
        ]
        assert json.loads(json.dumps(admin(queue)[1].target)) == "state=ready filter='task:add'"

    run(queue, "pending", script)


def test_events_tab_shows_who_did_what(queue: MemoryHuey) -> None:
    queue.record_admin_action("purge", "pending", count=3, detail="purged 3", actor="ann@box")
    (event,) = admin(queue)
    (row,) = event_rows([event], NOW, None)
    cells = [str(c) for c in row.cells]
    assert cells[1:3] == ["admin.purge", "pending"] and cells[4] == "ann@box"
    assert cells[-1] == "purged 3"
