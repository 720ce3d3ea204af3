"""Snapshot tests of ``top`` take their screenshot from a settled app.

pytest-textual-snapshot's ``snap_compare`` runs ``run_before`` and the ``press``
keys, then pauses a fixed few times and takes the screenshot: on a loaded machine
a layout, a worker's result or a pushed dialog may still be on its way. This
override keeps its signature, pins notifications (they expire on real time) and
settles the app (tests/support/tui.py) after whatever the test did last, so a new
snapshot test is stable without doing anything about it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pytest

try:
    from support.tui import pin_notifications, settle
except ImportError:  # textual is an extra: without it the TUI tests skip themselves
    pass

RunBefore = Callable[[Any], Awaitable[None] | None]


@pytest.fixture
def snap_compare(snap_compare: Callable[..., bool]) -> Callable[..., bool]:
    """pytest-textual-snapshot's fixture, settling the app before its screenshot."""

    def compare(
        app: Any,
        press: Iterable[str] = (),
        terminal_size: tuple[int, int] = (80, 24),
        run_before: RunBefore | None = None,
    ) -> bool:
        keys = list(press)
        pin_notifications(app)

        async def before(pilot: Any) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            if keys:
                await pilot.press(*keys)
            await settle(pilot)

        return snap_compare(app, terminal_size=terminal_size, run_before=before)

    return compare
