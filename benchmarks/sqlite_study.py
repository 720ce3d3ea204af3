"""SQLite file bytes per pending task in candidate schemas (issue 16, W6 on SQLite).

    PYTHONPATH=. .venv/bin/python -m benchmarks.sqlite_study [-n 20000] [--body 40]

For each schema: a fresh file in a temp dir, n pending ``noop(i, "x")`` tasks added in
one transaction, then ``wal_checkpoint(TRUNCATE)``; bytes per task are the used pages
(page_count - freelist_count) times page_size, minus the same for the empty schema,
over n (what ``benchmarks/suite.py`` W6 reports), and the ``dbstat`` breakdown by
table and index (when SQLite was built with it).

Schemas: ``today`` is the previous release's DDL (text queue and id in every row and
in three full indexes), ``store`` is the real :class:`SqliteStorage` of this tree, and
``huey`` is huey 3.5's ``SqliteHuey`` (one ``enqueue`` per task, its pickle as the
body). ``--body N`` replaces our envelope with N bytes (the compact envelope).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.ids import new_task_id

TODAY = """
CREATE TABLE task (
    queue TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, eta REAL,
    consumer TEXT, claimed_at REAL, deliveries INTEGER NOT NULL DEFAULT 0,
    reason TEXT, error TEXT, failed_at REAL, ord INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, id));
