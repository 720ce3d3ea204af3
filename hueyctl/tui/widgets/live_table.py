"""A ``DataTable`` refreshed in place: rows are matched by key, changed cells are
updated, gone rows removed and new ones appended, so the cursor stays on the row
the operator was looking at and the scroll position stays put.

Column widths are set here (grow-only, from the rows being shown) rather than
left to ``DataTable``'s auto width: that one is measured on idle, and a frame
painted between adding rows and that idle pass stays cached at the old widths.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ..actions import Target
from ..messages import PageEdge
from ..rows import Column, Row

Signature = tuple[tuple[str, str], ...]
MAX_WIDTH = 64  # a column never grows past this; longer cells are cut with an ellipsis


def _signature(cells: Sequence[Text]) -> Signature:
    return tuple((c.plain, str(c.style)) for c in cells)


class LiveTable(DataTable[Text]):
    # Rows, not columns: Home/End and g/G jump to the first/last row as in htop, less
    # and k9s; PgUp/PgDn page as DataTable does, and past the first or last row they
    # ask for the store's previous or next page (PageEdge).
    BINDINGS = [
        Binding("home,g", "scroll_top", "First row", show=False),
        Binding("end,G", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        follow: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id, classes=classes)
        self.spec = tuple(columns)
        self.follow = follow  # keep the cursor on the last row while it is there (a tail)
        self._signatures: dict[str, Signature] = {}
        self._targets: dict[str, Target | None] = {}

    def on_mount(self) -> None:
        self.add_spec_columns()

    def column_labels(self) -> dict[str, str]:
        """Labels that differ from the spec's (a sort arrow, say)."""
        return {}

    def add_spec_columns(self) -> None:
        labels = self.column_labels()
        for col in self.spec:
            label = labels.get(col.key, col.label)
            text = Text(label, justify="right" if col.numeric else "left")
            self.add_column(text, width=text.cell_len, key=col.key)

    def action_page_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(PageEdge(1, self))
            return
        super().action_page_down()

    def action_page_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(PageEdge(-1, self))
            return
        super().action_page_up()

    # ← → scroll by whole columns (DataTable's row cursor scrolls one character).
    def _column_starts(self) -> list[int]:
        starts, x = [], 0
        for column in self.ordered_columns:
            starts.append(x)
            x += column.get_render_width(self)
        return starts

    def action_cursor_right(self) -> None:
        later = [x for x in self._column_starts() if x > self.scroll_x]
        if later:
            self.scroll_to(x=min(later[0], self.max_scroll_x), animate=False)

    def action_cursor_left(self) -> None:
        earlier = [x for x in self._column_starts() if x < self.scroll_x]
        self.scroll_to(x=earlier[-1] if earlier else 0, animate=False)

    def at_end(self) -> bool:
        """The cursor is on the last row (or there is none)."""
        return not self.row_count or self.cursor_row >= self.row_count - 1

    # --- reading ---------------------------------------------------------------------
    def keys(self) -> list[str]:
        return [str(row.key.value) for row in self.ordered_rows]

    def cursor_key(self) -> str | None:
        keys = self.keys()
        return keys[self.cursor_row] if 0 <= self.cursor_row < len(keys) else None

    def target(self) -> Target | None:
        key = self.cursor_key()
        return None if key is None else self._targets.get(key)

    # --- writing ---------------------------------------------------------------------
    def sync(self, rows: Sequence[Row]) -> None:
        current = self.keys()
        cursor_key, cursor_index = self.cursor_key(), self.cursor_row
        at_end = self.follow and (not current or cursor_index >= len(current) - 1)
        wanted = [r.key for r in rows]
        present = set(current)
        survivors = [k for k in wanted if k in present]
        self._grow_columns(rows)
        if survivors == wanted[: len(survivors)]:
            self._update(rows, present, set(wanted))
        else:
            self._rebuild(rows)
        self._targets = {r.key: r.target for r in rows}
        if not wanted:
            return
        if at_end:
            index = len(wanted) - 1
        elif cursor_key in self._targets:
            index = wanted.index(cursor_key)
        else:
            index = min(cursor_index, len(wanted) - 1)
        if index != self.cursor_row:
            self.move_cursor(row=index, scroll=at_end)

    def _grow_columns(self, rows: Sequence[Row]) -> None:
        # Before add_row/update_cell: they start a new render generation, so the
        # next frame is painted at these widths.
        for i, column in enumerate(self.ordered_columns):
            needed = max((r.cells[i].cell_len for r in rows), default=0)
            if min(needed, MAX_WIDTH) > column.width:
                column.width = min(needed, MAX_WIDTH)

    def _update(self, rows: Sequence[Row], present: set[str], wanted: set[str]) -> None:
        for key in present - wanted:
            self.remove_row(key)
            self._signatures.pop(key, None)
        for row in rows:
            sig = _signature(row.cells)
            if row.key not in present:
                self.add_row(*row.cells, key=row.key)
            elif self._signatures.get(row.key) != sig:
                old = self._signatures.get(row.key, ())
                for i, (col, cell) in enumerate(zip(self.spec, row.cells, strict=True)):
                    if i >= len(old) or old[i] != sig[i]:
                        self.update_cell(row.key, col.key, cell)
            self._signatures[row.key] = sig

    def _rebuild(self, rows: Sequence[Row]) -> None:
        scroll_x, scroll_y = self.scroll_x, self.scroll_y
        self.clear()
        self._signatures = {}
        for row in rows:
            self.add_row(*row.cells, key=row.key)
            self._signatures[row.key] = _signature(row.cells)
        self.call_after_refresh(self.scroll_to, scroll_x, scroll_y, animate=False)
