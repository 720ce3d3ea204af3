"""What exists in the store: ``tasks`` (the tasks workers serve, like ``celery inspect
registered``) and ``queues`` (every queue with its counts, like ``rq info``)."""

from __future__ import annotations

import time

import click

from .. import render, resolve
from ..options import Connection, connection_options, output_options

COUNT_BUDGET = 10_000  # tasks read per state to count each task's calls


@click.command()
@output_options
@connection_options
def tasks(conn: Connection, fmt: str) -> None:
    """List the tasks workers serve, with their signatures and counts.

    Each registered worker publishes the tasks it can run (name, parameters,
    crontab, retries) when it starts; with --app the application's own tasks are
    listed too. WORKERS counts the live workers serving a task ("app only": none
    does). PENDING, SCHEDULED and FAILED count up to 10,000 tasks per state ("+":
    there are more); RUNS 1H is the last hour's runs. JSON: TaskEntry objects (with
    the parameters, retries, priority and timeout too).
    """
    insp = conn.inspector()
    spec = render.LISTINGS["tasks"]
    entries = insp.catalog(COUNT_BUDGET)
    render.listing(fmt, entries, spec.columns(time.time(), None), empty=spec.empty)
    if fmt == render.TEXT and any(not e.counts_complete for e in entries):
        render.note(f"counts marked + read the first {COUNT_BUDGET:,} tasks of a state only")


@click.command()
@output_options
@connection_options
def queues(conn: Connection, fmt: str) -> None:
    """List every queue in the store, with counts, workers and latency.

    The queues workers and producers announced, and on Redis those a bounded scan
    of the key space finds; the one named by --queue/--app is always listed. OLDEST
    is how long the task next in line has waited. A queue whose keys this user may
    not read (an ACL of one queue) shows why in ERROR. JSON: QueueInfo objects.
    """
    insp = conn.inspector()
    spec = render.LISTINGS["queues"]
    rows, complete = insp.queue_infos()
    render.listing(fmt, rows, spec.columns(time.time(), None), empty=spec.empty)
    if not complete:
        render.note(
            f"the key scan of {resolve.queue_label(insp)} stopped early: queues that no "
            "worker or producer announced may be missing"
        )


COMMANDS = (tasks, queues)
