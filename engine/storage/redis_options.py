"""The options :class:`~engine.storage.redis.RedisStorage` takes besides its own:
huey's Redis store options, and redis-py's connection keywords.

huey's ``RedisStorage(blocking, read_timeout, connection_pool, url, client_name,
notify_result, notify_result_ttl, clean_name, **connection_params)`` passes any
other keyword on to redis-py, which takes it when the pool is built and raises
``TypeError`` on first use. Here every keyword is checked when the store is
made: a huey option is accepted (with its meaning, or as a documented no-op,
see ``docs/huey-differences.md``), a redis-py connection keyword goes to
redis-py, anything else is a one-line :class:`ConfigurationError`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..exceptions import ConfigurationError

# huey's Redis store options that our design makes moot, with the reason.
HUEY_NOOPS: Mapping[str, str] = {
    "blocking": "workers always block on a wake list; a new task wakes them at once",
    "read_timeout": "an idle worker's blocking read is bounded by the consumer (≤ 2 s)",
    "notify_result": "a blocking Result.get() is always woken by the task's finish",
    "notify_result_ttl": "result wake-ups are always on and expire with the wait",
    "clean_name": "key names quote any queue name (a hash tag), so none is cleaned",
}


def _parameters(functions: Iterable[Callable[..., Any]]) -> frozenset[str]:
    names: set[str] = set()
    for fn in functions:
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                names.add(p.name)
    return frozenset(names - {"self", "connection_pool", "url"})


@functools.cache
def connection_keywords(cluster: bool) -> frozenset[str]:
    """The keywords redis-py's client and connection classes accept (read from their
    signatures, so they follow the installed redis-py); with ``cluster``, also
    RedisCluster's."""
    import redis
    from redis import connection as c

    functions: list[Callable[..., Any]] = [
        redis.Redis.__init__,
        c.AbstractConnection.__init__,
        c.Connection.__init__,
        c.SSLConnection.__init__,
        c.UnixDomainSocketConnection.__init__,
        c.ConnectionPool.__init__,
    ]
    if cluster:
        from redis.cluster import RedisCluster

        functions.append(RedisCluster.__init__)
    return _parameters(functions)


def check_connection_params(params: Mapping[str, Any], url: str | None) -> None:
    """Refuse, in one line, a keyword redis-py's connection classes do not take."""
    cluster = url is not None and url.partition("://")[0].endswith("+cluster")
    unknown = sorted(set(params) - connection_keywords(cluster))
    if unknown:
        raise ConfigurationError(
            f"unknown Redis queue option(s): {', '.join(unknown)}: use huey's store options "
            f"(url, connection_pool, client, client_name, dead_cap, {', '.join(HUEY_NOOPS)}) "
            "or redis-py "
            "connection keywords (host, port, db, password, socket_timeout ...)"
        )


def check_one_connection(
    url: str | None, pool: Any, client: Any, params: Mapping[str, Any]
) -> None:
    """url=, connection_pool= and client= each say where Redis is: refuse two at once,
    and connection keywords next to a pool or client (they would be ignored)."""
    given = [n for n, v in (("url", url), ("connection_pool", pool), ("client", client)) if v]
    if len(given) > 1 or (params and (pool is not None or client is not None)):
        extra = given + sorted(params) if params else given
        raise ConfigurationError(
            f"Redis connection over-determined ({', '.join(extra)}): give only one of url=, "
            "connection_pool=, client= or connection keywords (url= may take keywords too)"
        )
