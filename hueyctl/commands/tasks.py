"""Look at tasks: the listings ``pending``, ``scheduled``, ``running``, ``failed``
and ``results``, and ``show`` for everything about one task.

The listings' columns are ``render.LISTINGS`` (``top`` draws the same ones);
JSON is the ``TaskInfo`` fields, envelope left to ``show``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from engine.api import Huey
from engine.exceptions import EngineError, SignatureError, TaskException
from engine.inspect import Inspector, ResultInfo, TaskInfo

from .. import present, render, replay, resolve
from ..errors import EXIT_USAGE, CommandError
from ..options import (
    TABLE_ROWS,
    Connection,
    connection_options,
    listing_options,
    output_options,
    row_cap,
)
from ..render import Column

LISTING_DROP = ("envelope",)  # in `show` only: listings stay one short line per task


def footer(insp: Inspector, shown: int, offset: int, more: bool, total: int | None) -> None:
    """Say on stderr where this page sits (on a terminal) and, always, that rows
    were left out and how to get them: a listing is complete or says it is not."""
    where = f"{offset + 1}-{offset + shown}" + (f" of {total:,}" if total is not None else "")
    where += f" ({resolve.queue_label(insp)})"
    if more:
        left = f"{total - offset - shown:,} more" if total is not None else "more rows"
        render.note(f"{where}; … {left}: --limit N or --all (--offset {offset + shown} for more)")
    elif render.stdout_is_tty() and shown:
        render.note(where)


def total(insp: Inspector, kind: str) -> int:
    return insp.overview(1).in_state(present.label_state(kind))


def emit_rows(
    fmt: str,
    rows: Iterator[Any],
    cap: int | None,
    columns: Sequence[Column],
    drop: Sequence[str],
    empty: str,
) -> tuple[int, bool]:
    """Print up to ``cap`` rows (None: all); JSON streams as it reads. Returns how
    many were printed and whether more were left out."""
    if cap is not None:
        page = list(itertools.islice(rows, cap + 1))
        more = len(page) > cap
        rows = iter(page[:cap])
    else:
        more = False
    if fmt != render.TEXT:
        return render.stream_json(rows, fmt, drop), more
    items = list(rows)
    render.listing(fmt, items, columns, drop, empty)
    return len(items), more


def task_listing(
    kind: str,
    conn: Connection,
    fmt: str,
    cap: int | None,
    offset: int,
    task: str | None,
    id_prefix: str | None,
) -> None:
    insp = conn.inspector()
    rows = insp.iter_tasks(present.label_state(kind), offset, task, id_prefix)
    orphans: list[TaskInfo] = []
    if kind == "running":
        rows = _noting(rows, lambda i: i.orphaned, orphans)
    spec = render.LISTINGS[kind]
    columns = spec.columns(time.time(), None)
    shown, more = emit_rows(fmt, rows, cap, columns, LISTING_DROP, spec.empty)
    if orphans and fmt == render.TEXT:
        render.note(f"{len(orphans)} orphaned: their worker is gone; requeued when a worker sweeps")
    if task is not None and not shown:
        unknown = resolve.unknown_filter(insp, conn.app_tasks(), task)
        if unknown:
            render.note(unknown)
    whole = task is None and id_prefix is None
    if more or fmt == render.TEXT:
        footer(insp, shown, offset, more, total(insp, kind) if whole else None)


def _noting(
    rows: Iterator[TaskInfo], which: Callable[[TaskInfo], bool], into: list[TaskInfo]
) -> Iterator[TaskInfo]:
    """``rows`` as they are, keeping those ``which`` picks in ``into`` on the way."""
    for info in rows:
        if which(info):
            into.append(info)
        yield info


def _listing_command(kind: str, doc: str) -> click.Command:
    @listing_options
    @output_options
    @connection_options
    def command(
        conn: Connection,
        fmt: str,
        limit: int | None,
        all_: bool,
        offset: int,
        task: str | None,
        id_prefix: str | None,
    ) -> None:
        task_listing(kind, conn, fmt, row_cap(fmt, limit, all_), offset, task, id_prefix)

    command.__doc__ = doc
    return click.command(name=kind)(command)


pending = _listing_command(
    "pending",
    "List tasks ready to run.\n\nIn the order workers claim them (priority, then "
    "first in, first out). JSON: TaskInfo objects.",
)
scheduled = _listing_command(
    "scheduled",
    "List tasks waiting for their eta.\n\nSoonest first. JSON: TaskInfo objects.",
)
running = _listing_command(
    "running",
    "List tasks workers hold: started, or claimed ahead (prefetched, not started).\n\n"
    "JSON: TaskInfo objects; claimed_at is when the task was claimed, worker the worker "
    "that holds it, started_at when the worker reported it started (its heartbeat, a "
    "second or two behind) and claimed_ahead true while it has not; orphaned true when "
    "its worker's lease lapsed (it is requeued when a live worker sweeps).",
)


@click.command(
    epilog="Example: 'hueyctl failed --task import_feed --export feed.jsonl', then "
    "'hueyctl purge failed --task import_feed' and later 'hueyctl enqueue --from feed.jsonl'."
)
@click.option(
    "--export",
    "export",
    metavar="FILE.jsonl",
    help="Write the dead letters (filters apply) to a new file, one JSON object a line, "
    "for 'hueyctl enqueue --from' ('-': stdout).",
)
@listing_options
@output_options
@connection_options
def failed(
    conn: Connection,
    fmt: str,
    limit: int | None,
    all_: bool,
    offset: int,
    task: str | None,
    id_prefix: str | None,
    export: str | None,
) -> None:
    """List failed tasks (dead letters), newest first.

    Tasks that failed for good, or could not be decoded or run (reason says which).
    JSON: TaskInfo objects; failed_at is when it failed. 'hueyctl retry' puts them
    back on the queue.

    --export writes them instead, each as {"id", "task", "reason", "error",
    "failed_at", "envelope"}: the envelope is the stored record (args, kwargs and
    options exactly; its signature dropped), which 'hueyctl enqueue --from FILE'
    puts back on a queue.
    """
    if export is None:
        task_listing("failed", conn, fmt, row_cap(fmt, limit, all_), offset, task, id_prefix)
        return
    if fmt != render.TEXT or all_:
        raise CommandError("--export writes JSON lines itself: drop --json/--jsonl/--all")
    insp = conn.inspector()
    rows = insp.iter_tasks("dead", offset, task, id_prefix)
    if limit is not None:
        rows = itertools.islice(rows, limit)
    written, unreadable = replay.export(rows, export)
    where = "stdout" if export == "-" else export
    skipped = f"; {unreadable} unreadable left out" if unreadable else ""
    render.note(f"exported {written} dead letter(s) to {where}{skipped}")


def _results_rows(insp: Inspector, offset: int, id_prefix: str | None) -> Iterator[ResultInfo]:
    rows = insp.iter_results(0 if id_prefix else offset)
    if id_prefix is None:
        return rows
    return itertools.islice((r for r in rows if r.id.startswith(id_prefix)), offset, None)


@click.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help=f"Rows to show [default: every row with --json/--jsonl, {TABLE_ROWS} in a table].",
)
@click.option("--all", "all_", is_flag=True, help="Every row, in a table too.")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, metavar="N")
@click.option("--task", "task", metavar="NAME", help="Not supported: see below.")
@click.option("--id", "id_prefix", metavar="PREFIX", help="Only ids starting with PREFIX.")
@output_options
@connection_options
def results(
    conn: Connection,
    fmt: str,
    limit: int | None,
    all_: bool,
    offset: int,
    task: str | None,
    id_prefix: str | None,
) -> None:
    """List stored results.

    JSON: ResultInfo objects (id, ok, value, error).

    A stored result does not record its task's name, so --task cannot filter them;
    use --id, or 'hueyctl show ID'.
    """
    if task is not None:
        raise CommandError(
            "results cannot be filtered by --task: a stored result does not record its "
            "task's name; filter by --id PREFIX",
            EXIT_USAGE,
        )
    cap = row_cap(fmt, limit, all_)
    insp = conn.inspector()
    columns = [
        Column("ID", lambda r: r.id, wrap=False),
        Column("STATUS", lambda r: "ok" if r.ok else "error"),
        Column("VALUE", lambda r: render.value(r.value) if r.ok else r.error, width=70),
    ]
    rows = _results_rows(insp, offset, id_prefix)
    shown, more = emit_rows(fmt, rows, cap, columns, (), "no results")
    if more or fmt == render.TEXT:
        count = conn.huey.result_count() if id_prefix is None else None
        footer(insp, shown, offset, more, count)


# --- show -----------------------------------------------------------------------------------
def _result_detail(huey: Huey, insp: Inspector, task_id: str) -> dict[str, Any] | None:
    info = insp.result(task_id)
    if info is None:
        return None
    out: dict[str, Any] = {**render.record(info), "traceback": None}
    # A signed queue (--app with signing_key): the record is verified first, and an
    # unsigned or forged one is refused (SignatureError, one line) before it is decoded.
    if not info.ok or huey.envelope.verify_keys:
        try:  # the traceback is in the stored error; ResultInfo keeps only its message
            huey.result(task_id, preserve=True)
        except TaskException as exc:
            out["traceback"] = exc.traceback
        except SignatureError as exc:
            raise SignatureError(f"result of task {task_id} is refused: {exc}") from None
        except EngineError:
            pass
    return out


def show_record(huey: Huey, insp: Inspector, task_id: str) -> dict[str, Any]:
    """``show --json``: the TaskInfo fields (envelope included) plus ``result``."""
    info = insp.task(task_id) or insp.finished(task_id)
    if info is not None:
        rec: dict[str, Any] = render.record(info)
    else:  # finished: only its result is left
        rec = {f.name: None for f in dataclasses.fields(TaskInfo)}
        rec.update(id=task_id, state="finished", revoked=False, envelope={})
    rec["result"] = _result_detail(huey, insp, task_id)
    return rec


def _show_text(rec: dict[str, Any]) -> None:
    now = time.time()
    state = present.state_label(rec["state"])
    if rec.get("reason") and rec["reason"] != state:  # not "failed (failed)"
        state += f" ({rec['reason']})"
    if rec.get("claimed_ahead"):
        state += " (claimed ahead, not started)"
    if rec.get("orphaned"):
        state += f" ({present.ORPHANED})"
    if rec.get("outcome") and rec["outcome"] != "complete":
        state += f" ({rec['outcome']})"
    if rec["revoked"]:
        state += ", revoked"
    pairs: list[tuple[str, Any]] = [("id", rec["id"]), ("task", rec["name"]), ("state", state)]
    if rec["state"] == "finished" and rec["name"] is None:
        pairs.append(("note", _no_record_note()))
    elif rec["state"] == "finished":
        pairs += _finished_pairs(rec, now)
    else:
        pairs += [
            ("args", present.call_args(rec["args"], rec["kwargs"]) or "(none)"),
            ("priority", rec["priority"]),
            (
                "attempt",
                present.attempt_text(rec["state"], rec["attempt"], rec["retries"], rec["attempts"]),
            ),
            ("deliveries", rec["deliveries"]),
            ("enqueued", present.when_ago(rec["enqueued_at"], now)),
        ]
        for label, key in present.MOMENTS:
            if rec[key] is not None:
                pairs.append((label, present.when_ago(rec[key], now)))
        pairs += [
            ("expires", present.when_ago(rec["expires"], now)),
            ("worker", rec["worker"]),
        ]
        if rec["attempts"]:
            pairs.append(("attempts", "\n".join(present.attempt_lines(rec["attempts"], now))))
        if rec.get("error"):
            pairs.append(("error", rec["error"]))
    res = rec["result"]
    if res is not None:
        if res["ok"]:
            pairs.append(("result", render.value(res["value"])))
        else:
            pairs.append(("result", f"error: {res['error']}"))
            if res.get("traceback") and not rec.get("error"):
                pairs.append(("traceback", res["traceback"].rstrip()))
    elif rec["state"] != "finished":
        pairs.append(("result", "(none yet)"))
    if rec["envelope"]:
        pairs.append(("envelope", json.dumps(rec["envelope"], sort_keys=True)))
    render.fields(pairs)


def _finished_pairs(rec: dict[str, Any], now: float) -> list[tuple[str, Any]]:
    """What a finished record tells: the call, when and where it ran, its attempts."""
    args = "(not kept: its message was too big)" if rec["envelope"] == {} else None
    pairs: list[tuple[str, Any]] = [
        ("args", args or present.call_args(rec["args"], rec["kwargs"]) or "(none)"),
        ("attempt", present.attempt_text("finished", rec["attempt"], 0, rec["attempts"])),
        ("started", present.when_ago(rec["started_at"], now)),
        ("finished", present.when_ago(rec["finished_at"], now)),
        ("runtime", present.runtime(rec["runtime"])),
        ("worker", rec["worker"]),
    ]
    if len(rec["attempts"]) > 1:
        pairs.append(("attempts", "\n".join(present.attempt_lines(rec["attempts"], now))))
    if rec.get("error"):
        pairs.append(("error", rec["error"]))
    return pairs


def _no_record_note() -> str:
    return (
        "no finished record (older than the last 10,000 finished tasks, or expired with"
        " the results): only its result is left"
    )


@click.command()
@click.argument("task_id", metavar="ID")
@output_options
@connection_options
def show(conn: Connection, fmt: str, task_id: str) -> None:
    """Show everything known about one task.

    Envelope, args, state, attempts, result or error with traceback. ID may be a
    prefix that matches exactly one task.

    JSON: the TaskInfo fields (envelope included) plus "result" (id, ok, value, error,
    traceback, or null). A finished task has state "finished" with finished_at,
    started_at, runtime, worker, outcome and attempts from its finished record, or
    only its result (name null) when the record is gone.
    """
    insp = conn.inspector()
    rec = show_record(conn.huey, insp, resolve.resolve_id(insp, task_id))
    if fmt != render.TEXT:
        render.emit_json(rec, fmt)
    else:
        _show_text(rec)


COMMANDS = (pending, scheduled, running, failed, results, show)
