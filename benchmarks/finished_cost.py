"""What the finished records cost the Redis server, per task: the finish step with and
without them, on the same batches, on a private ``redis-server``.

    python -m benchmarks.finished_cost [-n 20000] [--batch 32] [--repeats 4]

Enqueues n noop-sized messages, claims them all, then finishes them in batches of
``--batch`` (what a busy worker's committer sends), each task with a result, once with
a finished record of today's size (a 66-byte head, a newline, the message) and once
without; the two alternate who goes first. Prints the server CPU (``INFO cpu`` delta)
and the ``evalsha`` and inner ``hset`` time (``INFO commandstats``) of the finish phase
per task, and the memory of the two record generations.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from engine.storage.base import Message, Outcome
from engine.storage.redis import RedisStorage

from .redis_cpu import commandstats, server_cpu
from .redis_server import RedisServer

BODY = b'{"a":[1,"x"],"id":"%s","k":{},"n":"noop","t":1764648000.123456,"v":1}'
HEAD = b'{"at":1764648000.5,"runtime":0.000123,"worker":"host-1234-abcdef"}'


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.finished_cost", description=__doc__)
    p.add_argument("-n", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=4)
    args = p.parse_args()
    n = args.n
    cpu: dict[bool, list[float]] = {True: [], False: []}
    with RedisServer() as srv:
        client = srv.client()
        for rep in range(args.repeats):
            for with_records in (True, False) if rep % 2 == 0 else (False, True):
                client.flushdb()
                store = RedisStorage("f", url=srv.url)
                ids = [str(uuid.uuid4()) for _ in range(n)]
                store.enqueue([Message(i, BODY % i.encode()) for i in ids])
                store.heartbeat("c1", time.time(), 600)
                claimed = []
                while len(claimed) < n:
                    claimed += store.claim("c1", time.time(), 500, 600)
                items = [
                    (
                        c.id,
                        time.time(),
                        Outcome(
                            results=[("result:" + c.id, b"true")],
                            finished=HEAD + b"\n" + c.data if with_records else None,
                        ),
                    )
                    for c in claimed
                ]
                client.config_resetstat()
                cpu0 = server_cpu(client)
                for start in range(0, n, args.batch):
                    store.finish_many("c1", items[start : start + args.batch])
                used = (server_cpu(client) - cpu0) / n * 1e6
                stats = commandstats(client)
                cpu[with_records].append(used)
                print(
                    f"records={'yes' if with_records else 'no ':3}  server cpu {used:5.1f} µs/task"
                    f"  evalsha {stats['evalsha'][1] / n:5.1f} µs/task"
                    f"  inner hset {stats.get('hset', (0, 0.0))[1] / n:4.2f} µs/task",
                    flush=True,
                )
                store.close()
        done = [client.memory_usage(f"hueyctl:{{f}}:done_{g}") or 0 for g in "ab"]
    with_r, without = statistics.median(cpu[True]), statistics.median(cpu[False])
    print(f"median server cpu: {with_r:.1f} µs/task with records, {without:.1f} without")
    print(f"the records: {with_r - without:.1f} µs/task; done_a + done_b: {sum(done):,} B")


if __name__ == "__main__":
    main()
