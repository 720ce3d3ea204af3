"""One line of the queue's counts: ready, scheduled, running, dead letters, workers."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.inspect import Overview

from .. import fmt


class QueueCounts(Static):
    def show(self, overview: Overview) -> None:
        parts: list[tuple[str, int, str]] = [
            ("ready", overview.ready, "bold cyan"),
            ("scheduled", overview.scheduled, "bold blue"),
            ("running", overview.running, "bold yellow"),
            ("dead letters", overview.dead, "bold red" if overview.dead else "bold"),
            ("workers", overview.workers, "bold green" if overview.workers else "bold red"),
        ]
        text = Text(" ")
        for i, (label, value, style) in enumerate(parts):
            if i:
                text.append("   │   ", "dim")
            text.append(f"{label} ", "dim")
            text.append(fmt.count(value), style)
        self.update(text)
