"""The ``/`` prompt: filter the listings by task name or task id."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    BINDINGS = [Binding("escape", "close", "Clear filter")]

    class Applied(Message):
        """The operator pressed Enter (``text`` empty: no filter) or Escape."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Typed(Message):
        """The text changed while the prompt is open (the dashboard applies it after a
        pause in typing, so the list follows the filter as it is written)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="filter: task name, or task id (id:… / task:… to force); "
            "applies as you type, Enter closes, Esc clears",
            id=id,
        )

    def open(self, text: str) -> None:
        self.value = text
        self.add_class("-open")
        self.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.has_class("-open"):
            self.post_message(self.Typed(event.value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-open")
        self.post_message(self.Applied(event.value.strip()))

    def action_close(self) -> None:
        self.value = ""
        self.remove_class("-open")
        self.post_message(self.Applied(""))
