"""Everything about one task: state, call, attempts, envelope, result or traceback."""

from __future__ import annotations

import datetime as dt
import json

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ... import present
from ..data import Detail
from ..rows import Revoked

STATE_STYLE = {
    "ready": "bold cyan",
    "scheduled": "bold blue",
    "running": "bold yellow",
    "dead": "bold white on red",
    "finished": "bold green",
}


def _when(ts: float | None, now: float, tz: dt.tzinfo | None) -> str:
    return present.when_ago(ts, now, tz)


def render_detail(detail: Detail, now: float, tz: dt.tzinfo | None) -> RenderableType:
    info, result = detail.info, detail.result
    if info is None:
        gone = Text.assemble(
            ("task ", "bold"),
            (detail.task_id, "bold"),
            " is not queued, scheduled, running or dead any more",
            " (finished, or deleted).",
        )
        parts: list[RenderableType] = [gone]
        if result is not None:
            parts += [Rule("result", align="left"), _result(result.ok, result.value, result.error)]
        return Group(*parts)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    revoked = Revoked(detail.revocations).label(info.id, info.name, now, tz)
    rows: list[tuple[str, Text | str]] = [
        ("state", Text(present.state_label(info.state), style=STATE_STYLE.get(info.state, "bold"))),
        ("task", Text(info.name, style="bold")),
        ("id", Text(info.id)),
        ("args", Text(present.clip(present.call_args(info.args, None), 200) or "-")),
        ("kwargs", Text(present.clip(present.call_args(None, info.kwargs), 200) or "-")),
        ("priority", str(info.priority)),
        ("enqueued", _when(info.enqueued_at, now, tz)),
    ]
    for label, field in present.MOMENTS:
        ts = getattr(info, field)
        if ts is not None:
            rows.append((label, _when(ts, now, tz)))
    if info.expires is not None:
        rows.append(("expires", _when(info.expires, now, tz)))
    rows += [
        ("attempt", present.attempt_text(info.state, info.attempt, info.retries, info.attempts)),
        ("deliveries", str(info.deliveries)),
    ]
    if info.runtime is not None:
        rows.append(("runtime", present.runtime(info.runtime)))
    if info.outcome:
        rows.append(("outcome", Text(info.outcome)))
    if info.worker:
        rows.append(("worker", Text(info.worker)))
    if info.orphaned:
        rows.append(("orphaned", Text(present.ORPHANED.partition(": ")[2], style="bold red")))
    if info.reason:
        rows.append(("reason", Text(info.reason, style="yellow")))
    rows.append(("revoked", revoked if revoked.plain else Text("no")))
    for label, value in rows:
        grid.add_row(label, value)
    parts = [grid]
    if info.attempts and (info.state != "finished" or len(info.attempts) > 1):
        lines = present.attempt_lines(info.attempts, now, tz)
        parts += [Rule("attempts", align="left"), Text("\n".join(lines))]
    if info.error:
        summary, _, trace = info.error.partition("\n")
        parts += [Rule("error", align="left", style="red"), Text(summary, style="bold red")]
        if trace.strip():
            parts += [Rule("traceback", align="left", style="red"), Text(trace.rstrip())]
    if result is not None:
        parts += [Rule("result", align="left"), _result(result.ok, result.value, result.error)]
    envelope = json.dumps(info.envelope, indent=2, sort_keys=True, default=str)
    parts += [
        Rule("envelope", align="left"),
        Syntax(envelope, "json", theme="ansi_dark", background_color="default", word_wrap=True),
    ]
    return Group(*parts)


def _result(ok: bool, value: object, error: str | None) -> Text:
    if ok:
        return Text(json.dumps(value, default=str, ensure_ascii=False), style="green")
    return Text(error or "failed", style="red")


class TaskDetail(Static):
    def show(self, detail: Detail, now: float, tz: dt.tzinfo | None) -> None:
        self.update(render_detail(detail, now, tz))
