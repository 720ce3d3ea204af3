"""Where a consumer's time goes during a drain: round trips per task and hot stacks.

    python -m benchmarks.profile --engine ours --mode threads       # round trips per task
    python -m benchmarks.profile --engine huey --mode procs --py-spy  # + sampled stacks

Starts a private redis-server, pre-enqueues ``-n`` no-op tasks, starts the consumer
under :mod:`benchmarks._traced` (every Redis round trip counted, client side) and,
with ``--py-spy``, samples it with ``py-spy record --idle`` (wall clock, all threads
and worker processes). After the first claim it measures for ``--seconds`` and
prints tasks/s, round trips per task by command (Lua scripts by name), and for each
thread the share of samples per engine stack (time waiting on the socket shows as
``read_from_socket``). py-spy slows the consumer down: compare rates without it.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .redis_server import RedisServer
from .suite import ROOT


def _totals(trace_dir: Path) -> collections.Counter[str]:
    total: collections.Counter[str] = collections.Counter()
    for f in trace_dir.glob("*.json"):
        try:
            total.update(json.loads(f.read_text()))
        except (OSError, ValueError):
            pass
    return total


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
        # cmajflt utime stime ...
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _script_names(url: str) -> dict[str, str]:
    from engine.storage.redis import RedisStorage

    storage = RedisStorage("bench", url=url)
    return {script.sha: name for name, script in storage._scripts.items()}


def _stacks(raw: Path, top: int) -> str:
    """Per thread: share of samples by (innermost engine/benchmark frames, leaf)."""
    per_thread: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        thread = next((f for f in frames if f.startswith("thread ")), "?")
        thread = re.sub(r"^thread \((\d+)\): ", r"\1 ", thread)
        ours = [
            re.sub(r" \((?:.*/)?((?:engine|huey|benchmarks)/[^)]*)\)$", r" \1", f)
            for f in frames
            if re.search(r"\((?:.*/)?(engine|huey)/", f)
        ]
        leaf = re.sub(r" \(.*", "", frames[-1])
        per_thread[thread][" > ".join(ours[-2:]) + " || " + leaf] += int(n)
    out = []
    for thread, counter in sorted(per_thread.items()):
        total = sum(counter.values())
        out.append(f"\n{thread} ({total} samples)")
        for key, samples in counter.most_common(top):
            out.append(f"  {samples / total:6.1%}  {key}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--engine", choices=("ours", "huey"), default="ours")
    p.add_argument("--mode", choices=("threads", "procs"), default="threads")
    p.add_argument("-n", type=int, default=20_000)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--py-spy", action="store_true", help="also sample stacks with py-spy")
    p.add_argument(
        "--cpu", action="store_true", help="py-spy: on-CPU samples only (default: wall clock)"
    )
    p.add_argument("--top", type=int, default=8, help="stacks shown per thread")
    args = p.parse_args(argv)
    if args.py_spy and not shutil.which(
        "py-spy", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    ):
        p.error("py-spy is not installed (pip install -e '.[bench]')")

    with RedisServer() as srv, tempfile.TemporaryDirectory(prefix="hueyctl-prof-") as tmp:
        trace_dir = Path(tmp)
        client = srv.client()
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            BENCH_TRACE_DIR=str(trace_dir),
            BENCH_REDIS_URL=srv.url,
            BENCH_STORE="redis",
        )
        if args.engine == "ours":
            from .suite import Ours

            adapter = Ours(srv.url, client)
            module = ["hueyctl", "worker", "benchmarks.bench_app.huey", "-q"]
        else:
            from .suite import Huey

            adapter = Huey(srv.url, client)  # type: ignore[assignment]
            module = ["huey.bin.huey_consumer", "benchmarks.bench_app_huey.huey", "-q"]
        module += ["-w", "4"] if args.mode == "threads" else ["-w", "2", "-k", "process"]
        adapter.preload(args.n)
        argv_ = [sys.executable, "-m", "benchmarks._traced", *module]
        proc = subprocess.Popen(
            argv_,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while adapter.progress(args.n)[0] >= args.n:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the consumer did not start")
                time.sleep(0.01)
            time.sleep(0.5)  # past start-up
            before, done0 = _totals(trace_dir), adapter.progress(args.n)[1]
            cpu0, rcpu0 = _group_cpu(proc.pid), _redis_cpu(client)
            t0 = time.monotonic()
            if args.py_spy:
                raw = trace_dir / "stacks.txt"
                subprocess.run(
                    [
                        "py-spy",
                        "record",
                        *([] if args.cpu else ["--idle"]),
                        "--threads",
                        "--subprocesses",
                        "-r",
                        "200",
                        "-f",
                        "raw",
                        "-o",
                        str(raw),
                        "-d",
                        str(int(args.seconds)),
                        "-p",
                        str(proc.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                    env=dict(
                        os.environ,
                        PATH=os.path.dirname(sys.executable)
                        + os.pathsep
                        + os.environ.get("PATH", ""),
                    ),
                )
            else:
                time.sleep(args.seconds)
            time.sleep(0.3)  # let the trace files catch up
            elapsed = time.monotonic() - t0
            after, done1 = _totals(trace_dir), adapter.progress(args.n)[1]
            cpu1, rcpu1 = _group_cpu(proc.pid), _redis_cpu(client)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        tasks = max(1, done1 - done0)
        names = _script_names(srv.url)
        delta = after - before
        print(
            f"{args.engine} {args.mode}: {tasks} tasks in {elapsed:.1f} s = "
            f"{tasks / elapsed:,.0f} tasks/s{' (under py-spy)' if args.py_spy else ''}"
        )
        print(
            f"CPU per task: consumer {1e6 * (cpu1 - cpu0) / tasks:,.0f} µs, "
            f"redis-server {1e6 * (rcpu1 - rcpu0) / tasks:,.0f} µs"
            + (" (consumer CPU includes py-spy's pauses)" if args.py_spy else "")
        )
        print(f"round trips per task: {sum(delta.values()) / tasks:.2f}")
        for label, n in delta.most_common():
            for sha, name in names.items():
                label = label.replace(sha, name)
            print(f"  {n / tasks:6.2f}  {label}")
        if args.py_spy and (trace_dir / "stacks.txt").exists():
            print(_stacks(trace_dir / "stacks.txt", args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
