"""``R``/``D`` with a filter: act on the row under the cursor, or on all N matching."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

ALL, ONE = "all", "one"


class BulkScreen(ModalScreen[str | None]):
    """Dismissed with ``"all"`` (every task the filter matches), ``"one"`` (the row
    under the cursor, when there is one) or None (nothing)."""

    BINDINGS = [
        Binding("a", "answer('all')", "All matching"),
        Binding("o", "answer('one')", "This one"),
        Binding("n", "answer(None)", "Cancel"),
        Binding("escape", "answer(None)", "Cancel"),
    ]

    def __init__(self, title: str, question: str, matched: int, one: str | None) -> None:
        super().__init__()
        self._title = title
        self._question = question
        self._matched = matched
        self._one = one  # the row's label, or None: no single row to offer

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="confirm"):
            yield Static(self._title, classes="dialog-title")
            yield Static(self._question, classes="dialog-body", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"All {self._matched:,} matching (a)", variant="error", id="all")
                if self._one is not None:
                    yield Button("This one (o)", variant="warning", id="one")
                yield Button("Cancel (n)", variant="default", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id if event.button.id in (ALL, ONE) else None)

    def action_answer(self, choice: str | None) -> None:
        if choice == ONE and self._one is None:
            return
        self.dismiss(choice)
