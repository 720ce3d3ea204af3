"""One line of the queue's counts: pending, scheduled, running, failed, workers."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.inspect import Overview

from ... import present


class QueueCounts(Static):
    def show(self, overview: Overview) -> None:
        parts: list[tuple[str, int, str]] = [
            (present.state_label("ready"), overview.ready, "bold cyan"),
            ("scheduled", overview.scheduled, "bold blue"),
            ("running", overview.started, "bold yellow"),
            ("ahead", overview.claimed_ahead, "yellow"),
            (present.state_label("dead"), overview.dead, "bold red" if overview.dead else "bold"),
            ("workers", overview.workers, "bold green" if overview.workers else "bold red"),
        ]
        text = Text(" ")
        for i, (label, value, style) in enumerate(parts):
            if i:
                text.append("  │  ", "dim")
            text.append(f"{label} ", "dim")
            text.append(present.count(value), style)
        self.update(text)
