"""Redis CPU per finish: ``usec_per_call`` of the finish script (INFO commandstats) on a
private redis-server, for batches of 1 and 50 finishes with a result each.

    PYTHONPATH=.:. .venv/bin/python benchmarks/finish_cpu.py          # this tree's engine
    PYTHONPATH=/old/tree:. .venv/bin/python benchmarks/finish_cpu.py  # another tree's

(``git archive <commit> engine | tar -x -C /old/tree`` makes the other tree.)
Run both alternately a few times (the machine is shared): the figures are noisy to a few
microseconds. Used for issue 11 (TIME in finish.lua)."""

from __future__ import annotations

import time

import redis

from benchmarks.redis_server import RedisServer
from engine.storage.base import Message, Outcome
from engine.storage.redis import RedisStorage

N = 4000


def main() -> None:
    with RedisServer() as srv:
        client = redis.Redis.from_url(srv.url)
        store = RedisStorage("bench", client=client)
        for batch in (1, 50):
            now = time.time()
            store.enqueue(
                [Message(f"{batch}-{i:06d}", b'{"task":"x","args":[1]}') for i in range(N)]
            )
            ids: list[str] = []
            while len(ids) < N:
                ids += [c.id for c in store.claim("w1", now, 500, 60)]
            client.config_resetstat()
            for j in range(0, N, batch):
                items = [
                    (i, now, Outcome(results=[("result:" + i, b"1")], result_ttl=60))
                    for i in ids[j : j + batch]
                ]
                store.finish_many("w1", items)
            stat = client.info("commandstats")["cmdstat_evalsha"]
            print(
                f"batch={batch}: {stat['usec_per_call']:.1f} us per call,"
                f" {stat['usec'] / N:.2f} us per finished task"
            )


if __name__ == "__main__":
    main()
