"""One worker in full: pushed by Enter on a Workers row; loads in a thread worker.

It lists the tasks the worker holds, started ones first, then those it claimed
ahead (prefetched, not started); Enter opens a task, ``y`` copies its id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from ... import present
from ..data import WorkerDetail
from ..messages import OpenTask, WorkerLoaded
from ..rows import COLUMNS, Revoked, task_rows, worker_summary
from ..widgets.live_table import LiveTable
from .loading import LoadingScreen


class WorkerDetailScreen(LoadingScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("y", "copy", "Copy id"),
    ]

    def __init__(
        self,
        worker_id: str,
        load: Callable[[str], WorkerDetail],
        clock: Callable[[], float],
        tz: dt.tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.worker_id = worker_id
        self._load = load
        self._clock = clock
        self.tz = tz
        self.detail: WorkerDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(f" worker {self.worker_id}", id="worker-title")
        yield Static("loading…", id="worker-summary")
        yield LiveTable(COLUMNS["running"], id="worker-table")
        yield Static("", id="worker-more", classes="more")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LiveTable).focus()
        self.reload()

    def _read(self) -> WorkerLoaded:
        return WorkerLoaded(self._load(self.worker_id))

    def _show_error(self, error: str) -> None:
        self.query_one("#worker-summary", Static).update(
            f"cannot load worker {self.worker_id}: {error}"
        )

    def on_worker_loaded(self, message: WorkerLoaded) -> None:
        self._loading = False
        self.detail = detail = message.detail
        now = self._clock()
        w = detail.worker
        summary = (
            worker_summary(w, now, self.tz)
            if w is not None
            else "not in the registry any more (it stopped, or its entry was pruned)"
        )
        self.query_one("#worker-summary", Static).update(summary)
        title = f" worker {self.worker_id}" + (f" · {w.host} pid {w.pid}" if w else "")
        self.query_one("#worker-title", Static).update(title)
        rows = task_rows("running", detail.tasks, now, Revoked(detail.revocations), self.tz)
        self.query_one(LiveTable).sync(rows)
        ahead = sum(1 for t in detail.tasks if t.claimed_ahead)
        started = len(detail.tasks) - ahead
        more = (
            f"{present.count(started)} running, {present.count(ahead)} claimed ahead"
            " · Enter opens a task"
        )
        self.query_one("#worker-more", Static).update(more if detail.tasks else "holds no task")

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        table = event.data_table
        target = table.target() if isinstance(table, LiveTable) else None
        if target is not None and target.task_id is not None:
            event.stop()
            self.post_message(OpenTask(target.task_id))

    def action_copy(self) -> None:
        target = self.query_one(LiveTable).target()
        text = target.task_id if target and target.task_id else self.worker_id
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {text}", title="clipboard (OSC 52)")
