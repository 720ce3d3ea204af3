"""The producer's hot path: µs per single enqueue (W1), in this process, and where it goes.

    PYTHONPATH=. python -m benchmarks.hotpath --url redis://127.0.0.1:6379/15 [-n 20000]
    PYTHONPATH=. python -m benchmarks.hotpath --url ... --profile   # + cProfile of W1

Runs on the database of ``--url``, which it FLUSHes (use a database of your own).
Times, interleaved, ``--repeats`` times each, medians printed:

* ``ours W1`` / ``huey W1``: ``noop(i, "x")`` as the suite's W1 does (one call, one
  round trip, a Result back), and ``ours W1b``: ``noop.map(...)`` per task;
* the parts of ours without the store: building the call (``.s()``), the message
  (``prepare``: stamps, envelope), and the whole call on a store that drops everything
  (``BlackHoleStorage``): what our Python costs per call, round trip excluded;
* the round trip alone: our enqueue (``storage.enqueue``) of a fresh message (MULTI/EXEC)
  and of the same message unmarked (the enqueue_new script), a bare ``EVALSHA`` of the
  script through redis-py, and huey's ``LPUSH``: what the store's client costs.

huey (3.5.4, the ``bench`` extra) is skipped when it is not installed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable

import redis

from engine import BlackHoleHuey
from engine.storage.base import Message

from . import bench_app


def per_call(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    """µs per call of ``fn(i)`` over ``n`` calls: wall clock, and this process's CPU."""
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6


def server_usec(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """INFO commandstats: command -> (calls, usec)."""
    return {
        k.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
        for k, v in client.info("commandstats").items()
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hotpath")
    p.add_argument("--url", help="a Redis database of your own (it is flushed)")
    p.add_argument(
        "--private", action="store_true", help="start a private redis-server (adds server µs)"
    )
    p.add_argument("-n", type=int, default=20_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="cProfile ours W1 (top 25 by tottime)")
    args = p.parse_args(argv)
    if args.private:
        from .redis_server import RedisServer

        with RedisServer() as server:
            args.url = server.url
            return measure(args, server_stats=True)
    if not args.url:
        p.error("give --url or --private")
    return measure(args, server_stats=False)


def measure(args: argparse.Namespace, server_stats: bool) -> int:
    n = args.n
    client = redis.Redis.from_url(args.url)
    client.flushdb()
    ours = bench_app.build("redis", redis_url=args.url)
    hole = BlackHoleHuey("bench")

    @hole.task(name="noop")
    def hole_noop(i: int, payload: str) -> bool:
        return True

    try:
        from . import bench_app_huey

        theirs = bench_app_huey.build(args.url)
    except ImportError:
        theirs = None

    storage = ours.huey.storage
    msg = ours.huey.prepare(ours.noop.s(1, "x"), time.time())
    msgs = [ours.huey.prepare(ours.noop.s(i, "x"), time.time()) for i in range(n + 1)]
    # The same messages unmarked: the enqueue_new script instead of MULTI/EXEC.
    stale = [Message(m.id, m.data, m.priority) for m in msgs]
    script = storage._scripts["enqueue_new"]
    client.script_load(script.script)  # (a fresh enqueue does not load it)
    keys = storage._enqueue_new_keys
    body = msg.data

    cases: dict[str, Callable[[int], object]] = {
        "ours W1 noop(i, 'x')": lambda i: ours.noop(i, "x"),
        "ours .s(i, 'x')": lambda i: ours.noop.s(i, "x"),
        "ours .s + prepare": lambda i: ours.huey.prepare(ours.noop.s(i, "x"), 0.0),
        "ours W1 on a black hole": lambda i: hole_noop(i, "x"),
        "ours storage.enqueue([msg])": lambda i: storage.enqueue([msgs[i]]),
        "ours storage.enqueue, not fresh": lambda i: storage.enqueue([stale[i]]),
        "EVALSHA enqueue_new (redis-py)": lambda i: client.evalsha(
            script.sha, len(keys), *keys, msgs[i].id, 0, body
        ),
    }
    if theirs is not None:
        hq = theirs.huey.storage.queue_key
        hbody = theirs.huey.serialize_task(theirs.noop.s(1, "x"))
        cases["huey W1 noop(i, 'x')"] = lambda i: theirs.noop(i, "x")
        cases["huey LPUSH (redis-py)"] = lambda i: client.lpush(hq, hbody)
        cases["huey .s + serialize"] = lambda i: theirs.huey.serialize_task(theirs.noop.s(i, "x"))
    cases["ours W1b map, per task"] = lambda i: None  # measured apart below

    for fn in cases.values():  # warm every path (script loaded, connections made)
        fn(-1)
    client.flushdb()
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    server: dict[str, list[float]] = {name: [] for name in cases}
    commands: dict[str, dict[str, float]] = {}
    for _ in range(args.repeats):
        for name, fn in cases.items():
            before = server_usec(client) if server_stats else {}
            if name.startswith("ours W1b"):
                t0, c0 = time.perf_counter(), time.process_time()
                ours.noop.map([(i, "x") for i in range(n)])
                times[name].append((time.perf_counter() - t0) / n * 1e6)
                cpu[name].append((time.process_time() - c0) / n * 1e6)
            else:
                wall, used = per_call(fn, n)
                times[name].append(wall)
                cpu[name].append(used)
            if server_stats:
                after = server_usec(client)
                usec = sum(u - before.get(c, (0, 0))[1] for c, (_, u) in after.items())
                server[name].append(usec / n)
                calls = {c: k - before.get(c, (0, 0))[0] for c, (k, _) in after.items()}
                commands[name] = {c: k / n for c, k in calls.items() if k}
            client.flushdb()
    print(f"n = {n:,}, {args.repeats} repeats, median µs per call (min-max):")
    print(f"  {'':34} {'wall':>7}  {'':13}  {'rate':>9}  {'our CPU':>7}  {'server':>6}")
    for name, ts in times.items():
        med = statistics.median(ts)
        srv = f"{statistics.median(server[name]):6.1f}" if server_stats else "     -"
        print(
            f"  {name:34} {med:7.1f}  ({min(ts):5.1f}-{max(ts):5.1f})  {1e6 / med:9,.0f}"
            f"  {statistics.median(cpu[name]):7.1f}  {srv}"
        )
    for name, per in commands.items():
        print(
            f"  server commands per call, {name}: "
            + ", ".join(f"{c} {k:.2f}" for c, k in sorted(per.items()) if k >= 0.01)
        )
    if theirs is not None:
        ratio = statistics.median(times["huey W1 noop(i, 'x')"]) / statistics.median(
            times["ours W1 noop(i, 'x')"]
        )
        print(f"  W1 ours/huey (rate): {ratio:.2f}x")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for i in range(n):
            ours.noop(i, "x")
        prof.disable()
        client.flushdb()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