CREATE INDEX task_eta ON task (queue, state, eta, id);
CREATE INDEX task_dead ON task (queue, state, failed_at, id);
CREATE INDEX task_order ON task (queue, state, priority DESC, ord, id);
"""


# Candidates tried (see the module docstring of engine/storage/sqlite.py for the pick).
# {id}: the id column's type; {wr}: "WITHOUT ROWID" or "".
POS = """
CREATE TABLE queue (qid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE task (pos INTEGER PRIMARY KEY, qid INTEGER NOT NULL, id {id} NOT NULL,
    state INTEGER NOT NULL, priority INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0, at REAL, consumer TEXT, reason TEXT,
    error TEXT, data BLOB NOT NULL);
CREATE UNIQUE INDEX task_id ON task (qid, id);
CREATE INDEX task_ready ON task (qid, priority DESC) WHERE state = 0;
CREATE INDEX task_sched ON task (qid, at, id) WHERE state = 1;
"""
KEYED = """
CREATE TABLE queue (qid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE task (qid INTEGER NOT NULL, id {id} NOT NULL,
    state INTEGER NOT NULL, priority INTEGER NOT NULL DEFAULT 0, ord INTEGER NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0, at REAL, consumer TEXT, reason TEXT,
    error TEXT, data BLOB NOT NULL, PRIMARY KEY (qid, id)) WITHOUT ROWID;
CREATE INDEX task_ready ON task (qid, priority DESC, ord) WHERE state = 0;
CREATE INDEX task_sched ON task (qid, at, id) WHERE state = 1;
"""


def as_blob(task_id: str) -> bytes:
    return bytes.fromhex(task_id.replace("-", ""))


def fill_candidate(
    path: Path, ddl: str, items: list[tuple[str, bytes]], blob: bool, page_size: int
) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA page_size = {page_size}")
        conn.execute("PRAGMA journal_mode = wal")
        conn.executescript(ddl.format(id="BLOB" if blob else "TEXT"))
        conn.execute("INSERT INTO queue (name) VALUES ('bench')")
        conn.execute("BEGIN")
        cols = "qid, id, state, data" + (", ord" if "ord" in ddl else "")
        marks = "1, ?, 0, ?" + (", ?" if "ord" in ddl else "")
        rows = [
            (as_blob(i) if blob else i, d) + ((n,) if "ord" in ddl else ())
            for n, (i, d) in enumerate(items)
        ]
        conn.executemany(f"INSERT INTO task ({cols}) VALUES ({marks})", rows)
        conn.execute("COMMIT")


def used_bytes(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("page_count", "freelist_count", "page_size")
        )
    return int((pages - free) * size)


def breakdown(path: Path) -> list[tuple[str, int, int]]:
    """(table or index, pages, bytes used of them) from dbstat, or [] without it."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        try:
            rows = conn.execute(
                "SELECT name, count(*), sum(pgsize - unused) FROM dbstat GROUP BY name"
                " ORDER BY 2 DESC"
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return [(str(n), int(p), int(u)) for n, p, u in rows]


def tasks(tmp: Path, n: int, size: int | None) -> list[tuple[str, bytes]]:
    """(id, body) of n pending ``noop(i, "x")``: the bodies our ``map()`` stores today
    (read back from a scratch store), or ``size``-byte bodies (the compact envelope)."""
    if size is not None:
        return [(new_task_id(), f"{i:0{size}d}".encode()[-size:]) for i in range(n)]
    from . import bench_app

    app = bench_app.build("sqlite", sqlite_path=str(tmp / "scratch.db"))
    app.noop.map([(i, "x") for i in range(n)])
    items = [(m.id, m.data) for m in app.huey.storage.ready_items(0, n)]
    app.huey.storage.close()
    return items


def fill_today(path: Path, items: list[tuple[str, bytes]]) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = wal")
        conn.executescript(TODAY)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO task (queue, id, data, priority, state, ord)"
            " VALUES ('bench', ?, ?, 0, 'ready', ?)",
            [(i, d, n + 1) for n, (i, d) in enumerate(items)],
        )
        conn.execute("COMMIT")


def fill_store(path: Path, items: list[tuple[str, bytes]]) -> None:
    from engine.storage.base import Message
    from engine.storage.sqlite import SqliteStorage

    store = SqliteStorage("bench", filename=str(path))
    store.enqueue([Message(i, d) for i, d in items])
    store.close()


def fill_huey(path: Path, n: int) -> None:
    from . import bench_app_huey

    app = bench_app_huey.build_sqlite(str(path))
    for i in range(n):
        app.noop(i, "x")
    app.huey.storage.close()


def measure(
    tmp: Path, name: str, fill: Callable[[Path], None], empty: Callable[[Path], None]
) -> float:
    full_path, empty_path = tmp / f"{name}.db", tmp / f"{name}-empty.db"
    empty(empty_path)
    fill(full_path)
    return float(used_bytes(full_path) - used_bytes(empty_path))


def rates(tmp: Path, n: int, data: list[bytes]) -> None:
    """Enqueue and drain rates of the real store (one thread, no worker): ``enqueue`` of
    all n in one call (W1b's path), n // 10 single enqueues (W1's), then claim_round of
    8 at a time and ``finish_many`` of those 8, each with a result and a finished record
    (a worker's calls in W2). Each as tasks per second of wall time and µs of this
    process's CPU per task (steadier on a busy machine)."""
    import time

    from engine.storage.base import Message, Outcome
    from engine.storage.sqlite import SqliteStorage

    store = SqliteStorage("bench", filename=str(tmp / "rates.db"))
    store.counts()  # the schema
    items = [Message(new_task_id(), d) for d in data]
    singles = [Message(new_task_id(), d) for d in data[: n // 10]]
    total = n + len(singles)

    def drain() -> None:
        done = 0
        while done < total:
            now = time.time()
            got = store.claim_round("c1", now, 8, 30.0, "watch").claimed
            results = [
                (c.id, now, Outcome([(f"result:{c.id}", b"true")], finished=b"{}\n" + c.data))
                for c in got
            ]
            assert store.finish_many("c1", results) == [None] * len(got)
            done += len(got)

    def one_by_one() -> None:
        for m in singles:
            store.enqueue([m])

    phases: list[tuple[str, int, Callable[[], None]]] = [
        ("enqueue bulk", n, lambda: store.enqueue(items)),
        ("single", len(singles), one_by_one),
        ("claim_round + finish_many", total, drain),
    ]
    out = []
    for label, count, run in phases:
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out.append(f"{label} {count / wall:,.0f}/s ({1e6 * cpu / count:,.0f} µs CPU)")
    store.close()
    print("rates: " + ", ".join(out))


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sqlite_study")
    p.add_argument("-n", type=int, default=20_000)
    p.add_argument("--body", type=int, help="bytes of our body (default: today's envelope)")
    p.add_argument("--rates", action="store_true", help="only the store's enqueue/drain rates")
    args = p.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        items = tasks(tmp, n, args.body)
        data = [body for _, body in items]
        print(f"n = {n:,}; our body {sum(map(len, data)) / n:.1f} bytes on average")
        if args.rates:
            rates(tmp, n, data)
            return
        cases: dict[str, tuple[Callable[[Path], None], Callable[[Path], None]]] = {
            "today": (lambda p: fill_today(p, items), lambda p: fill_today(p, [])),
            "store": (lambda p: fill_store(p, items), lambda p: fill_store(p, [])),
        }
        for label, ddl in (("pos", POS), ("keyed", KEYED)):
            for blob in (False, True):
                for size in (4096, 8192):
                    name = f"{label}-{'blob' if blob else 'text'}-{size}"
                    cases[name] = (
                        lambda p, ddl=ddl, blob=blob, size=size: fill_candidate(
                            p, ddl, items, blob, size
                        ),
                        lambda p, ddl=ddl, blob=blob, size=size: fill_candidate(
                            p, ddl, [], blob, size
                        ),
                    )
        with contextlib.suppress(ImportError):
            import huey  # noqa: F401

            cases["huey"] = (lambda p: fill_huey(p, n), lambda p: fill_huey(p, 0))
        for name, (fill, empty) in cases.items():
            total = measure(tmp, name, fill, empty)
            print(f"{name:16} {total / n:7.1f} bytes/task")
            for obj, pages, used in breakdown(tmp / f"{name}.db"):
                print(f"    {obj:28} {pages:6} pages  {used / n:6.1f} bytes/task used")
            for f in os.listdir(tmp):
                os.unlink(tmp / f)


if __name__ == "__main__":
    main()
