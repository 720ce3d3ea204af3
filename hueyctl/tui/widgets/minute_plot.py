"""A bar plot of per-minute counters, scaled from zero (unlike ``Sparkline``, which
scales from the minimum, so a steady rate would look like noise)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from ... import present

BLOCKS = " ▁▂▃▄▅▆▇█"
MINUTES = 60


class MinutePlot(Widget):
    COMPONENT_CLASSES = {"minute-plot--bar", "minute-plot--axis"}

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.border_title = title
        self._values: list[int] = [0] * MINUTES  # a full window of zeros until data arrives

    def set_values(self, values: Sequence[int]) -> None:
        window = ([0] * MINUTES + list(values))[-MINUTES:]
        if window == self._values and self.border_subtitle:
            return
        self._values = window
        self.border_subtitle = (
            f"now {present.count(window[-1])} · peak {present.count(max(window))}"
            f" · {present.count(sum(window))} in {MINUTES} min"
        )
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if width <= 0 or height <= 0:
            return Text("")
        bar_rows = max(1, height - 1)
        shown = self._values[-width:]
        peak = max(shown)
        levels = bar_rows * 8
        heights = [
            0 if value <= 0 or peak <= 0 else max(1, round(value / peak * levels))
            for value in shown
        ]
        bar_style = self.get_component_rich_style("minute-plot--bar")
        axis_style = self.get_component_rich_style("minute-plot--axis")
        pad = " " * (width - len(shown))
        lines = []
        for row in range(bar_rows - 1, -1, -1):
            cells = "".join(BLOCKS[min(8, max(0, h - row * 8))] for h in heights)
            lines.append(Text(pad + cells, style=bar_style))
        if height > 1:
            left = f"-{len(shown)}m"
            lines.append(Text(pad + left + "now".rjust(len(shown) - len(left)), style=axis_style))
        return Text("\n").join(lines)
