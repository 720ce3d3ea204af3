"""Stored body bytes, encode/decode µs and SQLite file bytes per pending task of the
envelope, optionally against an earlier release's ``engine/envelope.py``.

    git show bc57b09:engine/envelope.py > /tmp/old_envelope.py     # before packed bodies
    PYTHONPATH=. .venv/bin/python -m benchmarks.envelope_size --against /tmp/old_envelope.py

Both encoders run in one process, taking turns within each round (same load); each µs
figure is the least CPU time (``time.process_time``) per operation over the rounds: the
machine is shared, and the minimum is the least disturbed. SQLite: 20,000 ``noop(i, "x")``
enqueued into a SqliteHuey file, (file bytes - an empty queue's) / 20,000, as W6 measures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sqlite3
import sys
import tempfile
import time
import timeit
from typing import Any

from engine import SqliteHuey
from engine.task import Task

ID = "01a234f2-6504-7000-b16e-1e2a6a9f72cb"
AT = 1796184630.5322294
CALLS = {
    "noop(12345, 'x')": Task(name="noop", args=(12345, "x"), id=ID, enqueued_at=AT),
    "kwargs+retries+priority": Task(
        name="noop", args=(7, "x"), kwargs={"mode": "fast", "n": 2}, retries=3, priority=5,
        id=ID, enqueued_at=AT,
    ),
}  # fmt: skip


def _old(path: str) -> Any:
    """An earlier envelope.py, its relative imports pointed at today's engine."""
    text = re.sub(r"^from \.(\w+)", r"from engine.\1", open(path).read(), flags=re.M)
    spec = importlib.util.spec_from_loader("old_envelope", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(text, path, "exec"), module.__dict__)
    sys.modules["old_envelope"] = module
    return module


def _decoder(module: Any) -> Any:
    import inspect

    takes_id = "task_id" in inspect.signature(module.Envelope.decode).parameters
    return (lambda e, d, i: e.decode(d, i)) if takes_id else (lambda e, d, i: e.decode(d))


def timings(versions: dict[str, Any], rounds: int, number: int = 5000) -> None:
    best: dict[tuple[str, str, str], float] = {}
    for _ in range(rounds):
        for ver, module in versions.items():
            decode = _decoder(module)
            for label, task in CALLS.items():
                for kind, env in (
                    ("", module.Envelope()),
                    ("signed ", module.Envelope(signing_key=b"k" * 32)),
                ):
                    data = env.encode(task)
                    assert decode(env, data, task.id) == task
                    ops = {
                        "encode": lambda e=env, t=task: e.encode(t),
                        "decode": lambda e=env, d=data, t=task, f=decode: f(e, d, t.id),
                    }
                    for op, fn in ops.items():
                        took = timeit.Timer(fn, timer=time.process_time).timeit(number)
                        took = took / number * 1e6
                        key = (label, kind + op, ver)
                        best[key] = min(took, best.get(key, took))
    names = list(versions)
    print("| call | op | " + " | ".join(f"{v} µs" for v in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label in CALLS:
        for op in ("encode", "decode", "signed encode", "signed decode"):
            print(
                f"| {label} | {op} | "
                + " | ".join(f"{best[(label, op, v)]:.2f}" for v in names)
                + " |"
            )


def _file_bytes(path: str) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def sqlite_bytes(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        sizes = []
        for name, count in (("empty.db", 0), ("full.db", n)):
            huey = SqliteHuey("bench", filename=os.path.join(tmp, name))

            @huey.task(name="noop")
            def noop(i: int, payload: str) -> bool:
                return True

            huey.storage.counts()
            noop.map([(i, "x") for i in range(count)])
            huey.storage.close()
            sizes.append(_file_bytes(os.path.join(tmp, name)))
        return (sizes[1] - sizes[0]) / n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.envelope_size", description=__doc__)
    p.add_argument("--against", help="an earlier engine/envelope.py to compare with")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("-n", type=int, default=20_000, help="tasks for the SQLite figure (0: skip)")
    args = p.parse_args(argv)
    import engine.envelope as today

    versions: dict[str, Any] = {"today": today}
    if args.against:
        versions = {"against": _old(args.against), **versions}
    for ver, module in versions.items():
        for label, task in CALLS.items():
            env, signed = module.Envelope(), module.Envelope(signing_key=b"k" * 32)
            print(f"{ver}: {label}: {len(env.encode(task))} B, signed {len(signed.encode(task))} B")
    timings(versions, args.rounds)
    if args.n:
        print(f"today: SQLite {sqlite_bytes(args.n):.1f} file bytes per pending noop(i, 'x')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
