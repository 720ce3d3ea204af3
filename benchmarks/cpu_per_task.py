"""CPU per task of a draining `hueyctl worker`: the consumer's and Redis's, in µs per task.

    cd TREE && PYTHONPATH=TREE python -m benchmarks.cpu_per_task 30000 [threads|procs]

Starts a private redis-server, preloads N no-op tasks, starts the suite's consumer
(`-w 4` threads, or `-w 2 -k process`), and from its first claim until everything is
finished reads the consumer's CPU time from /proc (children included for process
workers) and Redis's from `INFO cpu`. Run it alternately in two trees (old, new) and
compare medians: CPU per task moves far less with the machine's load than a drain rate.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from .redis_server import RedisServer
from .suite import Ours


def proc_cpu(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def consumer_cpu(pid: int, mode: str) -> float:
    total = proc_cpu(pid)
    if mode != "threads":
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        total += sum(proc_cpu(int(k)) for k in kids.stdout.split())
    return total


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 30_000
    mode = argv[1] if len(argv) > 1 else "threads"
    with RedisServer(None) as server, tempfile.TemporaryDirectory() as tmp:
        client = redis.Redis.from_url(server.url)
        engine = Ours(server.url, client)
        engine.warm()
        engine.preload(n)
        c = engine.consumer(mode, Path(tmp))
        while engine.progress(n)[0] >= n:  # until the first claim
            time.sleep(0.001)
        cpu0, r0, t0 = consumer_cpu(c.proc.pid, mode), redis_cpu(client), time.monotonic()
        while engine.progress(n)[1] < n:
            time.sleep(0.01)
        wall = time.monotonic() - t0
        cpu, r1 = consumer_cpu(c.proc.pid, mode) - cpu0, redis_cpu(client)
        c.stop()
    print(
        f"{n / wall:9.0f} tasks/s  consumer {cpu / n * 1e6:6.1f} µs/task  "
        f"redis {(r1 - r0) / n * 1e6:5.1f} µs/task"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
