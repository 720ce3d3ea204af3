"""Issue 10: a chord fires its callback exactly once, whatever each member's outcome,
with a real worker process on Redis and SQLite.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from engine import (
    chord,
)

# --- chords on a real worker process (issue 10, "Done when") ---

CHORD_APP = """
@huey.task(name="parity.add")
def add(a, b):
    return a + b

@huey.task(name="parity.boom")
def boom(*args):
    raise ValueError("boom")

@huey.task(name="parity.total")
def total(results):
    return sum(r for r in results if isinstance(r, int))

@huey.task(name="parity.callback")
def callback(label, results):
    record(label)
    return results
"""
CHORD_NAMES = ("add", "boom", "total", "callback")


def _chord_for(outcome: str, h: Any, t: dict[str, Any], label: int) -> Any:
    """The chord whose callback must fire exactly once for this member outcome."""
    add, boom, total, cb = (t[n] for n in CHORD_NAMES)
    if outcome == "empty":
        return chord([], cb.s(label))
    first = {
        "success": lambda: add.s(1, 2),
        "member_fails": lambda: boom.s(),
        "member_revoked": lambda: add.s(1, 2),
        "pipeline_head_fails": lambda: boom.s().then(add, 1),
        "pipeline_head_revoked": lambda: add.s(1, 2).then(add, 3),
        "nested": lambda: chord([add.s(1, 2), add.s(3, 4)], total.s()),
    }[outcome]()
    if outcome.endswith("revoked"):
        h.revoke_by_id(first.id)
    return chord([first, add.s(5, 6)], cb.s(label))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["redis", "sqlite"])
@pytest.mark.parametrize(
    "outcome",
    [
        "success",
        "member_fails",
        "member_revoked",
        "pipeline_head_fails",
        "pipeline_head_revoked",
        "nested",
        "empty",
    ],
)
def test_chord_callback_fires_exactly_once_on_a_real_worker(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, outcome: str
) -> None:
    import uuid

    from support.procs import App, wait_for

    from engine.loader import connect

    name = f"parity-{uuid.uuid4().hex[:8]}"
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        config = f"from engine import RedisHuey\nhuey = RedisHuey({name!r}, url={url!r})\n"
        h = connect(url, name)
    else:
        url = str(tmp_path / "queue.db")
        config = f"from engine import SqliteHuey\nhuey = SqliteHuey({name!r}, filename={url!r})\n"
        h = connect("sqlite:///" + url, name)
    # The producer knows the tasks by name only; the worker runs the app's code.
    tasks = {n: h.task(name=f"parity.{n}")(lambda *a: None) for n in CHORD_NAMES}
    app = App(tmp_path, config, CHORD_APP)
    try:
        app.start_worker("-w", "2", "--lease", "2", "--heartbeat", "0.5")
        h.enqueue(_chord_for(outcome, h, tasks, 7))
        wait_for(lambda: 7 in app.executions(), 10, f"the callback of a chord ({outcome})")
        time.sleep(1.0)  # a second firing would come within this
        assert app.executions().count(7) == 1
    finally:
        app.stop_all()
        h.flush()
