"""One task in full: pushed by Enter on a row; loads in a thread worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from ... import present
from ..actions import Target
from ..data import Detail
from ..messages import MUTATING, Act, DetailLoaded, is_act_kind
from ..widgets.task_detail import TaskDetail
from .loading import LoadingScreen


class TaskDetailScreen(LoadingScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("r", "act('revoke')", "Revoke"),
        Binding("u", "act('restore')", "Restore"),
        Binding("R", "act('retry')", "Retry"),
        Binding("D", "act('delete')", "Delete"),
        Binding("y", "copy", "Copy id", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide and refuse the actions that change the queue when top is read-only."""
        return not (action in MUTATING and getattr(self.app, "read_only", False))

    def __init__(
        self,
        task_id: str,
        load: Callable[[str], Detail],
        clock: Callable[[], float],
        tz: dt.tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.task_id = task_id
        self._load = load
        self._clock = clock
        self.tz = tz
        self.detail: Detail | None = None

    def compose(self) -> ComposeResult:
        yield Static(f" task {self.task_id}", id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield TaskDetail("loading…", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def _read(self) -> DetailLoaded:
        return DetailLoaded(self._load(self.task_id))

    def _show_error(self, error: str) -> None:
        self.query_one(TaskDetail).update(f"cannot load task {self.task_id}: {error}")

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        self._loading = False
        self.detail = message.detail
        info = message.detail.info
        title = f" task {self.task_id}"
        if info:
            title = f" {info.name} · {info.id} · {present.state_label(info.state)}"
        self.query_one("#detail-title", Static).update(title)
        self.query_one(TaskDetail).show(message.detail, self._clock(), self.tz)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.task_id)
        self.notify(f"copied {self.task_id}", title="clipboard (OSC 52)")

    def action_act(self, kind: str) -> None:
        info = self.detail.info if self.detail else None
        target = Target(self.task_id, info.name if info else None, info.state if info else None)
        if is_act_kind(kind):
            self.post_message(Act(kind, target))
