"""The ``top`` application and its factory, shared by ``hueyctl top`` and the tests.

Refresh loop: a timer ticks every ``interval`` seconds; each tick starts one
thread worker that reads a :class:`~hueyctl.tui.data.Snapshot` and posts it back
as a message. At most one read is in flight: a tick that finds one running only
marks the view dirty, and the read that finishes starts the next, so a slow
store coalesces ticks instead of piling up threads. A read that fails with an
``EngineError`` leaves the last data on screen and marks the header
"disconnected since …"; the next tick tries again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from engine.exceptions import EngineError
from engine.inspect import Event, Inspector
from engine.steering import Pause

from .. import present
from .actions import Actions, RevokeChoice, Target
from .data import TABS, Filter, Query, fetch, load_detail, load_worker
from .messages import (
    ACT_KINDS,
    MUTATING,
    Act,
    ActionDone,
    ActKind,
    BulkCounted,
    Loaded,
    LoadFailed,
    OpenTask,
    OpenWorker,
    QueryChanged,
)
from .screens.bulk import ALL, ONE, BulkScreen
from .screens.confirm import ConfirmScreen
from .screens.dashboard import TITLES, DashboardScreen
from .screens.detail import TaskDetailScreen
from .screens.help import HelpScreen
from .screens.revoke import RevokeScreen
from .screens.worker import WorkerDetailScreen

EVENT_BUFFER = 500
STUCK = 1.0  # seconds after which a read in flight counts as stuck (see action_quit)


class TopApp(App[None]):
    CSS_PATH = "top.tcss"
    TITLE = "hueyctl top"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        # Ctrl-C quits, as in htop and k9s (Textual's default only says "press ctrl+q").
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        inspector: Inspector,
        actions: Actions,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
        *,
        tz: dt.tzinfo | None = None,
        tab: str = "workers",
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self.inspector = inspector
        self.actions = actions
        # top --serve --read-only: every action that changes the queue is hidden
        # (keys, footer, palette) and refused if it is reached anyway.
        self.read_only = read_only
        self.clock = clock
        self.interval = interval
        self.tz = tz
        self.frozen = False  # the view: no refresh while frozen (f)
        self.queue_pause: Pause | None = None  # the queue's pause in force, last read
        self.connected: bool | None = None  # None until the first read
        self.down_since: float | None = None
        self.refreshes = 0  # reads applied (tests wait on it)
        self.events: deque[Event] = deque(maxlen=EVENT_BUFFER)
        self._fetching = False
        self._fetch_started = 0.0
        self._again = False
        self.dashboard = DashboardScreen(tz, tab)

    def get_default_screen(self) -> Screen[Any]:
        return self.dashboard

    def on_ready(self) -> None:
        # Ready, not Mount: the dashboard is composed by then.
        self.tick()
        if self.interval > 0:
            self.set_interval(self.interval, self.tick)

    # --- refresh -----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A read is in flight or asked for (tests wait for this to clear)."""
        return self._fetching or self._again

    def tick(self) -> None:
        self.show_status()
        if not self.frozen:
            self.refresh_data()
            if isinstance(self.screen, (TaskDetailScreen, WorkerDetailScreen)):
                self.screen.reload()

    def refresh_data(self) -> None:
        if self._fetching:
            self._again = True
            return
        self._fetching = True
        self._fetch_started = time.monotonic()
        after = self.events[-1].id if self.events else None
        self._fetch(self.dashboard.query_state, after)

    @work(thread=True, exclusive=True, group="fetch", exit_on_error=False)
    def _fetch(self, query: Query, after: str | None) -> None:
        worker = get_current_worker()
        message: Loaded | LoadFailed
        try:
            message = Loaded(fetch(self.inspector, query, after))
        except EngineError as exc:
            message = LoadFailed(str(exc))
        except Exception as exc:  # a bug in a read must not take the screen down
            message = LoadFailed(f"{type(exc).__name__}: {exc}")
        if not worker.is_cancelled:
            self.post_message(message)

    def on_loaded(self, message: Loaded) -> None:
        self._fetching = False
        snap = message.snapshot
        if self.connected is False:
            self.notify("store reachable again", title="reconnected")
        self.connected, self.down_since = True, None
        if snap.events_reset:
            self.events.clear()
        self.events.extend(snap.events)
        self.queue_pause = next((p for p in snap.pauses if p.task is None and p.in_force), None)
        self.dashboard.apply(snap, list(self.events), self.clock())
        self.refreshes += 1
        self.show_status(snap.overview.queue, snap.overview.store)
        self._next()

    def on_load_failed(self, message: LoadFailed) -> None:
        self._fetching = False
        if self.down_since is None:
            self.down_since = self.clock()
            self.notify(message.error, title="store unreachable", severity="error", timeout=6)
        self.connected = False
        self.show_status()
        self._next()

    def _next(self) -> None:
        if self._again:
            self._again = False
            self.refresh_data()

    def on_query_changed(self, message: QueryChanged) -> None:
        self.refresh_data()

    def show_status(self, queue: str | None = None, store: str | None = None) -> None:
        if queue is None or store is None:
            queue, store = self.inspector.huey.name, self.inspector.describe()
        state = {None: "connecting", True: "connected", False: "disconnected"}[self.connected]
        since = present.clock(self.down_since, self.clock(), self.tz) if self.down_since else None
        waiting = time.monotonic() - self._fetch_started if self._fetching else 0.0
        if state == "connected" and waiting > max(2.0, 2 * self.interval):
            state, since = "waiting", present.duration(waiting)
        self.dashboard.show_status(
            queue=queue,
            store=store,
            state=state,
            clock=present.clock(self.clock(), self.clock(), self.tz),
            frozen=self.frozen,
            down_since=since,
            queue_paused=self.pause_text(),
        )

    def pause_text(self) -> str | None:
        p = self.queue_pause
        if p is None:
            return None
        at = f" at {present.clock(p.at, self.clock(), self.tz)}" if p.at is not None else ""
        return f"paused by {p.who}{at}"

    async def action_quit(self) -> None:
        if self._fetching and time.monotonic() - self._fetch_started > STUCK:
            # A read is stuck on a hung store: exiting waits for worker threads, so
            # close its sockets rather than sit out the client's socket timeout.
            try:
                self.inspector.close()
            except Exception:
                pass
        self.exit()

    def action_freeze(self) -> None:
        self.frozen = not self.frozen
        self.show_status()
        if not self.frozen:
            self.refresh_data()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide and refuse the app's actions that change the queue when read-only."""
        return not (action in MUTATING and self.read_only)

    def action_pause_queue(self) -> None:
        """Pause the queue, or resume it when it is paused (asks first)."""
        if self.read_only:
            self.notify("read-only: this dashboard changes nothing", severity="warning")
            return
        name = self.inspector.huey.name
        p = self.queue_pause
        if p is not None:
            question = f"Resume queue {name}? ({self.pause_text()})"
            self._confirm_call("Resume queue", question, "Resume", self.actions.resume_queue)
            return
        question = (
            f"Pause queue {name}? Workers finish what they run and claim nothing until "
            "it is resumed (p again, or hueyctl resume)."
        )
        self._confirm_call("Pause queue", question, "Pause", self.actions.pause_queue)

    def _confirm_call(self, title: str, question: str, yes: str, fn: Callable[[], str]) -> None:
        def answered(ok: bool | None) -> None:
            if ok:
                self._run(fn)

        self.push_screen(ConfirmScreen(title, question, yes), answered)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # --- detail ------------------------------------------------------------------
    def on_open_task(self, message: OpenTask) -> None:
        self.open_task(message.task_id)

    def open_task(self, task_id: str) -> None:
        load = partial(load_detail, self.inspector)
        self.push_screen(TaskDetailScreen(task_id, load, self.clock, self.tz))

    def on_open_worker(self, message: OpenWorker) -> None:
        load = partial(load_worker, self.inspector)
        self.push_screen(WorkerDetailScreen(message.worker_id, load, self.clock, self.tz))

    # --- actions -----------------------------------------------------------------
    def on_act(self, message: Act) -> None:
        self.act(message.kind, message.target)

    def act(self, kind: ActKind, target: Target | None) -> None:
        if self.read_only:
            self.notify("read-only: this dashboard changes nothing", severity="warning")
            return
        if self._bulk_state(kind) is not None:
            self._offer_bulk(kind, target)
            return
        if target is None:
            self.notify("select a row first", severity="warning")
            return
        handlers: dict[ActKind, Callable[[Target], None]] = {
            "revoke": self._ask_revoke,
            "restore": partial(self._run, self.actions.restore),
            "retry": self._confirm_retry,
            "delete": self._confirm_delete,
            "cancel": self._confirm_cancel,
        }
        handlers[kind](target)

    def _ask_revoke(self, target: Target) -> None:
        self.push_screen(RevokeScreen(target), partial(self._revoke, target))

    def _revoke(self, target: Target, choice: RevokeChoice | None) -> None:
        if choice is not None:
            self._run(self.actions.revoke, target, choice)

    def _confirm_retry(self, target: Target) -> None:
        if target.state != "dead" or not target.task_id:
            self.notify("R retries a dead letter: pick one in the Failed tab", severity="warning")
            return
        question = f"Put dead letter {target.name} {target.task_id} back on the queue?"
        self._confirm("Retry dead letter", question, "Retry", self.actions.retry, target)

    def _confirm_delete(self, target: Target) -> None:
        if not target.task_id or target.state not in ("ready", "scheduled", "dead"):
            self.notify("D deletes one pending, scheduled or dead task", severity="warning")
            return
        question = f"Delete {target.name} {target.task_id} ({target.state})? This cannot be undone."
        self._confirm("Delete task", question, "Delete", self.actions.delete, target)

    def _confirm_cancel(self, target: Target) -> None:
        if not target.task_id or target.state not in ("ready", "scheduled", "running", "parked"):
            self.notify("c cancels one pending, scheduled or running task", severity="warning")
            return
        what = (
            "its worker stops it (it ends cancelled, not retried)"
            if target.state == "running"
            else "it is deleted"
        )
        question = f"Cancel {target.name} {target.task_id} ({target.state})? {what}."
        self._confirm("Cancel task", question, "Cancel task", self.actions.cancel, target)

    # --- bulk: R/D with a filter offer every task it matches ----------------------------------
    def _bulk_state(self, kind: ActKind) -> str | None:
        """The listing a bulk ``kind`` works on now: the tab's, when a filter is set
        there and the key has a bulk form there (R: Failed; D: Pending, Scheduled,
        Failed); else None."""
        tab = self.dashboard.tab
        if self.dashboard.filter is None:
            return None
        if kind == "retry" and tab == "failed":
            return "dead"
        if kind == "delete" and tab in ("pending", "scheduled", "failed"):
            return present.label_state(tab)
        return None

    def _offer_bulk(self, kind: ActKind, target: Target | None) -> None:
        flt = self.dashboard.filter
        state = self._bulk_state(kind)
        if flt is None or state is None:
            return
        self.notify(f"counting the tasks matching “{flt.text}”…", timeout=2)
        self._count_worker(kind, state, flt, target)

    @work(thread=True, group="action", exit_on_error=False)
    def _count_worker(self, kind: str, state: str, flt: Filter, target: Target | None) -> None:
        try:
            sel, count, cutoff = self.actions.bulk_count(
                kind, state, flt.text, lambda i: flt.matches(i.name, i.id)
            )
        except EngineError as exc:
            self.post_message(ActionDone(f"failed: {exc}", ok=False))
            return
        self.post_message(BulkCounted(kind, sel, count, cutoff, target))

    def on_bulk_counted(self, message: BulkCounted) -> None:
        noun = {"ready": "pending task", "scheduled": "scheduled task", "dead": "dead letter"}
        what = noun[message.selection.state]
        where = f"matching “{message.selection.label}”"
        one = message.target
        if one is not None and (not one.task_id or one.state != message.selection.state):
            one = None
        if not message.count.matched and one is None:
            self.notify(f"no {what}s {where}", severity="warning")
            return
        verb = "Retry" if message.kind == "retry" else "Delete"
        question = f"{verb} all {message.count.matched:,} {what}(s) {where}?"
        if one is not None:
            question += f"\nOr only {one.label()}."
        if message.kind == "delete":
            question += "\nThis cannot be undone."

        def answered(choice: str | None) -> None:
            if choice == ALL:
                sel, cutoff, count = message.selection, message.cutoff, message.count
                self._run(self.actions.bulk, message.kind, sel, cutoff, count)
            elif choice == ONE and one is not None:
                single = self.actions.retry if message.kind == "retry" else self.actions.delete
                self._run(single, one)

        title = f"{verb} {what}s {where}"
        label = one.label() if one is not None else None
        self.push_screen(BulkScreen(title, question, message.count.matched, label), answered)

    def _confirm(
        self, title: str, question: str, yes: str, fn: Callable[..., str], target: Target
    ) -> None:
        def answered(ok: bool | None) -> None:
            if ok:
                self._run(fn, target)

        self.push_screen(ConfirmScreen(title, question, yes), answered)

    def _run(self, fn: Callable[..., str], *args: Any) -> None:
        self._act_worker(fn, *args)

    @work(thread=True, group="action", exit_on_error=False)
    def _act_worker(self, fn: Callable[..., str], *args: Any) -> None:
        try:
            message = ActionDone(fn(*args))
        except EngineError as exc:
            message = ActionDone(f"failed: {exc}", ok=False)
        self.post_message(message)

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(message.text, severity="information" if message.ok else "error")
        if isinstance(self.screen, TaskDetailScreen):
            self.screen.reload()
        self.refresh_data()

    # --- command palette -------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        acts: dict[ActKind, tuple[str, str]] = {
            "revoke": ("Revoke…", "Revoke the selected task, or every call of its task"),
            "restore": ("Restore", "Lift the revocation of the selected task or its task name"),
            "retry": (
                "Retry dead letter",
                "Put the selected dead letter back on the queue; with a filter, all matching (R)",
            ),
            "delete": (
                "Delete task",
                "Delete the selected pending, scheduled or dead task; with a filter, all "
                "matching (D)",
            ),
            "cancel": ("Cancel task", "Cancel the selected task: delete it or stop it (c)"),
        }
        for kind in () if self.read_only else ACT_KINDS:
            title, help_text = acts[kind]
            yield SystemCommand(title, help_text, partial(self._act_on_selected, kind))
        if not self.read_only:
            yield SystemCommand(
                "Pause / resume queue",
                "Workers claim nothing while paused (p)",
                self.action_pause_queue,
            )
        yield SystemCommand(
            "Freeze / unfreeze view", "Stop or restart the live refresh (f)", self.action_freeze
        )
        yield SystemCommand(
            "Filter…", "Filter listings by task name or id (/)", self._palette_filter
        )
        yield SystemCommand("Sort task table", "Sort by the next column (s)", self._palette_sort)
        for n, tab in enumerate(TABS, 1):
            yield SystemCommand(
                f"Show {TITLES[tab]}",
                f"Switch to the {TITLES[tab]} tab ({n})",
                partial(self.dashboard.action_tab, tab),
            )
        # Textual's own "Keys" command shows the key panel; this one is hueyctl's help.
        yield SystemCommand("Help: top's keys", "What every key does (?)", self.action_help)

    def _act_on_selected(self, kind: ActKind) -> None:
        self.act(kind, self.dashboard.current_target())

    def _palette_filter(self) -> None:
        self.dashboard.action_filter()

    def _palette_sort(self) -> None:
        self.dashboard.action_sort()


def make_app(
    inspector: Inspector,
    actions: Actions,
    clock: Callable[[], float] = time.time,
    interval: float = 1.0,
    *,
    tz: dt.tzinfo | None = None,
    tab: str = "workers",
    read_only: bool = False,
) -> TopApp:
    """The dashboard of ``inspector``'s queue. ``clock`` drives every displayed time
    (inject a fixed one for snapshots); ``interval`` <= 0 disables the timer (one
    read at start, then only on demand); ``tz`` None shows local time; ``read_only``
    hides every action that changes the queue."""
    if tab not in TABS:
        raise ValueError(f"unknown tab {tab!r}: one of {', '.join(TABS)}")
    return TopApp(inspector, actions, clock, interval, tz=tz, tab=tab, read_only=read_only)
