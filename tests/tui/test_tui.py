"""``hueyctl top``: snapshots of every tab and screen, and Pilot tests of the actions.

Everything runs on a memory store filled through the facade, with fixed task ids,
a fixed clock (2100-01-01 12:24:56 UTC, so nothing expires under real time), the
worker registry, events and counters written with ``huey.storage`` exactly as a
consumer's heartbeat would, the theme pinned and no refresh timer (``interval=0``:
one read at start, then on demand). Snapshots live in the top-level ``snapshots/``
(see the override at the end of ``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import types
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import engine.api
from engine import MemoryHuey, crontab, steering
from engine.exceptions import StoreUnavailable
from engine.inspect import Inspector
from engine.scheduler import LAST_RUN
from engine.storage.base import Outcome, StatRow
from engine.telemetry import REGISTRY

pytest.importorskip("textual")

pytest.importorskip("pytest_textual_snapshot")

from support.tui import settle as support_settle  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input, Tabs  # noqa: E402
from textual.widgets._tabs import Underline  # noqa: E402

from hueyctl import present  # noqa: E402
from hueyctl.tui.actions import Actions  # noqa: E402
from hueyctl.tui.app import TopApp, make_app  # noqa: E402
from hueyctl.tui.data import Filter, Query, fetch, scan  # noqa: E402
from hueyctl.tui.screens.confirm import ConfirmScreen  # noqa: E402
from hueyctl.tui.screens.detail import TaskDetailScreen  # noqa: E402
from hueyctl.tui.screens.revoke import RevokeScreen  # noqa: E402
from hueyctl.tui.screens.worker import WorkerDetailScreen  # noqa: E402
from hueyctl.tui.widgets.live_table import LiveTable  # noqa: E402

NOW = 4102489496.0  # 2100-01-01 12:24:56 UTC
SIZE = (124, 40)
MINUTE = int(NOW // 60) * 60


def tid(n: int) -> str:
    return f"0190a000-0000-7000-8000-{n:012d}"


PENDING = [tid(101 + i) for i in range(5)]
EMAIL = tid(201)
SCHEDULED = [tid(301), tid(302)]
RUNNING = tid(401)
DEAD = tid(501)
TRACEBACK = (
    "ValueError: smtp refused [550]\n"
    "Traceback (most recent call last):\n"
    '  File "jobs.py", line 12, in send_email\n'
    "    smtp.send(to, subject)\n"
    "ValueError: smtp refused [550]"
)


def _registry(wid: str, host: str, pid: int, beat: float, running: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "id": wid,
            "host": host,
            "pid": pid,
            "version": "0.1.0",
            "queue": "orders",
            "started": NOW - 3725,
            "heartbeat": beat,
            "concurrency": 4,
            "worker_type": "thread",
            "running": running,
            "processed": 1234,
            "failed": 7,
        }
    ).encode()


def _event(ts: float, event: str, task_id: str, task: str, **extra: Any) -> bytes:
    rec = {"ts": ts, "event": event, "id": task_id, "task": task, "worker": "w1", **extra}
    return json.dumps(rec).encode()


def build_queue() -> MemoryHuey:
    huey = MemoryHuey("orders")

    @huey.task(name="jobs.add")
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task(name="jobs.send_email", retries=2)
    def send_email(to: str, subject: str = "hi") -> None: ...

    @huey.task(name="jobs.resize")
    def resize(path: str, width: int) -> None: ...

    @huey.periodic_task(crontab(minute="*/5"), name="jobs.cleanup")
    def cleanup() -> None: ...

    @huey.periodic_task(crontab(minute="0"), name="jobs.report")
    def report() -> None: ...

    def put(task: Any, task_id: str, eta: float | None = None, priority: int = 0) -> None:
        task.id, task.priority = task_id, priority
        if eta is not None:
            task.eta = eta
        huey.enqueue(task)

    # Running and dead first (high priority: claimed before the pending ones).
    put(resize.s("/img/cat.png", width=640), RUNNING, priority=10)
    huey.storage.claim("w1", NOW - 12, 1, 30)
    put(send_email.s("bob@example.com", subject="invoice"), DEAD, priority=10)
    huey.storage.claim("w1", NOW - 300, 1, 600)
    huey.storage.finish("w1", DEAD, NOW - 240, Outcome(dead=("failed", TRACEBACK)))
    for i, task_id in enumerate(PENDING, 1):
        put(add.s(i, i * 10), task_id)
    put(send_email.s("ops@example.com", subject="[weekly] report"), EMAIL)
    put(send_email.s("late@example.com"), SCHEDULED[0], eta=NOW + 90)
    put(add.s(40, 2), SCHEDULED[1], eta=NOW + 3600)
    huey.revoke_by_id(PENDING[2])
    huey.revoke_all("jobs.report", revoke_until=NOW + 1800)

    storage = huey.storage
    storage.heartbeat("w1", NOW - 1, 10)
    storage.heartbeat("w2", NOW - 45, 10)
    running = [{"id": RUNNING, "task": "jobs.resize", "started": NOW - 12}]
    storage.map_set(REGISTRY, "w1", _registry("w1", "web-1", 4242, NOW - 1, running))
    storage.map_set(REGISTRY, "w2", _registry("w2", "web-2", 5151, NOW - 45, []))
    storage.map_set(LAST_RUN, "jobs.cleanup", str(MINUTE - 240).encode())
    stats = []
    for i in range(60):
        minute = MINUTE - (59 - i) * 60
        stats.append(StatRow(minute, "jobs.add", 20 + (i * 7) % 13, 0, 0.5, 0.05))
        failures = 1 if i % 9 == 0 else 0
        stats.append(StatRow(minute, "jobs.send_email", 3 + i % 4, failures, 6.0, 1.8))
    stats.append(StatRow(MINUTE, "jobs.resize", 2, 0, 3.0, 2.25))
    events = [
        _event(NOW - 30, "executing", tid(601), "jobs.add"),
        _event(NOW - 30, "complete", tid(601), "jobs.add", runtime=0.012),
        _event(NOW - 20, "executing", tid(602), "jobs.send_email"),
        _event(NOW - 19, "error", tid(602), "jobs.send_email", error="ValueError('[x] no')"),
        _event(NOW - 19, "retrying", tid(602), "jobs.send_email"),
        _event(NOW - 12, "executing", RUNNING, "jobs.resize"),
    ]
    storage.record(events, stats)
    return huey


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryHuey]:
    # The facade stamps enqueued_at and decides "scheduled or ready" with time.time():
    # freeze it (for engine.api only) so ages and etas are the same on every run.
    monkeypatch.setattr(engine.api, "time", types.SimpleNamespace(time=lambda: NOW - 42))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    yield build_queue()


def new_app(huey: MemoryHuey, tab: str = "workers", clock: Callable[[], float] | None = None):
    clock = clock or (lambda: NOW)
    app = make_app(Inspector(huey, clock=clock), Actions(huey, clock), clock, 0, tz=dt.UTC, tab=tab)
    app.theme = "textual-dark"
    app.animation_level = "none"  # the tab underline slides otherwise: caught mid-way
    return app


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the reads and actions in flight have landed on screen and nothing
    is left to lay out or paint (tests/support/tui.py; snap_compare also settles)."""
    await support_settle(pilot)


