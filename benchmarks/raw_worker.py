"""Reference echo worker on plain redis-py: the floor for latency and round trips.

``BRPOP raw:q`` gives the producer's ``time.time()``; the worker LPUSHes
``now - t`` to ``raw:out`` at once. ``stop`` ends it.
"""

from __future__ import annotations

import sys
import time

import redis


def main(url: str) -> None:
    r = redis.Redis.from_url(url, socket_timeout=10)
    while True:
        item = r.brpop(["raw:q"], timeout=1)
        if item is None:
            continue
        body = item[1]
        if body == b"stop":
            return
        r.lpush("raw:out", repr(time.time() - float(body)))


if __name__ == "__main__":
    main(sys.argv[1])
