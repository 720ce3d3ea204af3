"""The drain's scripts in instructions, not time: the Redis server run under callgrind
(valgrind), counting only inside ``evalShaCommand``, per task for the enqueue, the rounds
and the finishes of n tasks (batches of 36, or ``--batch``) of a :mod:`benchmarks.lua_cost`
variant. The count does not move with the machine's load (it varies by ~1% with the random
ids), so it tells a 2% change that the timings of a shared machine cannot.

    PYTHONPATH=. .venv/bin/python -m benchmarks.lua_instructions [-n 720] [--batch 36] [VARIANT]
    PYTHONPATH=/old/tree:. .venv/bin/python -m benchmarks.lua_instructions   # another engine

Needs valgrind (with callgrind_control) and redis-server with its symbols exported (the
Debian/Ubuntu package's are). About 10 s a run."""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks import lua_cost
from benchmarks.redis_server import RedisServer
from engine.storage.base import Message, Outcome
from engine.storage.redis import RedisStorage


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=720)
    p.add_argument("--batch", type=int, default=36)
    p.add_argument("variant", nargs="?", default="base", choices=list(lua_cost.VARIANTS))
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hueyctl-callgrind-"))
    wrapper = tmp / "redis-server"
    wrapper.write_text(
        "#!/bin/sh\nexec valgrind --tool=callgrind --toggle-collect=evalShaCommand"
        f' --callgrind-out-file={tmp}/cg.out {shutil.which("redis-server")} "$@"\n'
    )
    wrapper.chmod(0o755)
    srv = RedisServer(binary=str(wrapper)).start()
    assert srv.proc is not None
    pid = str(srv.proc.pid)
    phases: list[str] = []

    def dump(phase: str) -> None:  # each dump holds what ran since the one before
        subprocess.run(["callgrind_control", "-d", pid], capture_output=True, check=False)
        phases.append(phase)

    try:
        client = srv.client()
        store = RedisStorage("bench", client=client)
        lua_cost.run(client, store, a.n, a.batch, a.variant)  # warm up
        results, record, edit = lua_cost.VARIANTS[a.variant]
        for name, text in edit() if edit else []:
            store._scripts[name] = client.register_script(text)
        client.flushdb()
        now = time.time()
        ids = [str(uuid.uuid4()) for _ in range(a.n)]
        dump("warm-up")
        store.enqueue([Message(i, lua_cost.BODY) for i in ids])
        dump("enqueue")
        done = 0
        while done < a.n:
            claimed = store.claim_round("w1", now, a.batch, 60, "bench-watch").claimed
            dump("round")
            finished = lua_cost.HEAD + b"\n" + lua_cost.BODY if record else None
            items = [
                (
                    c.id,
                    now,
                    Outcome(results=[("r:" + c.id, b"\x88")] if results else (), finished=finished),
                )
                for c in claimed
            ]
            store.finish_many("w1", items)
            dump("finish")
            done += len(items)
    finally:
        srv.stop()
    files = sorted(glob.glob(f"{tmp}/cg.out.*"), key=lambda f: int(f.rsplit(".", 1)[1]))
    sums: dict[str, int] = {}
    for phase, f in zip(phases, files[-len(phases) :], strict=True):
        with open(f) as lines:
            count = next(int(x.split()[1]) for x in lines if x.startswith("totals:"))
        sums[phase] = sums.get(phase, 0) + count
    sums.pop("warm-up")
    print(
        a.variant,
        f"batch {a.batch}:",
        " ".join(f"{k}={v / a.n:.0f}" for k, v in sums.items()),
        "instructions/task",
    )
    for f in glob.glob(f"{tmp}/*"):
        os.remove(f)
    tmp.rmdir()


if __name__ == "__main__":
    main()