# --- snapshots ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "tab", ["workers", "pending", "scheduled", "running", "periodic", "failed", "events"]
)
def test_snapshot_tab(tab: str, queue: MemoryHuey, snap_compare: Any) -> None:
    assert snap_compare(new_app(queue, tab), terminal_size=SIZE, run_before=settle)


def test_snapshot_task_detail(queue: MemoryHuey, snap_compare: Any) -> None:
    async def open_dead_letter(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    app = new_app(queue, "failed")
    assert snap_compare(app, terminal_size=SIZE, run_before=open_dead_letter)


def test_snapshot_confirm_delete(queue: MemoryHuey, snap_compare: Any) -> None:
    async def ask(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("D")

    assert snap_compare(new_app(queue, "pending"), terminal_size=SIZE, run_before=ask)


def test_snapshot_revoke_dialog(queue: MemoryHuey, snap_compare: Any) -> None:
    async def ask(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("r")

    assert snap_compare(new_app(queue, "pending"), terminal_size=SIZE, run_before=ask)


def test_snapshot_help(queue: MemoryHuey, snap_compare: Any) -> None:
    async def ask(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(new_app(queue), terminal_size=SIZE, run_before=ask)


def test_snapshot_filtered_and_disconnected(queue: MemoryHuey, snap_compare: Any) -> None:
    """The header says since when the store is down; the last data stays on screen."""

    async def go(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"send", "enter")
        await settle(pilot)
        _break(queue)
        pilot.app.refresh_data()
        await settle(pilot)

    assert snap_compare(new_app(queue, "pending"), terminal_size=SIZE, run_before=go)


def _break(huey: MemoryHuey) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("cannot reach memory://orders: connection refused")

    huey.storage.counts = down  # type: ignore[method-assign]


# --- Pilot: actions change the store -------------------------------------------------
def run(huey: MemoryHuey, tab: str, script: Callable[[TopApp, Pilot[Any]], Awaitable[None]]):
    async def main() -> None:
        app = new_app(huey, tab)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await script(app, pilot)

    asyncio.run(main())


def cursor_to(app: TopApp, tab: str, key: str) -> None:
    table = app.dashboard.table(tab)
    table.move_cursor(row=table.keys().index(key))
    table.focus()


def test_revoke_and_restore_one_call_then_every_call(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        cursor_to(app, "pending", PENDING[0])
        await pilot.press("r")
        assert isinstance(app.screen, RevokeScreen)
        await pilot.click("#revoke")  # defaults: this call, once
        await settle(pilot)
        assert queue.is_revoked(PENDING[0])
        assert app.dashboard.table("pending").cursor_key() == PENDING[0]
        await pilot.press("u")
        await settle(pilot)
        assert not queue.is_revoked(PENDING[0])

        cursor_to(app, "pending", EMAIL)
        await pilot.press("r")
        await pilot.click("#scope-task")
        await pilot.click("#minutes")
        await pilot.press("1", "5", "enter")
        await settle(pilot)
        rev = queue.revocation("task:jobs.send_email", NOW)
        assert rev is not None and rev["until"] == NOW + 900 and not rev["once"]
        await pilot.press("u")  # no revocation of this id: restores the task name
        await settle(pilot)
        assert queue.revocation("task:jobs.send_email", NOW) is None

    run(queue, "pending", script)


def test_retry_a_dead_letter_from_the_list_or_its_detail_screen(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert queue.storage.locate(DEAD).state == "dead"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TaskDetailScreen)
        assert app.screen.detail is not None and app.screen.detail.info.state == "dead"
        await pilot.press("R", "y")
        await settle(pilot)
        assert queue.storage.locate(DEAD).state == "ready"
        assert app.screen.detail.info.state == "ready"  # reloaded after the action
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, TaskDetailScreen)
        assert app.dashboard.table("failed").keys() == []

    run(queue, "failed", script)


def test_delete_asks_first_and_refuses_running_tasks(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        cursor_to(app, "pending", PENDING[1])
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert queue.storage.locate(PENDING[1]) is None
        assert PENDING[1] not in app.dashboard.table("pending").keys()
        await pilot.press("4")  # Running tab
        await settle(pilot)
        await pilot.press("D")
        assert not isinstance(app.screen, ConfirmScreen)
        assert queue.storage.locate(RUNNING).state == "running"

    run(queue, "pending", script)


def test_p_pauses_and_resumes_the_queue_after_asking(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert steering.pauses(queue) == []
        await pilot.press("p")
        await pilot.press("y")
        await settle(pilot)
        (p,) = steering.pauses(queue, NOW)
        assert p.task is None and p.in_force and p.at == NOW
        assert app.queue_pause is not None and not app.frozen
        assert (app.pause_text() or "").startswith("paused by ")
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert steering.pauses(queue) == [] and app.queue_pause is None

    run(queue, "workers", script)


def test_c_cancels_a_pending_task_and_asks_a_running_one_to_stop(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        cursor_to(app, "pending", PENDING[2])
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert queue.storage.locate(PENDING[2]) is None
        await pilot.press("4")  # Running tab
        await settle(pilot)
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert steering.cancel_requested(queue, RUNNING)
        assert queue.storage.locate(RUNNING).state == "running"  # its worker stops it

    run(queue, "pending", script)


def test_filter_by_name_and_by_id(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"send", "enter")
        await settle(pilot)
        assert app.dashboard.table("pending").keys() == [EMAIL]
        await pilot.press("slash")
        app.dashboard.query_one(Input).value = PENDING[3]  # typing 36 keys is slow
        await pilot.press("enter")
        await settle(pilot)
        assert app.dashboard.table("pending").keys() == [PENDING[3]]
        await pilot.press("escape")
        await settle(pilot)
        assert app.dashboard.table("pending").keys() == [*PENDING, EMAIL]

    run(queue, "pending", script)


def test_refresh_keeps_the_cursor_on_its_row_and_recovers_after_an_outage(
    queue: MemoryHuey,
) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        cursor_to(app, "pending", PENDING[3])
        queue.delete_task(PENDING[0])  # a row above the cursor goes away
        queue.enqueue_by_name("jobs.add", (9, 9))  # and one arrives at the end
        app.refresh_data()
        await settle(pilot)
        table = app.dashboard.table("pending")
        assert table.cursor_key() == PENDING[3] and len(table.keys()) == 6
        original = queue.storage.counts
        _break(queue)
        app.refresh_data()
        await settle(pilot)
        assert app.connected is False and app.down_since == NOW
        assert table.cursor_key() == PENDING[3]  # the last data stays
        queue.storage.counts = original  # type: ignore[method-assign]
        app.refresh_data()
        await settle(pilot)
        assert app.connected is True and app.down_since is None

    run(queue, "pending", script)


def test_the_tab_underline_is_put_back_under_the_active_tab_after_a_layout(
    queue: MemoryHuey,
) -> None:
    """Textual moves the underline a refresh after a relabel, and under load that
    refresh may read the tab's place before its layout: the line stayed under the old
    label width. Left in a wrong place, the next layout puts it back."""

    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        tabs = app.dashboard.query_one(Tabs)
        line = tabs.query_one(Underline)
        active = tabs.active_tab
        assert active is not None
        line.highlight_start, line.highlight_end = 0, 3  # where a stale move leaves it
        app.dashboard.refresh(layout=True)
        await pilot.pause()
        span = active.virtual_region.shrink(active.styles.gutter).column_span
        assert (line.highlight_start, line.highlight_end) == span
        queue.enqueue_by_name("jobs.add", (1, 2))  # "2 Pending 6" becomes "2 Pending 7"
        app.refresh_data()
        await settle(pilot)  # it also fails if the underline is not under the active tab
        assert str(active.label) == "2 Pending 7"

    run(queue, "pending", script)


def test_tabs_sort_pause_and_palette(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        for key, tab in (("3", "scheduled"), ("]", "running"), ("[", "scheduled"), ("7", "events")):
            await pilot.press(key)
            assert app.dashboard.tab == tab
        stats = app.dashboard.query_one("#stats", LiveTable)
        assert stats.keys() == ["jobs.add", "jobs.send_email", "jobs.resize"]
        await pilot.press("s")  # runs -> failures
        assert stats.keys()[0] == "jobs.send_email"
        await pilot.press("f")
        assert app.frozen
        before = app.refreshes
        app.tick()
        await settle(pilot)
        assert app.refreshes == before
        await pilot.press("f")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Revoke…", "Restore", "Retry dead letter", "Delete task", "Cancel task"} <= set(
            titles
        )
        assert {"Pause / resume queue", "Freeze / unfreeze view"} <= set(titles)
        assert len(titles) == len(set(titles)), "no command listed twice (Keys was)"

    run(queue, "workers", script)


# --- the data layer, without a screen ------------------------------------------------
def test_filter_reads_names_and_ids() -> None:
    assert not Filter("add").by_id and Filter("add").matches("jobs.add")
    assert Filter("0190a000").by_id and Filter("id:add").by_id and not Filter("task:0190a0").by_id
    assert Filter(PENDING[0]).exact_id == PENDING[0]
    assert Filter("8000-0000").matches("x", PENDING[0])


def test_filtered_scan_is_bounded(queue: MemoryHuey) -> None:
    inspector = Inspector(queue, clock=lambda: NOW)
    listing = scan(inspector.pending, Filter("add"), limit=200, budget=3)
    assert listing.scanned == 3 and not listing.complete and len(listing.rows) == 3
    full = fetch(inspector, Query("pending", Filter("send")))
    assert [i.id for i in full.listing.rows] == [EMAIL] and full.listing.complete


def test_fetch_reads_only_the_first_page(queue: MemoryHuey) -> None:
    for n in range(250):
        queue.enqueue_by_name("jobs.add", (n, n))
    snap = fetch(Inspector(queue, clock=lambda: NOW), Query("pending"))
    assert len(snap.listing.rows) == 200 and snap.listing.total == 256


def test_formatting() -> None:
    assert present.duration(3725) == "1h 2m" and present.duration(65) == "1m 5s"
    assert present.call_args([1, {"$tuple": [2, 3]}], {"b": "x"}) == '1, (2, 3), b="x"'
    assert present.ago(NOW + 90, NOW) == "in 1m 30s" and present.ago(NOW - 2, NOW) == "2s ago"


# --- small terminals (issue 13 item 9) ------------------------------------------------
SMALL = (80, 24)


def test_small_terminal_keeps_ten_rows_the_key_bar_and_help(queue: MemoryHuey) -> None:
    """At 80×24 the plots and the task table collapse: the list keeps at least ten
    rows, every tab label and the footer's Quit and Help stay on screen."""

    async def main() -> None:
        app = new_app(queue, "pending")
        async with app.run_test(size=SMALL) as pilot:
            await settle(pilot)
            table = app.dashboard.table("pending")
            assert table.region.height - 1 >= 10  # less the header row
            assert not app.dashboard.query_one("#plots").display
            assert not app.dashboard.query_one("#stats").display
            text = _screen_text(app)
            assert "7 Evt" in text
            assert "Quit" in text and "Help" in text
            await pilot.resize_terminal(124, 40)
            await settle(pilot)
            assert app.dashboard.query_one("#plots").display
            assert "7 Events" in _screen_text(app)

    asyncio.run(main())


def _screen_text(app: TopApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_ctrl_c_quits(queue: MemoryHuey) -> None:
    async def main() -> None:
        app = new_app(queue)
        async with app.run_test(size=SMALL) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+c")
            await pilot.pause()
            assert app.return_code == 0

    asyncio.run(main())


def test_snapshot_small_terminal(queue: MemoryHuey, snap_compare: Any) -> None:
    assert snap_compare(new_app(queue, "pending"), terminal_size=SMALL, run_before=settle)


def test_home_end_g_and_G_jump_to_the_first_and_last_row(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        table = app.dashboard.table("pending")
        table.focus()
        last = len(table.keys()) - 1
        assert last > 0
        for key, row in [("end", last), ("home", 0), ("G", last), ("g", 0), ("pagedown", last)]:
            await pilot.press(key)
            await pilot.pause()
            assert table.cursor_row == row, key

    run(queue, "pending", script)


def test_read_only_hides_and_refuses_every_action(queue: MemoryHuey) -> None:
    """top --serve --read-only: no action key works or shows, none in the palette."""

    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        app.read_only = True
        cursor_to(app, "failed", DEAD)
        for key in ("r", "u", "R", "D", "c", "p"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is app.dashboard, key
        assert queue.storage.locate(DEAD) is not None and not queue.is_revoked(DEAD)
        assert app.inspector.pauses() == []
        shown = {b.binding.description for b in app.screen.active_bindings.values()}
        assert not shown & {"Revoke", "Restore", "Retry", "Delete", "Cancel", "Pause queue"}
        assert {"Filter", "Quit", "Freeze"} <= shown
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert not titles & {
            "Revoke…",
            "Restore",
            "Retry dead letter",
            "Delete task",
            "Cancel task",
            "Pause / resume queue",
        }
        assert "Freeze / unfreeze view" in titles
        app.act("delete", None)  # reached some other way: refused all the same
        app.act("cancel", None)
        app.action_pause_queue()
        await settle(pilot)
        assert queue.storage.locate(DEAD) is not None and app.inspector.pauses() == []
        await pilot.press("f")  # freezing the view changes nothing: still offered
        assert app.frozen

    run(queue, "failed", script)


# --- browsing like htop/k9s: pages, copy, worker detail, the events tail (issue 13) ---
BIG = (200, 60)


def _fill(huey: MemoryHuey, n: int) -> None:
    """``n`` more pending ``jobs.add`` calls, with fixed ids (snapshots show them)."""
    spec = huey._registry["jobs.add"].spec
    for i in range(n):
        task = huey.new_call(spec, (i, i), None)
        task.id = tid(1000 + i)
        huey.enqueue(task)


def _more(app: TopApp, tab: str) -> str:
    return str(app.dashboard.query_one(f"#{tab}-more").render())


def test_pages_beyond_the_first_200_rows(queue: MemoryHuey) -> None:
    _fill(queue, 250)  # 256 pending in all

    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        table = app.dashboard.table("pending")
        first_page = table.keys()
        assert len(first_page) == 200 and "next page" in _more(app, "pending")
        await pilot.press("greater_than_sign")
        await settle(pilot)
        second = table.keys()
        assert len(second) == 56 and not set(second) & set(first_page)
        assert _more(app, "pending").startswith("rows 201–256 of 256 pending tasks")
        await pilot.press("greater_than_sign")  # no third page: stays
        await settle(pilot)
        assert table.keys() == second
        await pilot.press("home", "pageup")  # PgUp on the first row: the previous page
        await settle(pilot)
        assert table.keys() == first_page
        await pilot.press("end", "pagedown")  # PgDn on the last row: the next page
        await settle(pilot)
        assert table.keys() == second
        await pilot.press("home", "pagedown")  # inside a page PgDn only moves the cursor
        await pilot.pause()
        assert table.keys() == second and table.cursor_row > 0
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert table.keys() == first_page
        app.dashboard.query_one("#stats", LiveTable).focus()
        await pilot.press("end", "pagedown")  # the task table has no pages
        await settle(pilot)
        assert table.keys() == first_page

    run(queue, "pending", script)


def test_y_copies_the_selected_id_with_osc_52(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        cursor_to(app, "pending", PENDING[1])
        await pilot.press("y")
        assert app.clipboard == PENDING[1]
        await pilot.press("1")
        await settle(pilot)
        cursor_to(app, "workers", "w2")
        await pilot.press("y")
        assert app.clipboard == "w2"
        await pilot.press("6", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TaskDetailScreen)
        await pilot.press("y")
        assert app.clipboard == DEAD

    run(queue, "pending", script)


def test_a_worker_row_opens_its_running_and_claimed_ahead_tasks(queue: MemoryHuey) -> None:
    # w1 has started RUNNING (its registry says so) and claims one more ahead.
    queue.storage.claim("w1", NOW - 5, 1, 30)
    ahead = next(i.id for i in Inspector(queue, clock=lambda: NOW).running() if i.id != RUNNING)

    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        cursor_to(app, "workers", "w1")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkerDetailScreen)
        await _wait_for(pilot, lambda: screen.detail is not None)
        table = screen.query_one(LiveTable)
        assert table.keys() == [RUNNING, ahead]
        text = _screen_text(app)
        assert "1 running, 1 claimed ahead" in text and "web-1" in text
        await pilot.press("down", "y")
        assert app.clipboard == ahead
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TaskDetailScreen) and app.screen.task_id == ahead
        await pilot.press("escape", "escape")
        assert app.screen is app.dashboard

    run(queue, "workers", script)


async def _wait_for(pilot: Pilot[Any], predicate: Callable[[], bool]) -> None:
    for _ in range(500):
        if predicate():
            break
        await asyncio.sleep(0.005)
    await pilot.pause()


def test_the_events_tail_stops_off_the_end_and_resumes_at_end(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        table = app.dashboard.table("events")
        before = table.keys()
        assert table.cursor_row == len(before) - 1 and "live tail" in _more(app, "events")
        await pilot.press("up")
        await pilot.pause()
        assert "tail stopped" in _more(app, "events")
        queue.storage.record([_event(NOW - 1, "complete", tid(603), "jobs.add")], [])
        app.refresh_data()
        await settle(pilot)
        assert table.keys() == before  # held still
        assert "(1 newer)" in _more(app, "events") and "End resumes" in _more(app, "events")
        await pilot.press("end")
        await pilot.pause()
        assert len(table.keys()) == len(before) + 1 and table.at_end()
        assert "live tail" in _more(app, "events")

    run(queue, "events", script)


def test_snapshot_worker_detail_small(queue: MemoryHuey, snap_compare: Any) -> None:
    async def open_worker(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, WorkerDetailScreen)
        await _wait_for(pilot, lambda: screen.detail is not None)

    assert snap_compare(new_app(queue), terminal_size=SMALL, run_before=open_worker)


def test_snapshot_worker_detail_big(queue: MemoryHuey, snap_compare: Any) -> None:
    async def open_worker(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, WorkerDetailScreen)
        await _wait_for(pilot, lambda: screen.detail is not None)

    assert snap_compare(new_app(queue), terminal_size=BIG, run_before=open_worker)


def test_snapshot_second_page_big(queue: MemoryHuey, snap_compare: Any) -> None:
    _fill(queue, 250)

    async def next_page(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("greater_than_sign")
        await settle(pilot)

    assert snap_compare(new_app(queue, "pending"), terminal_size=BIG, run_before=next_page)


def test_snapshot_events_tail_stopped_small(queue: MemoryHuey, snap_compare: Any) -> None:
    async def stop_tail(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("up", "up")
        await pilot.pause()

    assert snap_compare(new_app(queue, "events"), terminal_size=SMALL, run_before=stop_tail)


def test_the_filter_applies_as_it_is_typed(queue: MemoryHuey) -> None:
    async def script(app: TopApp, pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"send")  # no Enter
        table = app.dashboard.table("pending")
        await _wait_for(pilot, lambda: app.dashboard.filter is not None)
        await settle(pilot)
        assert table.keys() == [EMAIL] and isinstance(app.focused, Input)
        await pilot.press("escape")
        await settle(pilot)
        assert table.keys() == [*PENDING, EMAIL]

    run(queue, "pending", script)


def test_left_and_right_scroll_by_whole_columns(queue: MemoryHuey) -> None:
    async def main() -> None:
        app = new_app(queue, "pending")
        async with app.run_test(size=SMALL) as pilot:
            await settle(pilot)
            table = app.dashboard.table("pending")
            first = table.ordered_columns[0].get_render_width(table)
            await pilot.press("right")
            await pilot.pause()
            assert table.scroll_x == first  # the ID column, not one character
            await pilot.press("left")
            await pilot.pause()
            assert table.scroll_x == 0

    asyncio.run(main())
