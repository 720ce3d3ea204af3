"""Redis CPU per finish: ``usec_per_call`` of the finish script (INFO commandstats) on a
private redis-server, for batches of 1 and 50 finishes with a result each.

    PYTHONPATH=.:. .venv/bin/python benchmarks/finish_cpu.py          # this tree's engine
    PYTHONPATH=/old/tree:. .venv/bin/python benchmarks/finish_cpu.py  # another tree's

(``git archive <commit> engine | tar -x -C /old/tree`` makes the other tree.)
Run both alternately a few times (the machine is shared): the figures are noisy to a few
microseconds. Used for issue 11 (TIME in finish.lua). ``--finished`` gives every finish a
finished record's head as a worker writes it (issue 13); ``--both`` fills the records to
their cap, then alternates finishes without and with one on one server, 8 rounds each
(the record's own cost, with the machine's load shared by both)."""

from __future__ import annotations

import statistics
import sys
import time

import redis

from benchmarks.redis_server import RedisServer
from engine.storage.base import Message, Outcome
from engine.storage.redis import RedisStorage

N = 4000
# A finished record as a worker writes it for the message below (issue 13).
RECORD = (
    b'{"at":1764633600.123456,"runtime":0.000123,"worker":"host:1234:abcdef"}'
    b'\n{"task":"x","args":[1]}'
)


def main(argv: list[str]) -> None:
    with RedisServer() as srv:
        client = redis.Redis.from_url(srv.url)
        store = RedisStorage("bench", client=client)
        if "--both" not in argv:
            for batch in (1, 50):
                print(run(client, store, f"b{batch}", batch, "--finished" in argv))
            return
        # The records at their cap first (the steady state: a trim every 1/16 of it),
        # then the two kinds of finish in turn; the least of each is the least disturbed.
        for k in range(store.finished_cap // N + 1):
            run(client, store, f"fill{k}", 50, True)
        seen: dict[bool, list[float]] = {False: [], True: []}
        for round_ in range(8):
            for finished in (False, True):
                seen[finished].append(run(client, store, f"{round_}{finished}", 50, finished))
        for finished, per_task in seen.items():
            print(
                f"finished={'yes' if finished else 'no '}: min {min(per_task):.2f},"
                f" median {statistics.median(per_task):.2f} us per finished task (batch 50)"
            )


def run(client: redis.Redis, store: RedisStorage, tag: str, batch: int, finished: bool) -> float:
    """Finish N tasks in batches of ``batch``; Redis's time per finished task (µs)."""
    head = {"finished": RECORD} if finished else {}
    now = time.time()
    store.enqueue([Message(f"{tag}-{i:06d}", b'{"task":"x","args":[1]}') for i in range(N)])
    ids: list[str] = []
    while len(ids) < N:
        ids += [c.id for c in store.claim("w1", now, 500, 60)]
    client.config_resetstat()
    for j in range(0, N, batch):
        items = [
            (i, now, Outcome(results=[("result:" + i, b"1")], result_ttl=60, **head))
            for i in ids[j : j + batch]
        ]
        store.finish_many("w1", items)
    stat = client.info("commandstats")["cmdstat_evalsha"]
    return float(stat["usec"]) / N


if __name__ == "__main__":
    main(sys.argv[1:])
