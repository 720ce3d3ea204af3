"""Redis clients from store URLs: plain, Cluster and Sentinel, each with the ACL user,
password and TLS options its URL carries.

- ``redis://``, ``rediss://``, ``unix://``: read as redis-py's ``from_url`` reads them.
- ``redis+cluster://[user:pass@]h1:p1[,h2:p2 ...][/][?options]``: every host is a seed,
  tried in order; the user, password and options hold for every node.
- ``redis+sentinel://[user:pass@]s1:26379[,s2:26379 ...]/service[/db][?options]``:
  the user info and the options without a prefix are for the **data** connections (the
  master the sentinels name), ``rediss+sentinel`` turns TLS on for them. Options
  prefixed ``sentinel_`` are for the connections to the **sentinels** themselves
  (``sentinel_username``, ``sentinel_password``, ``sentinel_ssl=true``,
  ``sentinel_ssl_ca_certs`` ...); nothing crosses over but the socket timeouts.

Every option name is checked against redis-py's connection keywords, so a misspelt one
is a one-line error here, not a TypeError at the first command. ``ssl_cert_reqs=none``
(verification off) is said once per process on this module's logger.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import redis
from redis.connection import parse_url as _redis_parse_url

from ..urls import mask_url
from .redis_options import connection_keywords

log = logging.getLogger("engine.storage.redis")

SENTINEL_PREFIX = "sentinel_"
SENTINEL_PORT = 26379
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_told_unverified = False


def parse_url(url: str) -> dict[str, Any]:
    """redis-py's own reading of a ``redis://``/``rediss://``/``unix://`` URL (typed
    query values, user and password unquoted)."""
    options: dict[str, Any] = _redis_parse_url(url)  # type: ignore[no-untyped-call]
    return options


def make_client(url: str, params: dict[str, Any]) -> Any:
    """A client for ``url``; ``params`` (the store's connection keywords) are defaults
    that the URL's own options override, as redis-py's ``from_url`` does."""
    scheme, _, rest = url.partition("://")
    if scheme.endswith("+cluster"):
        return _cluster_client(scheme.removesuffix("+cluster"), rest, params)
    if scheme.endswith("+sentinel"):
        return _sentinel_client(scheme.removesuffix("+sentinel"), rest, params, url)
    options = parse_url(url)
    _check_names(options, cluster=False, tls=scheme == "rediss")
    warn_if_unverified({**params, **options}, url)
    return redis.Redis.from_url(url, **params)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _check_names(options: Mapping[str, Any], cluster: bool, tls: bool, prefix: str = "") -> None:
    """Refuse option names redis-py's connections do not take, and TLS options on a
    connection without TLS (redis-py would fail at the first command)."""
    known = connection_keywords(cluster) | {"connection_class", "host", "port", "ssl"}
    unknown = sorted(set(options) - known)
    if unknown:
        names = ", ".join(prefix + n for n in unknown)
        raise ValueError(
            f"unknown option(s) {names}: use redis-py connection keywords "
            "(ssl_ca_certs, ssl_certfile, ssl_keyfile, socket_timeout ...)"
        )
    tls_only = sorted(n for n in options if n.startswith("ssl_"))
    if tls_only and not tls:
        names = ", ".join(prefix + n for n in tls_only)
        fix = f"{prefix}ssl=true" if prefix else "rediss:// (or rediss+sentinel://)"
        raise ValueError(f"{names} need TLS: use {fix}")


def warn_if_unverified(options: Mapping[str, Any], url: str) -> None:
    """Say once per process that a TLS connection does not check the server
    (``ssl_cert_reqs=none`` in a URL or in the store's connection keywords)."""
    global _told_unverified
    reqs = options.get("ssl_cert_reqs")
    off = reqs == ssl.CERT_NONE or (isinstance(reqs, str) and reqs.strip().lower() == "none")
    if off and not _told_unverified:
        _told_unverified = True
        log.warning(
            "TLS certificate verification is off (ssl_cert_reqs=none) for %s: anyone on "
            "the path can pose as the server and read the password and every message; "
            "give ssl_ca_certs=/path/ca.pem instead (see docs/security.md)",
            mask_url(url),
        )


def _options(tls: bool, auth: str, query: str) -> dict[str, Any]:
    """redis-py's reading of ``auth`` (``user:password``, percent-encoded) and ``query``,
    without the placeholder host: typed values (``db=1`` an int ...), and ``ssl`` a bool."""
    at = "@" if auth else ""
    options = parse_url(f"{'rediss' if tls else 'redis'}://{auth}{at}placeholder/?{query}")
    for key in ("host", "port", "connection_class"):
        options.pop(key, None)
    options["ssl"] = _flag("ssl", options.get("ssl", tls))
    return options


def _sentinel_client(scheme: str, rest: str, params: dict[str, Any], url: str) -> Any:
    from redis.sentinel import Sentinel

    auth, _, location = rest.rpartition("@")
    location, _, query = location.partition("?")
    hosts, _, path = location.partition("/")
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ValueError("name the master: redis+sentinel://host:26379/mymaster")
    nodes = []
    for node in hosts.split(","):
        host, _, port = node.strip().partition(":")
        if not host:
            raise ValueError(f"a sentinel needs a host: {node!r}")
        nodes.append((host, int(port or SENTINEL_PORT)))
    pairs = parse_qsl(query, keep_blank_values=True)
    ours = [(k.removeprefix(SENTINEL_PREFIX), v) for k, v in pairs if k.startswith(SENTINEL_PREFIX)]
    data = _options(
        scheme == "rediss",
        auth,
        urlencode([(k, v) for k, v in pairs if not k.startswith(SENTINEL_PREFIX)]),
    )
    sentinel = _options(False, "", urlencode(ours))
    _check_names(data, cluster=False, tls=data["ssl"])
    _check_names(sentinel, cluster=False, tls=sentinel["ssl"], prefix=SENTINEL_PREFIX)
    if db:
        data.setdefault("db", int(db))
    data = {**params, **data}
    timeouts = {k: v for k, v in params.items() if k.startswith("socket_")}
    sentinel = {**timeouts, **sentinel}
    warn_if_unverified(data, url)
    warn_if_unverified(sentinel, url)
    manager = Sentinel(nodes, sentinel_kwargs=sentinel)  # type: ignore[no-untyped-call]
    return manager.master_for(service, **data)  # type: ignore[no-untyped-call]


def _cluster_client(scheme: str, rest: str, params: dict[str, Any]) -> Any:
    """Every host of ``h1:p1,h2:p2`` is a seed, tried in order until one answers (a fresh
    client whose first seed is down still starts); the rest of the URL is read as
    redis-py's ``from_url`` reads it, and holds for every node."""
    from redis.cluster import ClusterNode, RedisCluster

    auth, at, location = rest.rpartition("@")
    hosts, sep, tail = location.partition("/")
    if "?" in hosts:
        hosts, _, query = hosts.partition("?")
        tail, sep = f"?{query}", "/"
    seeds = []
    for node in hosts.split(","):
        host, _, port = node.strip().rpartition(":") if ":" in node else (node, "", "")
        if not host:
            raise ValueError(f"a seed node needs a host: {node!r}")
        seeds.append((host, int(port or 6379)))
    first = f"{scheme}://{auth}{at}{seeds[0][0]}:{seeds[0][1]}{sep}{tail}"
    options = parse_url(first)
    _check_names(options, cluster=True, tls=scheme == "rediss")
    warn_if_unverified({**params, **options}, first)
    others = [ClusterNode(h, p) for h, p in seeds[1:]]  # type: ignore[no-untyped-call]
    return RedisCluster.from_url(first, startup_nodes=others, **params)
