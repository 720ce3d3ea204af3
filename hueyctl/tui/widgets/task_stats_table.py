"""Per task name over the last hour: runs, failures, average and max runtime.

Sorted by a column: click its header or press ``s`` to move to the next one
(clicking the sorted column again reverses the order)."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.widgets import DataTable

from engine.inspect import TaskStats

from ..rows import COLUMNS, stats_rows
from .live_table import LiveTable

SORTS = tuple(c.key for c in COLUMNS["stats"])


class TaskStatsTable(LiveTable):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(COLUMNS["stats"], id=id, classes=classes)
        self.sort_key = "runs"
        self.reverse = True
        self._stats: Sequence[TaskStats] = ()
        self._title()

    def show(self, stats: Sequence[TaskStats]) -> None:
        self._stats = stats
        self.sync(stats_rows(stats, self.sort_key, self.reverse))

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        if reverse is None:
            # Numbers read best largest first; names A to Z.
            reverse = not self.reverse if key == self.sort_key else key != "task"
        self.sort_key, self.reverse = key, reverse
        self.clear(columns=True)
        self._signatures = {}
        self._title()
        self.add_spec_columns()
        self.show(self._stats)

    def next_sort(self) -> None:
        self.sort_by(SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)])

    def column_labels(self) -> dict[str, str]:
        return {self.sort_key: f"{self._label(self.sort_key)} {self._arrow()}"}

    def _arrow(self) -> str:
        return "▼" if self.reverse else "▲"

    def _title(self) -> None:
        arrow = self._arrow()
        self.border_title = "tasks · last 60 min"
        self.border_subtitle = f"sorted by {self._label(self.sort_key)} {arrow} · s: next column"

    def _label(self, key: str) -> str:
        return next(c.label for c in self.spec if c.key == key)

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))
