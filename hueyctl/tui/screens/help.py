"""``?``: the keys."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("1 … 7, [ ]", "switch tab: Workers, Pending, Scheduled, Running, Periodic, Failed, Events"),
    ("↑ ↓ PgUp PgDn", "move in the list (Tab moves between the task table and the list)"),
    ("Home End g G", "first / last row; on the Events tab End resumes the live tail"),
    ("> <", "next / previous 200 rows (PgDn on the last row, PgUp on the first, too)"),
    ("Enter", "open the task or worker under the cursor (on a task name: filter by it)"),
    ("y", "copy the id under the cursor to the clipboard (OSC 52)"),
    ("/", "filter by task name or id, as you type; Enter closes, Esc clears"),
    ("s", "sort the task table by the next column (or click a header)"),
    ("r", "revoke the task under the cursor, or every call of its task"),
    ("u", "restore (un-revoke) it"),
    ("R", "retry a dead letter (asks; with a filter: or all it matches)"),
    ("D", "delete a queued or dead task (asks; with a filter: or all)"),
    ("c", "cancel the task under the cursor: delete it if it waits, stop it if it runs (asks)"),
    ("p", "pause / resume the queue: workers claim nothing while paused (asks first)"),
    ("f", "freeze / unfreeze the view (the live refresh)"),
    ("Ctrl+P", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit (on a task screen: back)"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, text in KEYS:
            table.add_row(key, text)
        with Vertical(id="dialog", classes="help"):
            yield Static("hueyctl top · keys", classes="dialog-title")
            yield Static(table)
            yield Static("Esc closes", classes="dialog-hint")
