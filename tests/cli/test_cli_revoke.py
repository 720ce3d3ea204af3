"""A revocation in force is never lost silently (issue 13, item 1): ``hueyctl revoke``
keeps what covers the new one, extends what the new one covers, refuses the rest
unless --replace; ``restore`` of nothing is exit 0; ``periodic`` shows the next run
that will happen and LAST RUN a run that happened.

Real Redis and SQLite through click's CliRunner (``q`` fixture of conftest.py).
"""

from __future__ import annotations

import time

from support.cli import Queue, one_line_error

from engine.executor import Executor
from engine.scheduler import Scheduler


def _rev(q: Queue) -> tuple[float | None, bool]:
    (rev,) = q.json("revocations")
    return rev["until"], rev["once"]


def test_a_once_skip_does_not_end_a_maintenance_window(q: Queue) -> None:
    """The audit's reproduction: a 3-hour window, then --until 2h --once."""
    Scheduler(q.huey).publish()
    q.ok("revoke", "print_time", "--until", "3h")
    window = _rev(q)
    r = q.ok("revoke", "print_time", "--until", "2h", "--once")
    assert "already revoked (every call until" in r.stderr and "nothing changed" in r.stderr
    assert _rev(q) == window  # the 3-hour window holds
    r = q.ok("revoke", "print_time", "--until", "1h")
    assert "nothing changed" in r.stderr and _rev(q) == window


def test_a_longer_window_extends_and_a_narrower_one_is_refused(q: Queue) -> None:
    Scheduler(q.huey).publish()
    q.ok("revoke", "print_time", "--until", "1h")
    r = q.ok("revoke", "print_time", "--until", "5h")
    assert "(was: every call until" in r.stderr
    until, once = _rev(q)
    assert abs(until - time.time() - 5 * 3600) < 5 and once is False
    q.ok("revoke", "print_time")  # no end covers every window
    assert _rev(q) == (None, False)

    q.ok("restore", "print_time")
    q.ok("revoke", "print_time", "--once")
    one_line_error(
        q.cli("revoke", "print_time", "--until", "2h"), 1, "would drop that", "--replace"
    )
    assert _rev(q) == (None, True)
    r = q.ok("revoke", "print_time", "--until", "2h", "--replace")
    assert "(was: the next call)" in r.stderr
    assert _rev(q)[1] is False


def test_the_python_api_keeps_hueys_replace(q: Queue) -> None:
    q.huey.revoke_all("tasks.add", revoke_until=time.time() + 3 * 3600)
    q.huey.revoke_all("tasks.add", revoke_until=time.time() + 60, revoke_once=True)
    until, once = _rev(q)
    assert once is True and until < time.time() + 120


def test_restoring_nothing_is_exit_0(q: Queue) -> None:
    r = q.ok("restore", "tasks.add")
    assert "not revoked" in r.stderr and "nothing to restore" in r.stderr
    task_id = q.add(1)[0]
    q.ok("revoke", task_id)
    q.ok("restore", task_id)
    assert "nothing to restore" in q.ok("restore", task_id).stderr


def test_periodic_next_run_honours_revocations(q: Queue) -> None:
    Scheduler(q.huey).publish()
    (p,) = q.json("periodic")
    slot = p["next_slot"]
    assert p["next_run"] == slot

    q.ok("revoke", "print_time", "--once")
    (p,) = q.json("periodic")
    assert p["next_run"] == slot + 300  # */5: the slot after the skipped one
    assert "skips the" in q.ok("periodic").stdout
    q.ok("restore", "print_time")

    q.ok("revoke", "print_time", "--until", "1h")
    (p,) = q.json("periodic")
    assert p["next_run"] >= p["revoked_until"] and p["next_run"] - p["revoked_until"] <= 300
    assert "skipped until" in q.ok("periodic").stdout
    q.ok("revoke", "print_time")
    (p,) = q.json("periodic")
    assert p["next_run"] is None and "none (revoked)" in q.ok("periodic").stdout


def test_last_run_names_a_run_that_happened(q: Queue) -> None:
    sched = Scheduler(q.huey)
    sched.publish()
    (spec,) = q.huey.periodic_specs()
    minute = int(time.time() // 60) * 60
    assert sched.fire(spec, minute - 600, time.time())
    assert q.json("periodic")[0]["last_run"] == minute - 600
    q.ok("revoke", "print_time", "--once")
    assert sched.fire(spec, minute - 300, time.time())  # enqueued, then skipped by the worker
    assert q.json("periodic")[0]["last_run"] == minute - 600
    while Executor(q.huey, "c1").step(time.time()):
        pass
    assert q.json("revocations") == []  # the once-skip was spent on that run
