"""Redis bytes per pending task in candidate layouts (issue 16, W6): a paper study with
a prototype fill, no engine change.

    PYTHONPATH=. .venv/bin/python -m benchmarks.layout_study [-n 20000]

Starts its own redis-server (Redis 7.0's defaults: ``hash-max-listpack-entries 512``,
``hash-max-listpack-value 64``, ``list-max-listpack-size -2``; the buckets below hold at
most 128 fields, so they stay listpacks down to a setting of 128), and for each layout
flushes it, fills it with n pending ``noop(i, "x")`` tasks the way that layout would,
and prints the ``used_memory`` delta per task and the sum of ``MEMORY USAGE`` per task.
"today" and "huey" are the real engines (our ``map()``; huey 3.5's ``RedisHuey``
enqueue, one call per task); the others are written directly with the keys and values
the layout names.

Layouts (see docs/design.md, "Layout v2 (proposed)"):

* ``today``: ready ZSET (id → priority/order score) + msg HASH (id → envelope, which
  holds the id again); ids are 36-character UUIDs.
* ``A ids once, short``: the same two keys, the id left out of the stored body, and
  26-character ids (the UUIDv7's 128 bits in Crockford base32).
* ``B list + hash``: one LIST of ids per priority level in use + msg HASH of bodies
  (no id inside), 26-character ids.
* ``C list + buckets``: the LIST of ids + bodies in small HASHes of at most 128 fields
  (``<queue>:m:<bucket>``), so Redis keeps each listpack-encoded. The bucket comes from
  the id: ids are ``<epoch><seq>`` where epoch is 4 base32 characters made with the
  counter and seq a per-queue counter a producer reserves in blocks (INCRBY), in base32
  (``k3f99v2``); bucket = seq // 128, field = the seq part.
* ``D C + compact body``: C with the machine envelope ``["noop",[12345,"x"]]`` (task,
  args; options only when set, as a trailing object) instead of the readable record.
* ``E buckets by hash``: C's buckets but for 26-character ids hashed into a fixed 256
  buckets (what ids not made by the counter would cost: ~78 per bucket at n = 20,000).
* ``raw list``: the bodies in one LIST (huey's own layout, with our readable body): the
  floor of any layout without an index by id.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from collections.abc import Callable

import redis

from .redis_server import RedisServer

QUEUE = "{bench}"
B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def b32(n: int, width: int = 0) -> str:
    out = ""
    while n:
        n, r = divmod(n, 32)
        out = B32[r] + out
    return out.rjust(width, "0") or "0"


def uuid_id(i: int) -> str:
    """A 36-character UUIDv7-like id (today's)."""
    rand = int.from_bytes(os.urandom(8)) >> 2
    h = f"{(0x01A2347978A9 << 80) | (0x7 << 76) | ((i & 0xFFF) << 64) | rand:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def short_uuid(i: int) -> str:
    """The same 128 bits in Crockford base32: 26 characters."""
    return b32(int(uuid_id(i).replace("-", ""), 16), 26)


def body(i: int, with_id: str | None) -> bytes:
    rec: dict[str, object] = {"args": [i, "x"], "task": "noop", "v": 1}
    if with_id is not None:
        rec["id"] = with_id
    return json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()


def compact(i: int) -> bytes:
    return json.dumps(["noop", [i, "x"]], separators=(",", ":")).encode()


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def memory_usage(client: redis.Redis) -> int:
    return sum(int(client.memory_usage(k, samples=0) or 0) for k in client.scan_iter(count=1000))


def fill(client: redis.Redis, n: int, write: Callable[[redis.client.Pipeline, int], None]) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        write(pipe, i)
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()


def layouts(n: int) -> dict[str, Callable[[redis.Redis], None]]:
    q = QUEUE

    def a(client: redis.Redis) -> None:
        def w(p: redis.client.Pipeline, i: int) -> None:
            tid = short_uuid(i)
            p.zadd(f"q:{q}:ready", {tid: i * 2**-36})
            p.hset(f"q:{q}:msg", tid, body(i, None))

        fill(client, n, w)

    def b(client: redis.Redis) -> None:
        def w(p: redis.client.Pipeline, i: int) -> None:
            tid = short_uuid(i)
            p.rpush(f"q:{q}:r:0", tid)
            p.hset(f"q:{q}:msg", tid, body(i, None))

        fill(client, n, w)

    def bucketed(make_body: Callable[[int], bytes]) -> Callable[[redis.Redis], None]:
        def run(client: redis.Redis) -> None:
            client.set(f"q:{q}:seq", n)
            client.set(f"q:{q}:epoch", "k3f9")

            def w(p: redis.client.Pipeline, i: int) -> None:
                seq = b32(i)
                p.rpush(f"q:{q}:r:0", "k3f9" + seq)  # the id: epoch + seq
                p.hset(f"q:{q}:m:{b32(i // 128)}", seq, make_body(i))  # field: seq alone

            fill(client, n, w)

        return run

    def e(client: redis.Redis) -> None:
        def w(p: redis.client.Pipeline, i: int) -> None:
            tid = short_uuid(i)
            p.rpush(f"q:{q}:r:0", tid)
            p.hset(f"q:{q}:m:{zlib.crc32(tid.encode()) % 256}", tid, body(i, None))

        fill(client, n, w)

    def raw(client: redis.Redis) -> None:
        fill(client, n, lambda p, i: p.rpush(f"q:{q}:bodies", body(i, uuid_id(i))))

    return {
        "A ids once, short": a,
        "B list + hash": b,
        "C list + buckets": bucketed(lambda i: body(i, None)),
        "D C + compact body": bucketed(compact),
        "E buckets by hash": e,
        "raw list": raw,
    }


def today(url: str, n: int) -> Callable[[redis.Redis], None]:
    from . import bench_app

    app = bench_app.build("redis", redis_url=url)

    def run(client: redis.Redis) -> None:
        app.noop.map([(i, "x") for i in range(n)])

    return run


def huey(url: str, n: int) -> Callable[[redis.Redis], None] | None:
    try:
        from . import bench_app_huey
    except ImportError:
        return None
    app = bench_app_huey.build(url)

    def run(client: redis.Redis) -> None:
        for i in range(n):
            app.noop(i, "x")

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.layout_study", description=__doc__)
    p.add_argument("-n", type=int, default=20_000)
    args = p.parse_args(argv)
    n = args.n
    with RedisServer() as server:
        client = server.client()
        cfg = client.config_get("*max-listpack*")
        print(f"Redis {server.version()}, {n:,} pending noop(i, 'x') tasks; {cfg}")
        todo: dict[str, Callable[[redis.Redis], None] | None] = {
            "today": today(server.url, n),
            **layouts(n),
            "huey 3.5 RedisHuey": huey(server.url, n),
        }
        print()
        print("| layout | used_memory Δ / task | MEMORY USAGE / task | keys | encodings |")
        print("|---|---|---|---|---|")
        for name, run in todo.items():
            if run is None:
                print(f"| {name} | (huey not installed) | | | |")
                continue
            client.flushall()
            before = used(client)
            run(client)
            delta = (used(client) - before) / n
            keys = list(client.scan_iter(count=1000))
            enc = sorted({client.object("encoding", k).decode() for k in keys})
            print(
                f"| {name} | {delta:.0f} | {memory_usage(client) / n:.0f} | {len(keys)} | "
                f"{', '.join(enc)} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
