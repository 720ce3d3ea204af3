"""Where the drain's Lua time goes: Redis CPU (``INFO commandstats``, ``evalsha`` usec)
per task of the consumer's round (claim) and finish scripts, on a private redis-server,
for batches like a ``-w 4`` thread consumer's (``--batch``, 36).

    PYTHONPATH=. .venv/bin/python -m benchmarks.lua_cost [-n 7200] [--batch 36] [--repeats 5]
    PYTHONPATH=/old/tree:. .venv/bin/python -m benchmarks.lua_cost --only base  # another engine
    PYTHONPATH=. .venv/bin/python -m benchmarks.lua_cost --only base,against --against /old/tree

Each variant enqueues n noop-sized messages (uuid ids, a 39-byte body, as
benchmarks.redis_cpu's W2), claims them with ``claim_round`` and finishes them with
``finish_many`` (a result each unless ``nores``, a finished record unless ``norec``).
The ``lua:`` variants run an edited copy of a script (see VARIANTS) to show what one
part of it costs; they need not be correct (each variant starts from an empty database).
``--against DIR`` adds the variant ``against``: every script as the loader of the
checkout DIR makes it (its Python packs the arguments alike), timed in the same run.
The variants alternate, ``--repeats`` rounds, and the median per task of each is printed
(the machine is shared: compare rows of one run only). ``cpu`` is the server's whole CPU
in the claim and finish loop, the INFO calls included."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import redis

from benchmarks.redis_server import RedisServer
from engine.storage.base import Message, Outcome
from engine.storage.redis import RedisStorage
from engine.storage.redis_layout import SMALL
from engine.storage.redis_scripts import source

# A noop(i, "x") message as the W2 drain's (at most SMALL bytes: in a body bucket).
BODY = b'["noop",[12345,"x"],1796201099.3538876]'
HEAD = b'{"at":1764633600.123456,"runtime":0.000123,"worker":"host:1234:abcdef"}'


Edit = Callable[[], list[tuple[str, str]]]


def _edit(names: str, old: str, new: str) -> Edit:
    """The scripts ``names`` (comma-separated) with ``old`` replaced by ``new``."""

    def make() -> list[tuple[str, str]]:
        out = []
        for name in names.split(","):
            text = source(name)
            if old not in text:
                raise SystemExit(f"variant edit not found in {name}: {old!r}")
            out.append((name, text.replace(old, new)))
        return out

    return make


# name -> (results, finished record, script edit or None)
VARIANTS: dict[str, tuple[bool, bool, Edit | None]] = {
    "base": (True, True, None),
    "norec": (True, False, None),
    "nores": (False, True, None),
    "nores+norec": (False, False, None),
    "lua:no-held_by": (True, True, _edit("finish", "if not held_by(v, consumer)", "if false")),
    "lua:no-body-hdel": (
        True,
        True,
        _edit(
            "finish",
            "if #x > SMALL or redis.call('HDEL', bucket_key(msg, x), x) == 0 then",
            "if false then",
        ),
    ),
    "lua:return-empty": (True, True, _edit("finish", "\nreturn out", "\nreturn {}")),
    "lua:no-waiter-mget": (
        True,
        True,
        _edit(
            "finish",
            "local names, woken, nw = {}, {}, #waits",
            "local names, woken, nw = {}, {}, 0",
        ),
    ),
    "lua:no-mset": (True, True, _edit("finish", "redis.call('MSET', ", "tostring(")),
    "lua:no-record-hset": (True, True, _edit("finish", "if #kept > 0 then", "if false then")),
    "lua:no-running-hdel": (True, True, _edit("finish", "hdel_all(running, plain)", "")),
    "lua:no-finish": (True, True, _edit("finish", "local out = {}\n", "do return {} end\n")),
    "lua:bucket-key-only": (
        True,
        True,
        _edit(
            "finish",
            "redis.call('HDEL', bucket_key(msg, x), x) == 0",
            "#bucket_key(msg, x) == 0",
        ),
    ),
    "lua:hdel-one-key": (
        True,
        True,
        _edit(
            "finish",
            "redis.call('HDEL', bucket_key(msg, x), x) == 0",
            "redis.call('HDEL', msg, x) == 0",
        ),
    ),
    # Every body in m:big (a hashtable), none in the listpack buckets.
    "lua:all-big": (
        True,
        True,
        _edit("enqueue,round,finish", f"local SMALL = {SMALL}\n", "local SMALL = 0\n"),
    ),
    "lua:nothing": (True, True, _edit("finish", "local kept = {}\n", "do return {} end\n")),
    "lua:round-no-body-get": (
        True,
        True,
        _edit("round", "local data = body_get(msg, id)", "local data = 'x'"),
    ),
    "lua:round-no-tail": (
        True,
        True,
        _edit(
            "round",
            "local left = ready_count",
            "out[#out + 1] = paused\nout[#out + 1] = 1\nout[#out + 1] = false\n"
            "out[#out + 1] = false\ndo return out end\nlocal left = ready_count",
        ),
    ),
}


def _against(tree: str) -> Edit:
    """Every script as the loader of the checkout ``tree`` makes it."""
    code = (
        "import json; from engine.storage.redis_scripts import SCRIPTS, source;"
        " print(json.dumps({s.name: source(s.name) for s in SCRIPTS}))"
    )
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    scripts: dict[str, str] = json.loads(out.stdout)
    return lambda: list(scripts.items())


def _cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run(
    client: redis.Redis, store: RedisStorage, n: int, batch: int, variant: str
) -> tuple[float, float, float]:
    """(round µs, finish µs, server CPU µs) of Redis per task; the server CPU is that of
    the whole claim and finish loop (parsing the calls too, and the INFO calls)."""
    results, record, edit = VARIANTS[variant]
    saved = dict(store._scripts)
    if edit is not None:
        for name, text in edit():
            store._scripts[name] = client.register_script(text)
    try:
        client.flushdb()  # each variant from an empty queue (some leave keys behind)
        now = time.time()
        ids = [str(uuid.uuid4()) for _ in range(n)]
        store.enqueue([Message(i, BODY) for i in ids])
        watch = "bench-watch"
        rounds_us = finish_us = 0.0
        done = 0
        cpu = _cpu(client)
        while done < n:
            client.config_resetstat()
            r = store.claim_round("w1", now, batch, 60, watch)
            rounds_us += float(client.info("commandstats")["cmdstat_evalsha"]["usec"])
            items = [
                (
                    c.id,
                    now,
                    Outcome(
                        results=[("r:" + c.id, b"\x88")] if results else (),
                        result_ttl=None,
                        finished=HEAD + b"\n" + BODY if record else None,
                    ),
                )
                for c in r.claimed
            ]
            client.config_resetstat()
            refused = store.finish_many("w1", items)
            finish_us += float(client.info("commandstats")["cmdstat_evalsha"]["usec"])
            assert not any(refused) or edit is not None, refused
            done += len(items)
            if not items:
                raise RuntimeError("nothing claimed")
        return rounds_us / n, finish_us / n, (_cpu(client) - cpu) * 1e6 / n
    finally:
        store._scripts = saved


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=7200)
    p.add_argument("--batch", type=int, default=36)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", default=",".join(VARIANTS))
    p.add_argument("--against", metavar="DIR", help="add the variant 'against': DIR's scripts")
    a = p.parse_args()
    if a.against:
        VARIANTS["against"] = (True, True, _against(a.against))
    names = a.only.split(",")
    seen: dict[str, list[tuple[float, float, float]]] = {v: [] for v in names}
    with RedisServer() as srv:
        client = srv.client()
        store = RedisStorage("bench", client=client)
        run(client, store, a.n, a.batch, "base")  # warm up: finished records, allocator
        for _ in range(a.repeats):
            for v in names:
                seen[v].append(run(client, store, a.n, a.batch, v))
    print(f"us of Redis per task (median of {a.repeats}), batch {a.batch}, n {a.n}")
    print(f"{'variant':<22}{'round':>8}{'finish':>8}{'sum':>8}{'cpu':>8}")
    for v, got in seen.items():
        r = statistics.median(x for x, _, _ in got)
        f = statistics.median(y for _, y, _ in got)
        c = statistics.median(z for _, _, z in got)
        print(f"{v:<22}{r:8.2f}{f:8.2f}{r + f:8.2f}{c:8.2f}")


if __name__ == "__main__":
    main()
