"""The top line: queue, store, the queue's pause, connection state, refresh state (frozen)
and the clock.

Not Textual's ``Header``: its clock reads the wall clock, while this one shows
the app's (injectable) clock, so snapshots stay still.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class StatusHeader(Static):
    def show(
        self,
        *,
        queue: str,
        store: str,
        state: str,
        clock: str,
        frozen: bool = False,
        down_since: str | None = None,
        queue_paused: str | None = None,
    ) -> None:
        """``state``: connecting, connected, waiting (``down_since`` says how long) or
        disconnected (``down_since`` says since when)."""
        left = Text.assemble(
            (" hueyctl top ", "bold reverse"),
            "  queue ",
            (queue, "bold"),
            "  on ",
            (store, "italic"),
        )
        right = Text()
        if queue_paused:  # who paused the queue, when (hueyctl pause, or p here)
            right.append(f" ⏸ {queue_paused} ", "bold white on dark_red")
            right.append("  ")
        if frozen:
            right.append(" ❄ frozen ", "bold black on yellow")
            right.append("  ")
        if state == "connected":
            right.append("● connected", "bold green")
        elif state == "disconnected":
            right.append(f"✕ disconnected since {down_since} · retrying", "bold red")
        elif state == "waiting":
            right.append(f"◌ no answer from the store for {down_since}", "bold yellow")
        else:
            right.append("◌ connecting…", "yellow")
        right.append(f"   {clock} ")
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(left, right)
        self.update(grid)
