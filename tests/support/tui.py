"""Bring a Textual app under a Pilot to rest, so that what is on screen is a function
of the app's data only, not of how fast this machine happens to run.

A Pilot ``pause()`` only waits for the messages queued when it started: a message
that posts another (a relabelled tab asks for a layout, a thread worker posts its
result, a pushed screen mounts its children) may still be on its way, and a
screenshot taken then shows a half-updated screen. ``settle`` instead waits until
nothing is left to do anywhere: no worker running, every message queue and callback
list empty, no layout, repaint or scroll pending on the screen or any widget, no
animation, and the app's own condition (``busy``: a read in flight, say) clear —
twice in a row, a pause apart. A deadline bounds it; on a deadline it fails saying
what was still going on, rather than let a snapshot catch the screen mid-way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from textual.app import App
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Tabs
from textual.widgets._tabs import Underline

SETTLE_TIMEOUT = 60.0  # seconds; a loaded 2-core machine takes well under one
QUIET_ROUNDS = 2

NOTIFICATION_TIMEOUT = 3600.0  # toasts in snapshots: they would expire on real time

Busy = Callable[[Any], str | None]

_WIDGET_FLAGS = (
    "_layout_required",
    "_repaint_required",
    "_scroll_required",
    "_recompose_required",
    "_refresh_styles_required",
)
_SCREEN_FLAGS = ("_layout_required", "_repaint_required", "_scroll_required")


def top_busy(app: Any) -> str | None:
    """Why a ``TopApp`` is not done: its first read has not landed, or one is in flight."""
    if getattr(app, "refreshes", 1) == 0:
        return "the first read has not landed"
    if getattr(app, "busy", False):
        return "a read is in flight or asked for"
    return None


async def settle(pilot: Pilot[Any], busy: Busy = top_busy, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until ``pilot.app`` has nothing left to do (see the module docstring).

    ``busy(app)`` says why the app itself is not done yet (None when it is)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < QUIET_ROUNDS:
        await pilot.pause()
        why = busy(app) or unsettled(app)
        quiet = 0 if why else quiet + 1
        if why and time.monotonic() > deadline:
            raise AssertionError(f"the app did not settle within {timeout:.0f} s: {why}")


def pin_notifications(app: App[Any]) -> None:
    """Make ``app``'s notifications stay until dismissed: a toast that expires after a
    few seconds of real time is in a snapshot or not depending on the machine's speed."""
    notify = app.notify

    def pinned(message: str, **options: Any) -> None:
        options["timeout"] = NOTIFICATION_TIMEOUT
        notify(message, **options)

    app.notify = pinned  # type: ignore[method-assign]


def unsettled(app: App[Any]) -> str | None:
    """What is still going on in ``app`` (None: nothing)."""
    running = [w.name for w in app.workers if not w.is_finished]
    if running:
        return f"workers running: {running}"
    animator = app.animator
    if animator._animations or animator._scheduled:
        return "an animation is running"
    screen = app.screen
    for flag in _SCREEN_FLAGS:
        if getattr(screen, flag, False):
            return f"the screen has {flag}"
    if screen._dirty_widgets or screen._callbacks:
        return "the screen has widgets to paint or callbacks to run"
    for node in _nodes(app):
        if node._message_queue.qsize() or node._next_callbacks:
            return f"{node!r} has messages or callbacks queued"
        if isinstance(node, Widget) and node.screen is screen:
            why = _widget_unsettled(node)
            if why:
                return why
    return _misplaced_underline(app)


def _nodes(app: App[Any]) -> Iterator[DOMNode]:
    yield app
    for screen in app.screen_stack:
        yield from screen.walk_children(with_self=True)


def _widget_unsettled(widget: Widget) -> str | None:
    if not widget.is_mounted:
        return f"{widget!r} is not mounted yet"
    for flag in _WIDGET_FLAGS:
        if getattr(widget, flag, False):
            return f"{widget!r} has {flag}"
    if isinstance(widget, DataTable) and (
        widget._require_update_dimensions or widget._updated_cells
    ):
        return f"{widget!r} has rows or cells to measure"
    return None


def _misplaced_underline(app: App[Any]) -> str | None:
    # Not a wait: an app invariant, checked here so that a snapshot never records it broken.
    for tabs in app.screen.query(Tabs):
        active = tabs.active_tab
        if active is None or not tabs.display:
            continue
        span = active.virtual_region.shrink(active.styles.gutter).column_span
        line = tabs.query_one(Underline)
        if (line.highlight_start, line.highlight_end) != span:
            where = f"{line.highlight_start}-{line.highlight_end}"
            return f"the underline of {tabs!r} is at {where}, not under its active tab {span}"
    return None
