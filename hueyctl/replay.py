"""Dead letters out to a file and back: ``failed --export`` and ``enqueue --from``.

One JSON object a line (JSON Lines), written and read a line at a time, so a file
of any size moves with bounded memory::

    {"id": "...", "task": "tasks.f", "reason": "error", "error": "...",
     "failed_at": 1764633600.0, "envelope": {"id": "...", "task": "tasks.f", ...}}

``envelope`` is the stored record (args and kwargs as the queue's codec wrote
them, every option), without its signature: the file is data, and an import
re-signs each record with the queue's own key (``Huey.replay``) or, on a signed
queue without the key, is refused. A line may also be a bare envelope record.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from engine.api import Huey
from engine.exceptions import CodecError
from engine.inspect import UNREADABLE, TaskInfo

from .errors import EXIT_USAGE, CommandError

BATCH = 500  # records enqueued per store call
DROP = ("sig", "v")  # never exported: a signature is re-made by the importing queue


def line_of(info: TaskInfo) -> str:
    """One dead letter as its export line."""
    envelope = {k: v for k, v in info.envelope.items() if k not in DROP}
    rec = {
        "id": info.id,
        "task": info.name,
        "reason": info.reason,
        "error": info.error,
        "failed_at": info.failed_at,
        "envelope": envelope,
    }
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@contextlib.contextmanager
def _open_new(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    try:
        f = open(path, "x", encoding="utf-8")  # noqa: SIM115 - closed below
    except FileExistsError:
        raise CommandError(f"{path} exists: export to a new file", EXIT_USAGE) from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}", EXIT_USAGE) from None
    with f:
        yield f


def export(rows: Iterable[TaskInfo], path: str) -> tuple[int, int]:
    """Write the dead letters to a new file (``-``: stdout); (written, unreadable left out)."""
    written = unreadable = 0
    with _open_new(path) as out:
        for info in rows:
            if info.name.startswith(UNREADABLE):
                unreadable += 1
                continue
            out.write(line_of(info) + "\n")
            written += 1
    return written, unreadable


def _lines(path: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) of each non-blank line; CommandError names the line."""
    if path == "-":
        raise CommandError("--from needs a file (it is read twice: checked whole first)")
    try:
        f = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except ValueError as exc:
                raise CommandError(f"{path} line {n}: not JSON ({exc})", EXIT_USAGE) from None


def record_of(obj: Any) -> Any:
    """The envelope record of a line: its ``envelope``, or the line itself."""
    return obj["envelope"] if isinstance(obj, dict) and "envelope" in obj else obj


def check(huey: Huey, path: str) -> int:
    """Read the whole file once and check every record as the queue would take it
    (nothing is written); how many records it holds."""
    total = 0
    for n, obj in _lines(path):
        try:
            huey.envelope.reseal(record_of(obj))
        except CodecError as exc:
            raise CommandError(f"{path} line {n}: {exc}: nothing enqueued", EXIT_USAGE) from None
        total += 1
    return total


def enqueue(huey: Huey, path: str, progress: Callable[[int], None] | None = None) -> int:
    """Enqueue every record of the file, a batch at a time; how many."""
    done = 0
    batch: list[Any] = []
    for _, obj in _lines(path):
        batch.append(record_of(obj))
        if len(batch) >= BATCH:
            done += _flush(huey, batch, progress)
    if batch:
        done += _flush(huey, batch, progress)
    return done


def _flush(huey: Huey, batch: list[Any], progress: Callable[[int], None] | None) -> int:
    n = len(huey.replay(batch))
    batch.clear()
    if progress is not None:
        progress(n)
    return n
