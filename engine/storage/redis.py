"""Redis storage: every transition that touches more than one key is one Lua script,
but for the enqueue of fresh ids, one MULTI/EXEC of plain commands (see below).

Layout 2 (all keys of one queue share the hash tag ``{<queue>}``, so every script
runs unchanged on Redis Cluster; names are made only by :meth:`RedisStorage._k` and
:mod:`engine.storage.redis_layout`, which has the table of the keys that hold tasks:
the ready lists ``r:<p>`` and their ``levels``, the body buckets ``m:<b>`` and
``m:big``, ``parkedin``, ``fmt``). The other keys:

=====================  ======  ==================================================
key                    type    content
=====================  ======  ==================================================
``sched``              zset    task id, score = eta (epoch seconds)
``prio``               hash    task id -> priority, only for non-zero priorities
``running``            hash    task id -> ``<consumer>|<claimed at>``
``deliv``              hash    task id -> deliveries since it last finished
``leases``             zset    consumer id, score = lease end
``dead``               zset    task id, score = failed at; capped at ``dead_cap``
``deadinfo``           hash    task id -> ``<reason>\\n<error>``
``wake``               list    tokens that wake idle consumers (BLPOP), capped
``parked:<name>``      list    ids of the calls of a paused task name, in the order
                               parked (their bodies stay in their buckets)
``done_a``, ``done_b``  hash    task id -> its finished record (``storage/base.py``),
                               in two generations: records go to the one ``done_gen``
                               names; once it holds ``finished_cap`` the other is
                               emptied and named, so between cap and 2 x cap are kept
``done_gen``           string  ``a`` or ``b`` (none: ``a``)
``kv:<key>``           string  results, revocations, locks, periodic slots, data
=====================  ======  ==================================================

A body has one copy, in its bucket (or ``m:big``), wherever the task is: ready,
scheduled, running, dead or parked. Why lists of ids plus buckets of bodies instead of
a list of bodies: a task can be found, shown, revoked or deleted by id in O(1) (its
bucket comes from the id), priority works, and a crash between two commands cannot
happen because each move is one script. Why not a zset of ids and one hash of bodies
(layout 1): ~280 bytes of per-entry overhead a task; a list entry and a listpack
bucket entry have next to none.

Queue order (the ``ORDER`` rule of ``storage/base.py``): one list per priority level;
``levels`` names the levels whose list may hold ids, highest priority first. A task put
on the queue is pushed on the back of its level (RPUSH), a claim pops from the front of
the highest levels (LPOP with a count), and tasks handed back (recover, release) are
pushed on the front, the highest id first, so they come out in id order ahead of the
level. A level leaves ``levels`` when a claim empties its list. Taking an id out of the
middle of a list (an admin delete, a flush, re-adding an id that is ready now) is an
LREM, O(n) of its level: those paths are rare, and a fresh id never pays it.

**Fresh enqueues.** A message whose id was made for it and never stored
(``Message.fresh``: nothing can be under that id, so a script's checks find nothing)
is written by plain commands in one MULTI/EXEC (:meth:`RedisStorage._enqueue_fresh`):
exactly what ``enqueue.lua`` writes for a new id, atomic, without the ~11 µs a script
run costs Redis beyond its commands. docs/design.md ("Fresh enqueues") has the rules;
Cluster clients, a client with a connection of its own and a client-side cache keep
the script.

The layout's version is the ``fmt`` key: before its first write or claim, each store
reads it (:mod:`engine.storage.redis_format`) and refuses, in one line, a queue of a
newer release's layout or one still holding layout 1's ``ready``/``msg`` (``hueyctl
migrate`` moves those); a new queue is marked. Read-only tools check without writing.

Faults the store absorbs rather than passes up:

- **A full Redis** (``maxmemory``): the scripts that add work are refused before they
  write and raise :class:`~engine.exceptions.StoreFull`; those that drain the queue
  (claim, finish, heartbeat, recover, release, delete) are flagged ``allow-oom`` (see
  :mod:`engine.storage.redis_scripts`).
- **Clock skew** (``lease_clock="server"``, the default): lease ends, the lease check of
  ``finish`` and the recovery sweep use the Redis server's clock (``TIME`` in the
  scripts), so a worker whose clock runs fast cannot steal live workers' tasks. The
  caller's ``now`` still stamps claims (``claimed_at``), dead letters (``failed_at``)
  and promotes etas: etas and crontabs follow the producer's and worker's own clocks.
  A heartbeat whose clock is more than a second off the server's logs one warning.
  ``lease_clock="caller"`` reckons leases on the caller's ``now`` (the storage contract's
  injected clock).
- **Bad entries**: a ready id that is not UTF-8 is dead-lettered as ``malformed`` under
  a readable stand-in id (its ``\\xNN`` escaped form) with its body, since no task can be
  given or retried by that id; a ready id without a body is dropped with one log line.
  Ids read back for listings are decoded the same way, so nothing read here raises.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError

from ..exceptions import (
    ConfigurationError,
    StoreDenied,
    StoreError,
    StoreFull,
    StoreUnavailable,
)
from ..keys import WORKERS
from ..urls import mask_url
from . import redis_format
from .base import (
    DEAD_CAP,
    DEAD_CAP_BYTES,
    EVENT_CAP,
    PROMOTE_BATCH,
    SCAN_BUDGET,
    STATS_TTL,
    Claimed,
    Counts,
    DeadLetter,
    Durability,
    Located,
    Message,
    Migration,
    Outcome,
    Recovered,
    Round,
    Running,
    StatRow,
    Storage,
    refusal_running,
)
from .redis_connect import make_client, warn_if_unverified
from .redis_lane import REPLY_SPIN, Lane, Spin, exchange, pack_all
from .redis_layout import BUCKET_TAIL, BUCKETS, SMALL, body_key, bucket
from .redis_options import check_connection_params, check_one_connection
from .redis_scripts import (
    _NOTIFY,
    _WAITER,
    CLAIM,
    DELETE_IF_EQUAL,
    ENQUEUE,
    ENQUEUE_NEW,
    ENQUEUE_UNIQUE,
    FINISH,
    FINISH_PLAIN,
    FINISH_TASK,
    FLUSH,
    HEARTBEAT,
    INCR,
    MAP_DELETE_IF_EQUAL,
    MAP_PUT,
    PARK,
    PROMOTE,
    RECORD,
    RECOVER,
    RELEASE,
    REMOVE,
    RETRY_DEAD,
    ROUND,
    SCHEDULE,
    SCRIPTS,
    SET_ASIDE,
    UNPARK,
    WAIT_RESULT,
    WAKE_CAP,
    Script,
    source,
)

if TYPE_CHECKING:
    from .redis_await import ResultAwaiter

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("engine.storage.redis")
SKEW_WARNING = 1.0  # seconds a heartbeat's clock may be off the server's before we say so

# The store-wide set of queue names (announce): outside every queue's hash tag, one key.
QUEUES_KEY = "hueyctl:queues"
_TAG = re.compile(rb"^hueyctl:\{(.*?)\}:")
_STATE_KEY = {"ready": "levels", "scheduled": "sched", "dead": "dead"}


class ReplicaLag(Exception):
    """Durable mode: no replica confirmed a write within ``durable_timeout``."""

    def __init__(self, reply: Any) -> None:
        super().__init__("no replica confirmed the write")
        self.reply = reply


def _translated(method: F) -> F:
    """Turn driver errors into one engine error that names the store."""

    @functools.wraps(method)
    def wrapper(self: RedisStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except ReplicaLag as exc:
            raise StoreUnavailable(
                f"Redis at {self.describe()}: no replica confirmed the write within"
                f" {self._wait_ms} ms (durable mode); it is on the master but may not survive"
                " a failover"
            ) from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if _closed_while_writing(exc) and self._answers():
                # The server is up but dropped us mid-command: it refused what we sent
                # (a value over its proto-max-bulk-len is answered with an error and a
                # close, which a client still writing sees as a reset). Retrying the same
                # command would be refused again; a refusal sets the one outcome aside.
                raise StoreError(
                    f"Redis at {self.describe()} refused a command: it closed the connection"
                    f" while the command was being written (over its proto-max-bulk-len?): {exc}"
                ) from exc
            why = _unreachable(exc)
            raise StoreUnavailable(f"cannot reach Redis at {self.describe()}: {why}") from exc
        except redis.AuthenticationError as exc:
            raise StoreUnavailable(f"Redis at {self.describe()} refused the password") from exc
        except (redis.ResponseError, redis.exceptions.ClusterError) as exc:
            text = str(exc)
            transient = _TRANSIENT.search(text)
            if transient or isinstance(exc, _TRANSIENT_TYPES):
                # redis-py strips the code from the messages of the types it maps
                what = transient.group(1) if transient else _code(exc)
                raise StoreUnavailable(
                    f"Redis at {self.describe()} cannot serve now ({what}): {text}"
                ) from exc
            if isinstance(exc, redis.exceptions.NoPermissionError) or "NOPERM" in text:
                command = _DENIED.search(text)
                name = command.group(1) if command else "?"
                raise StoreDenied(
                    f"Redis at {self.describe()} refused the {name!r} command to this user"
                    f" (ACL NOPERM): grant it, e.g. ACL SETUSER <user> +{name}",
                    name,
                ) from exc
            if isinstance(exc, redis.exceptions.OutOfMemoryError) or text.startswith("OOM"):
                raise StoreFull(
                    f"Redis at {self.describe()} is full (maxmemory reached) and refused to"
                    " add work; nothing was written. Queued work still drains: free memory"
                    " or raise maxmemory, then try again"
                ) from exc
            if "DB index" in str(exc):  # the URL's /db: a configuration mistake
                raise ConfigurationError(f"invalid Redis URL {self.describe()}: {exc}") from exc
            raise StoreError(f"Redis at {self.describe()} refused a command: {exc}") from exc

    return cast(F, wrapper)


# Refusals that pass (a failover, a load, a busy script, a resharding): retried as
# StoreUnavailable. Matched in the text too, since inside a script they come as ERR.
_TRANSIENT = re.compile(r"\b(LOADING|READONLY|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN)\b")
_TRANSIENT_TYPES = (
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterError,  # CLUSTERDOWN, MASTERDOWN, no node answered
)
_DENIED = re.compile(r"run the '([^']+)' command")


# redis-py names each sentinel it asked by the repr of a whole client.
_SENTINEL_REPR = re.compile(r"<redis\.client\.Redis\(.*?host=([^,]+),port=(\d+).*?\)>\)>\)>")


def _closed_while_writing(exc: Exception) -> bool:
    """The connection was reset or broken while a command was being sent."""
    text = str(exc)
    return "while writing to socket" in text and ("reset" in text or "Broken pipe" in text)


def _unreachable(exc: Exception) -> str:
    """The driver's reason, short: a sentinel is named by host:port, and a refused
    login to a sentinel says which URL parameters log in there."""
    text = _SENTINEL_REPR.sub(r"sentinel \1:\2", str(exc))
    if isinstance(exc, MasterNotFoundError) and "Authentication" in text:
        text += (
            " (the sentinels refused the login: give sentinel_password= and, for an"
            " ACL user, sentinel_username= in the URL)"
        )
    return text


def _why(exc: BaseException) -> str:
    """The driver's reason, with the refusal behind it when redis-py hides one (a
    Cluster client denied CLUSTER SLOTS says "Cluster mode is not enabled")."""
    text = _unreachable(exc) if isinstance(exc, Exception) else str(exc)
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        if isinstance(cause, redis.exceptions.NoPermissionError):
            return f"{text} ({cause}: see hueyctl acl)"
        cause = cause.__cause__ or cause.__context__
    return text


def _code(exc: Exception) -> str:
    for kind, code in (
        (redis.exceptions.ReadOnlyError, "READONLY"),
        (redis.exceptions.TryAgainError, "TRYAGAIN"),
        (redis.exceptions.MasterDownError, "MASTERDOWN"),
        (redis.exceptions.ClusterDownError, "CLUSTERDOWN"),
    ):
        if isinstance(exc, kind):
            return code
    return type(exc).__name__


_MULTI = pack_all([("MULTI",)])


def _bulk(value: bytes) -> bytes:
    """One argument in the wire form."""
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _packed_head(args: int, *first: str) -> bytes:
    """The wire form of a command of ``args`` arguments up to the ``first`` ones."""
    return b"*%d\r\n" % args + b"".join(_bulk(a.encode()) for a in first)


#: Priorities whose decimal text is the level's name as Lua writes it (``%.14g``: an
#: integer of at most 14 digits); a fresh message of another priority takes the script.
LEVEL_LIMIT = 10**14


def _all_fresh(messages: Sequence[Message]) -> bool:
    """Every message is fresh (its id made for it, never stored), with an integer
    priority the fresh path names as the scripts do, and no id comes twice."""
    if not messages:
        return False
    for m in messages:
        p = m.priority
        if not m.fresh or type(p) is not int or not -LEVEL_LIMIT < p < LEVEL_LIMIT:
            return False
    return len(messages) == 1 or len({m.id for m in messages}) == len(messages)


def _raise_first_error(replies: list[Any]) -> None:
    """Raise the first error among a transaction's replies (an EXEC's own replies
    included): the cause (OOM, NOPERM, WRONGTYPE) rather than the EXECABORT it led to."""
    errors: list[Exception] = []
    for r in replies:
        if isinstance(r, Exception):
            errors.append(r)
        elif type(r) is list:
            errors += [e for e in r if isinstance(e, Exception)]
    if errors:
        abort = redis.exceptions.ExecAbortError
        raise next((e for e in errors if not isinstance(e, abort)), errors[0])


def _refuse_running(task_id: bytes | None) -> None:
    if task_id:
        raise ConfigurationError(refusal_running(_text(task_id)))


def _text(raw: bytes) -> str:
    """An id or name read back from Redis: never raises, bytes that are not UTF-8 come
    out ``\\xNN`` escaped (a readable stand-in: no task can be found by that id)."""
    return raw.decode("utf-8", "backslashreplace")


def _priority(raw: bytes | str | None) -> int:
    """A priority as stored (a prio entry, a level's name): the Lua scripts write Lua's
    number text, which is the integer's digits up to 14 of them, else ``1e+15`` form."""
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        return int(float(raw))


def _ms(seconds: float | None) -> str:
    return "0" if not seconds else str(max(1, int(seconds * 1000)))


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisStorage(Storage):
    def __init__(
        self,
        name: str = "hueyctl",
        *,
        url: str | None = None,
        connection_pool: redis.ConnectionPool | None = None,
        client: redis.Redis | None = None,
        dead_cap: int = DEAD_CAP,
        dead_cap_bytes: int = DEAD_CAP_BYTES,
        lease_clock: str = "server",
        client_name: str | None = None,
        blocking: bool = True,
        read_timeout: float = 1,
        notify_result: bool = False,
        notify_result_ttl: float = 60,
        clean_name: bool = True,
        durable: bool = False,
        durable_timeout: float = 1.0,
        reply_spin: float = REPLY_SPIN,
        **connection_params: Any,
    ) -> None:
        """A store on Redis. Where it is: url=, connection_pool=, client=, or redis-py
        connection keywords (host, port, db, password ...; checked against redis-py's
        connection classes, so a misspelt one fails here in one line). client_name
        names every connection (CLIENT SETNAME). dead_cap and dead_cap_bytes bound the
        dead-letter set by count and by bytes of bodies. lease_clock: "server" (leases
        on the Redis server's clock) or "caller" (on the now passed in). huey's
        blocking, read_timeout, notify_result, notify_result_ttl and clean_name are
        accepted and have no effect: see redis_options.HUEY_NOOPS for why.

        durable=True: every enqueue, schedule and finish is followed, on the same
        connection, by ``WAIT 1 <durable_timeout>``, so an acknowledged write is in a
        replica's memory (Redis 7.0 has no WAITAOF). An enqueue no replica confirmed in
        time raises StoreUnavailable (it is on the master and may or may not survive a
        failover); an unconfirmed finish logs a warning. On Cluster the WAIT goes to the
        master of the queue's slot, on the write's connection.

        reply_spin: seconds a single enqueue polls for its reply before it sleeps on
        it (default 100 µs; 0: never), see redis_lane.Spin."""
        super().__init__(name, dead_cap=dead_cap, dead_cap_bytes=dead_cap_bytes)
        if (
            isinstance(reply_spin, bool)
            or not isinstance(reply_spin, (int, float))
            or not 0 <= reply_spin <= 0.01
        ):
            raise ConfigurationError(
                f"reply_spin must be seconds from 0 to 0.01, not {reply_spin!r}"
            )
        self._spin = Spin(float(reply_spin)) if reply_spin else None
        if lease_clock not in ("server", "caller"):
            raise ConfigurationError(
                f"lease_clock must be 'server' or 'caller', not {lease_clock!r}"
            )
        #: 'server': leases on the Redis server's clock; 'caller': on the ``now`` passed.
        self.lease_clock = lease_clock
        #: The server's clock minus the caller's, as the last heartbeat saw it.
        self.clock_offset: float | None = None
        self._skew_told = False
        for p in ("host", "port", "db"):  # as huey: an unset value means the default
            if connection_params.get(p, 0) is None:
                del connection_params[p]
        check_connection_params(connection_params, url)
        check_one_connection(url, connection_pool, client, connection_params)
        if client_name is not None:
            if connection_pool is not None:
                connection_pool.connection_kwargs["client_name"] = client_name
            else:
                connection_params["client_name"] = client_name
        self.url = url
        #: WAIT's timeout in ms after each acknowledged write (durable mode), else None.
        self._wait_ms: int | None = None
        # Any: redis-py's annotations cannot say that replies are bytes here.
        self.client: Any = client or self._make_client(url, connection_pool, connection_params)
        self._cluster = not hasattr(self.client, "connection_pool")
        # The scripts' own connections (redis_lane): for a plain pool of one server
        # (Cluster clients route per slot, Sentinel pools find the master per connection;
        # they, a client with a connection of its own or a client-side cache keep
        # redis-py's path).
        self._lane: Lane | None = None
        pool: Any = getattr(self.client, "connection_pool", None)
        if type(pool) in (redis.ConnectionPool, redis.BlockingConnectionPool):
            if self.client.connection is None and pool.cache is None:
                self._lane = Lane(pool)
        # A fresh enqueue's MULTI/EXEC (see _enqueue_fresh) goes on the lane, or on a
        # connection of the pool (a Sentinel pool: it finds the master); a Cluster
        # client, a client with a connection of its own or a client-side cache keep
        # the script.
        self._multi_pool: Any = None
        if self._lane is None and pool is not None and pool.cache is None:
            if self.client.connection is None:
                self._multi_pool = pool
        self._fresh_ok = self._lane is not None or self._multi_pool is not None
        self.set_durable(durable, durable_timeout)
        self._checked = False  # the queue's layout, checked at the first write or claim
        self._prefix = f"hueyctl:{{{name}}}:"
        k = self._k
        self._keys = {
            # Layout 2's ready lists and body buckets: the scripts' ``ready`` and ``msg``
            # are the prefixes of those keys (engine/storage/redis_layout.py).
            "ready": k("r:"),
            "msg": k("m:"),
        }
        self._keys |= {
            n: k(n)
            for n in (
                "levels",
                "parkedin",
                "fmt",
                "sched",
                "prio",
                "running",
                "deliv",
                "leases",
                "dead",
                "done_a",
                "done_b",
                "done_gen",
                "deadinfo",
                "wake",
            )
        }
        # The keys a fresh enqueue writes (_enqueue_fresh), made once: the ready list of
        # level 0, the body buckets (redis_layout.bucket) and m:big.
        self._ready0 = self._keys["ready"] + "0"
        self._buckets = [self._keys["msg"] + str(b) for b in range(BUCKETS)]
        self._big = self._keys["msg"] + "big"
        # The KEYS lists that name only the queue's own keys, built once.
        self._enqueue_new_keys = self._keys_for(ENQUEUE_NEW)
        self._finish_keys = self._keys_for(FINISH)
        self._scripts = {s.name: self.client.register_script(source(s.name)) for s in SCRIPTS}
        # await_result's awaiter per event loop (None where it polls instead).
        self._awaiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ResultAwaiter | None]
        self._awaiters = weakref.WeakKeyDictionary()

    @staticmethod
    def _make_client(
        url: str | None, pool: redis.ConnectionPool | None, params: dict[str, Any]
    ) -> Any:
        """A client for ``redis://``, ``rediss://``, ``unix://``, and for Redis Cluster
        (``redis+cluster://host:port[,host2:port2 ...]``, seeds tried in order) or Sentinel
        (``redis+sentinel://host:26379[,host2:26379]/service[/db]``): see
        :mod:`engine.storage.redis_connect` for the user, password and TLS options each
        URL carries."""
        # Blocking reads wait at most 2 s, so 10 s never cuts one short; retries are
        # off because a re-sent claim would take tasks nobody hears about: the
        # callers decide what is safe to repeat.
        params.setdefault("socket_timeout", 10)
        params.setdefault("socket_connect_timeout", 5)
        params.setdefault("retry", Retry(NoBackoff(), 0))
        if pool is not None:
            return redis.Redis(connection_pool=pool)
        if not url:
            where = f"redis://{params.get('host', 'localhost')}:{params.get('port', 6379)}"
            warn_if_unverified(params, where)
            return redis.Redis(**params)
        try:
            return make_client(url, params)
        except (ValueError, IndexError) as exc:
            raise ConfigurationError(f"invalid Redis URL {mask_url(url)!r}: {exc}") from exc
        # A Cluster client asks for the slot map at once: it fails here, not later.
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
            raise StoreUnavailable(f"cannot reach Redis at {mask_url(url)}: {_why(exc)}") from exc

    def _k(self, name: str) -> str:
        return self._prefix + name

    def _run(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if not self._checked:
            self.check_format()
        if self._lane is not None:
            try:
                sha = self._scripts[script.name].sha
                return self._lane.call("EVALSHA", sha, len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                pass  # not loaded on this server (yet): the Script object loads it
        return self._scripts[script.name](keys=list(keys), args=list(args))

    def set_durable(self, durable: bool, timeout: float = 1.0) -> None:
        """Durable mode on or off (see the class docstring); ``hueyctl worker --durable``."""
        if not isinstance(durable, bool):
            raise ConfigurationError(f"durable must be True or False, not {durable!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ConfigurationError(f"durable_timeout must be seconds, not {timeout!r}")
        if timeout <= 0:
            raise ConfigurationError(f"durable_timeout must be positive, not {timeout!r}")
        self._wait_ms = max(1, int(timeout * 1000)) if durable else None
        # A single fresh enqueue's packed parts, by level and by bucket (_enqueue_one_fresh;
        # the levels' end in WAIT or not).
        self._fresh_levels: dict[int, tuple[bytes, bytes, bytes, int]] = {}
        self._fresh_heads: dict[int, bytes] = {}

    def _write(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """``_run`` for a write the caller acknowledges: in durable mode followed, on the
        same connection (a pipeline), by ``WAIT 1 <timeout>``. Returns the script's
        reply; raises ReplicaLag when no replica confirmed in time."""
        if not self._checked:
            self.check_format()
        if self._wait_ms is None:
            return self._run(script, keys, args)
        client = self.client
        if self._cluster:  # WAIT goes to the node that took the write: the queue's master
            client = client.get_redis_connection(client.get_node_from_key(self._keys["ready"]))
        # EVALSHA itself, not the Script object: a pipeline of Script calls first sends
        # SCRIPT EXISTS (a round trip per write, and a command no ACL role is granted).
        sha = self._scripts[script.name].sha
        try:
            reply, acked = self._evalsha_and_wait(client, sha, keys, args)
            if isinstance(reply, redis.exceptions.NoScriptError):  # not loaded: nothing ran
                client.script_load(self._scripts[script.name].script)
                reply, acked = self._evalsha_and_wait(client, sha, keys, args)
            for out in (reply, acked):
                if isinstance(out, Exception):
                    raise out
        except redis.RedisError:
            if self._cluster:  # a failover moved the slot: learn the new master now
                try:
                    self.client.nodes_manager.initialize()
                except redis.RedisError:
                    pass
            raise
        if int(acked) < 1:
            raise ReplicaLag(reply)
        return reply

    def _evalsha_and_wait(
        self, client: Any, sha: str, keys: Sequence[str], args: Sequence[Any]
    ) -> list[Any]:
        """EVALSHA then ``WAIT 1``, in one round trip; errors are returned, not raised."""
        pipe = client.pipeline(transaction=False)
        pipe.evalsha(sha, len(keys), *keys, *args)
        pipe.execute_command("WAIT", 1, self._wait_ms)
        return list(pipe.execute(raise_on_error=False))

    def _keys_for(self, script: Script, **named: str) -> list[str]:
        """The script's KEYS in the order of its table entry (redis_scripts.SCRIPTS):
        the queue's own keys by name, the others from ``named``; a variable-length tail
        is the caller's to append."""
        keys = [named.pop(n) if n in named else self._keys[n] for n in script.fixed_keys]
        if named:
            raise TypeError(f"script {script.name} has no key {', '.join(named)}")
        return keys

    @_translated
    def check_format(self, write: bool = True) -> None:
        """See Storage.check_format and engine.storage.redis_format (one round trip);
        the scripts run it once, before the first."""
        redis_format.check(self.client, self._prefix, self.name, write)
        self._checked = self._checked or write

    @_translated
    def migrate(self, dry_run: bool = False) -> Migration:
        """``hueyctl migrate``: see engine.storage.redis_format (its script runs without
        the format check, which refuses what it converts)."""
        return redis_format.migrate(self.client, self._prefix, self.name, self._scripts, dry_run)

    def durability(self) -> Durability | None:
        """AOF from ``INFO persistence``, the eviction policy from ``INFO memory``, the RDB
        schedule from ``CONFIG GET save`` where the ACL allows (else unknown)."""
        unknown = []
        aof = rdb = eviction = None
        try:
            info = self._info("persistence")
            aof = bool(int(info["aof_enabled"]))
            eviction = str(self._info("memory")["maxmemory_policy"])
        except (redis.RedisError, KeyError, TypeError, ValueError) as exc:
            unknown.append(f"INFO refused or unreadable: {exc}")
        try:
            save = self.client.config_get("save")
            rdb = bool(str(next(iter(save.values()))).strip()) if save else None
        except (redis.RedisError, StopIteration) as exc:
            unknown.append(f"CONFIG GET save refused: {exc}")
        return Durability(aof, rdb, eviction, "; ".join(unknown))

    def _info(self, section: str) -> dict[str, Any]:
        info: dict[str, Any] = self.client.info(section)
        if "aof_enabled" not in info and "maxmemory_policy" not in info and info:
            first = next(iter(info.values()))  # a cluster client: one node's answer each
            if isinstance(first, dict):
                return first
        return info

    def describe(self) -> str:
        if self.url:
            return mask_url(self.url)
        pool = getattr(self.client, "connection_pool", None)
        if pool is None:  # a cluster client: name one node
            node = self.client.get_default_node()
            return f"redis+cluster://{node.host}:{node.port}"
        kw = pool.connection_kwargs
        if "path" in kw:
            return f"unix://{kw['path']}?db={kw.get('db', 0)}"
        return f"redis://{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"

    # --- queue ----------------------------------------------------------------
    @_translated
    def enqueue(self, messages: Sequence[Message]) -> None:
        if self._fresh_ok and _all_fresh(messages):
            if len(messages) == 1:
                self._enqueue_one_fresh(messages[0])
            else:
                self._enqueue_fresh(messages)
            return
        if len(messages) == 1:
            m = messages[0]
            if not self._write(ENQUEUE_NEW, self._enqueue_new_keys, (m.id, m.priority, m.data)):
                return
        keys = self._keys_for(ENQUEUE)
        for start in range(0, len(messages), 1000):
            args: list[Any] = []
            for m in messages[start : start + 1000]:
                args += (m.id, m.priority, m.data)
            _refuse_running(self._write(ENQUEUE, keys, args))

    def _enqueue_fresh(self, messages: Sequence[Message]) -> None:
        """Enqueue messages whose ids were made for them and never stored (``fresh``,
        distinct): plain commands in MULTI/EXEC, 1,000 messages a transaction, all in
        one round trip (durable mode: then ``WAIT 1``). They write what enqueue.lua
        writes for new ids (docs/design.md, "Fresh enqueues"), without its checks,
        which cannot find anything under a fresh id; a transaction is refused whole
        (OOM, NOPERM) before it writes."""
        if not self._checked:
            self.check_format()
        wake = self._keys["wake"]
        cmds: list[tuple[Any, ...]] = []
        for start in range(0, len(messages), 1000):
            cmds.append(("MULTI",))
            self._fresh_commands(messages[start : start + 1000], cmds)
            cmds.append(("LPUSH", wake, 1))
            cmds.append(("LTRIM", wake, 0, WAKE_CAP - 1))
            cmds.append(("EXEC",))
        if self._wait_ms is not None:
            cmds.append(("WAIT", 1, self._wait_ms))
        self._check_fresh_replies(self._transact(pack_all(cmds), len(cmds)), single=False)

    def _enqueue_one_fresh(self, m: Message) -> None:
        """:meth:`_enqueue_fresh` of one message (the producer's hot path): the wire
        form is written out here, the parts that do not depend on the id made once."""
        if not self._checked:
            self.check_format()
        raw, data, p = m.id.encode(), m.data, m.priority
        level = self._fresh_levels.get(p) or self._fresh_level(p)
        if len(raw) > SMALL or len(data) > SMALL:
            b = BUCKETS  # m:big
        else:
            b = bucket(raw)
        hset = self._fresh_heads.get(b) or self._fresh_head(b)
        tid, body = _bulk(raw), _bulk(data)
        prio, push, tail, replies = level
        wire = b"".join(
            (hset, tid, body, prio, tid, push, tid, tail)
            if p
            else (hset, tid, body, push, tid, tail)
        )
        self._check_fresh_replies(self._transact(wire, replies, self._spin))

    def _fresh_head(self, b: int) -> bytes:
        """MULTI and the head of ``HSET <bucket b> id body`` (b = BUCKETS: m:big)."""
        key = self._big if b == BUCKETS else self._buckets[b]
        head = _MULTI + _packed_head(4, "HSET", key)
        self._fresh_heads[b] = head
        return head

    def _fresh_level(self, p: int) -> tuple[bytes, bytes, bytes, int]:
        """A single fresh enqueue's parts at level p: the head of ``HSET prio id``
        with the level after the id's place (empty for level 0), the head of the
        level's RPUSH, the packed rest (ZADD levels, the wake token, EXEC, and WAIT in
        durable mode), and how many replies the whole gets."""
        k, wake = self._keys, self._keys["wake"]
        rest: list[tuple[Any, ...]] = [("ZADD", k["levels"], -p, p)]
        rest += [("LPUSH", wake, 1), ("LTRIM", wake, 0, WAKE_CAP - 1), ("EXEC",)]
        if self._wait_ms is not None:
            rest.append(("WAIT", 1, self._wait_ms))
        push = _packed_head(3, "RPUSH", k["ready"] + str(p))
        if p:
            prio, replies = _packed_head(4, "HSET", k["prio"]), 4 + len(rest)
        else:
            prio, replies = b"", 3 + len(rest)
        # The id goes between prio's head and its level: so the level's text is
        # packed with the RPUSH head, after the id.
        level = (prio, _bulk(str(p).encode()) + push if p else push, pack_all(rest), replies)
        if len(self._fresh_levels) < 64:  # the levels in use: a few
            self._fresh_levels[p] = level
        return level

    def _check_fresh_replies(self, replies: list[Any], single: bool = True) -> None:
        """A fresh enqueue's replies: the first error raised, and in durable mode a
        WAIT no replica answered in time raises ReplicaLag. ``single``: one
        transaction, whose EXEC (a list: every command was queued, else it is an
        EXECABORT error) is all there is to look at."""
        wait = self._wait_ms is not None
        done = replies[-2] if wait else replies[-1]  # the (last) EXEC's
        if single and type(done) is list:
            for r in done:
                if isinstance(r, Exception):
                    raise r
        else:
            _raise_first_error(replies)
        if type(done) is not list:
            raise redis.ResponseError(f"EXEC answered {done!r}")
        if wait:
            if isinstance(replies[-1], Exception):
                raise replies[-1]
            if int(replies[-1]) < 1:
                raise ReplicaLag(None)

    def _fresh_commands(self, chunk: Sequence[Message], cmds: list[tuple[Any, ...]]) -> None:
        """The writes of enqueue.lua for new ids, appended to ``cmds``: each body in
        its bucket (one HSET a bucket), the non-zero priorities in ``prio``, the ids on
        the back of their levels in order (one RPUSH a level), the levels on
        ``levels`` (ZADD, a no-op for a level already there: so a non-empty list's
        level is always on it)."""
        k = self._keys
        big, buckets, ready = self._big, self._buckets, k["ready"]
        bodies: dict[str, list[Any]] = {}
        by_level: dict[int, list[bytes]] = {}
        prio: list[Any] = []
        for m in chunk:
            raw, data, p = m.id.encode(), m.data, m.priority
            key = big if len(raw) > SMALL or len(data) > SMALL else buckets[bucket(raw)]
            fields = bodies.get(key)
            if fields is None:
                bodies[key] = [raw, data]
            else:
                fields += (raw, data)
            ids = by_level.get(p)
            if ids is None:
                by_level[p] = [raw]
            else:
                ids.append(raw)
            if p:
                prio += (raw, p)
        for key, fields in bodies.items():
            cmds.append(("HSET", key, *fields))
        if prio:
            cmds.append(("HSET", k["prio"], *prio))
        scores: list[Any] = []
        for p, ids in by_level.items():
            cmds.append(("RPUSH", ready + str(p), *ids))
            scores += (-p, p)
        cmds.append(("ZADD", k["levels"], *scores))

    def _pipelined(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Commands in one round trip, their replies in order (errors as exceptions, not
        raised): packed once on a connection of our own (:meth:`_transact`) where there
        is one, else through a redis-py pipeline (Cluster, a client-side cache, a client
        with a connection of its own)."""
        if self._fresh_ok:
            return self._transact(pack_all(commands), len(commands))
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return cast(list[Any], pipe.execute(raise_on_error=False))

    def _transact(self, data: bytes, replies: int, spin: Spin | None = None) -> list[Any]:
        """Send packed commands in one write on one connection; their replies (errors
        as exceptions, not raised). With ``spin``, the reply is polled for a while
        before the read blocks (a single enqueue's)."""
        if self._lane is not None:
            return self._lane.call_packed(data, replies, spin)
        pool = self._multi_pool
        conn = pool.get_connection()
        try:
            return exchange(conn, data, replies, spin)  # a failed connection is dropped there
        finally:
            pool.release(conn)

    @_translated
    def enqueue_unique(self, key: str, ttl: float, message: Message) -> bool:
        keys = self._keys_for(ENQUEUE_UNIQUE, unique=self._kv(key))
        m = message
        return bool(self._write(ENQUEUE_UNIQUE, keys, [_ms(ttl), m.id, m.priority, m.data]))

    @_translated
    def schedule(self, items: Sequence[tuple[Message, float]]) -> None:
        keys = self._keys_for(SCHEDULE)
        for start in range(0, len(items), 1000):
            args: list[Any] = []
            for m, eta in items[start : start + 1000]:
                args += (m.id, m.priority, repr(float(eta)), m.data)
            _refuse_running(self._write(SCHEDULE, keys, args))

    @_translated
    def promote(self, now: float, limit: int = PROMOTE_BATCH) -> list[str]:
        ids = self._run(PROMOTE, self._keys_for(PROMOTE), [repr(now), limit])
        return [_text(i) for i in ids]

    @_translated
    def next_eta(self) -> float | None:
        first = self.client.zrange(self._keys["sched"], 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    @_translated
    def claim(self, consumer: str, now: float, limit: int, lease: float) -> list[Claimed]:
        out = self._run(CLAIM, self._keys_for(CLAIM), self._round_args(consumer, now, limit, lease))
        return self._claimed(consumer, now, out)

    @_translated
    def claim_round(
        self,
        consumer: str,
        now: float,
        limit: int,
        lease: float,
        watch: str,
        pauses: str | None = None,
    ) -> Round:
        keys = self._round_keys(watch, pauses)
        out = self._run(ROUND, keys, self._round_args(consumer, now, limit, lease))
        return self._round(consumer, now, out)

    def _round_keys(self, watch: str, pauses: str | None) -> list[str]:
        # Without a pause map the script reads the map with the empty name: always empty.
        return self._keys_for(ROUND, watched=self._kv(watch), pauses=self._map(pauses or ""))

    def _round_args(self, consumer: str, now: float, limit: int, lease: float) -> list[Any]:
        return [consumer, repr(now), limit, repr(lease), self.lease_clock]

    def _round(self, consumer: str, now: float, out: list[Any]) -> Round:
        eta, paused = out[-1], out[-4]
        pauses = {_text(paused[i]): paused[i + 1] for i in range(0, len(paused), 2)}
        claimed = self._claimed(consumer, now, out[:-4])
        return Round(claimed, out[-2] or None, float(eta) if eta else None, out[-3] > 0, pauses)

    def _claimed(self, consumer: str, now: float, out: list[Any]) -> list[Claimed]:
        """The claim script's (id data deliveries)* as Claimed: a bad entry is set aside
        here (:meth:`_set_aside`), never raised to the worker."""
        try:
            items = [
                Claimed(out[i].decode(), out[i + 1], int(out[i + 2])) for i in range(0, len(out), 3)
            ]
        except UnicodeDecodeError:
            return self._set_aside(consumer, now, out)
        if any(c.data is None for c in items):
            return self._set_aside(consumer, now, out)
        return items

    def _set_aside(self, consumer: str, now: float, out: list[Any]) -> list[Claimed]:
        """Sort a claim's reply into tasks to run and entries nobody can run: an id that
        is not UTF-8 becomes a dead letter (``malformed``) under its escaped form, with
        its body; an id with no body (the claim took it off ready) is logged."""
        good: list[Claimed] = []
        args: list[Any] = [consumer, repr(now), self.dead_cap, self.dead_cap_bytes]
        for i in range(0, len(out), 3):
            raw, data = out[i], out[i + 1]
            if data is None:
                log.warning("ready task %s had no body, so nothing to run: dropped", _text(raw))
                continue
            try:
                good.append(Claimed(raw.decode(), data, int(out[i + 2])))
            except UnicodeDecodeError:
                error = f"task id is not UTF-8: {raw[:200]!r}"
                args += (raw, _text(raw), "malformed", error)
        if len(args) > 4:
            try:
                self._run(SET_ASIDE, self._keys_for(SET_ASIDE), args)
            except redis.RedisError as exc:  # they stay running for us until our lease ends
                log.error("could not set aside %d bad entr(ies): %s", (len(args) - 4) // 4, exc)
            else:
                log.warning(
                    "set aside %d ready entr(ies) whose id is not UTF-8 as dead letters"
                    " (malformed): %s",
                    (len(args) - 4) // 4,
                    ", ".join(args[5::4][:5]),
                )
        return good

    @_translated
    def wait_and_claim_round(
        self,
        block: float,
        consumer: str,
        now: float,
        limit: int,
        lease: float,
        watch: str,
        pauses: str | None = None,
    ) -> Round:
        # BLPOP and the round go in one pipeline: Redis runs the round the moment a
        # wake token ends the BLPOP, so new work costs no second round trip. The
        # round's clock is the one read before blocking, at most a second old (the
        # block is capped): due tasks it does not see yet come in the next round, and
        # the lease it renews runs that much shorter (the heartbeat renews it anyway).
        if block <= 0.25 or self._cluster:
            return super().wait_and_claim_round(block, consumer, now, limit, lease, watch, pauses)
        keys = self._round_keys(watch, pauses)
        args = self._round_args(consumer, now, limit, lease)
        _, out = self._pipelined(
            [
                ("BLPOP", self._keys["wake"], round(min(block, 1.0) - 0.12, 3)),
                ("EVALSHA", self._scripts[ROUND.name].sha, len(keys), *keys, *args),
            ]
        )
        if isinstance(out, redis.exceptions.NoScriptError):
            # The server forgot its scripts (restarted): we have waited, now just claim.
            return self.claim_round(consumer, now, limit, lease, watch, pauses)
        if isinstance(out, Exception):
            raise out
        return self._round(consumer, now, out)

    # --- parking ---------------------------------------------------------------------
    def _parked(self, name: str) -> str:
        return self._k("parked:" + name)

    @_translated
    def park(self, consumer: str, name: str, task_ids: Sequence[str], pauses: str) -> list[str]:
        if not task_ids:
            return []
        keys = self._keys_for(PARK, pauses=self._map(pauses), parked=self._parked(name))
        return [_text(i) for i in self._run(PARK, keys, [consumer, name, *task_ids])]

    @_translated
    def unpark(self, name: str, pauses: str, record: bytes | None = None) -> int | None:
        keys = self._keys_for(UNPARK, pauses=self._map(pauses), parked=self._parked(name))
        check = ("1", record) if record is not None else ("0", "")
        moved = self._run(UNPARK, keys, [name, *check])
        return None if moved is None else int(moved)

    @_translated
    def parked(self, name: str) -> int:
        return int(self.client.llen(self._parked(name)))

    @_translated
    def finish(self, consumer: str, task_id: str, now: float, outcome: Outcome) -> str | None:
        return self.finish_many(consumer, [(task_id, now, outcome)])[0]

    @_translated
    def finish_many(
        self, consumer: str, items: Sequence[tuple[str, float, Outcome]]
    ) -> list[str | None]:
        # One script call finishes the whole batch (up to 500 tasks a call): the keys
        # every finish touches are sent once, not once per task.
        refusals: list[str | None] = []
        for start in range(0, len(items), 500):
            keys, args = self._finish_call(consumer, items[start : start + 500])
            try:
                out = self._write(FINISH, keys, args)
            except ReplicaLag as lag:  # finished on the master: not worth failing the batch
                out = lag.reply
                log.warning("durable mode: no replica confirmed %d finish(es) in time", len(items))
            refusals += [r.decode() if r else None for r in out]
        return refusals

    def _finish_call(
        self, consumer: str, items: Sequence[tuple[str, float, Outcome]]
    ) -> tuple[list[str], list[Any]]:
        keys = list(self._finish_keys)
        args: list[Any] = [consumer, len(items), self.lease_clock, self.finished_cap]
        kv = self._kv
        for task_id, now, outcome in items:
            results = [(kv(k), v) for k, v in outcome.results]
            if outcome.dead is None and not outcome.enqueue and not outcome.schedule:
                args.append("p")
                FINISH_PLAIN.pack(
                    (repr(now), task_id, results, _ms(outcome.result_ttl), outcome.finished or ""),
                    keys,
                    args,
                )
                continue
            reason, error = outcome.dead or ("", "")
            record = outcome.finished if outcome.dead is None else None
            args.append("f")
            FINISH_TASK.pack(
                (
                    repr(now),
                    task_id,
                    results,
                    _ms(outcome.result_ttl),
                    reason,
                    error,
                    outcome.dead_data or "",
                    self.dead_cap,
                    self.dead_cap_bytes,
                    record or "",
                    [(m.id, m.priority, m.data) for m in outcome.enqueue],
                    [(m.id, m.priority, repr(float(eta)), m.data) for m, eta in outcome.schedule],
                ),
                keys,
                args,
            )
        return keys, args

    @_translated
    def heartbeat(self, consumer: str, now: float, lease: float) -> None:
        # A script, not a ZADD: allowed when Redis is full, and it reads the server's clock.
        args = [consumer, repr(now), repr(lease), self.lease_clock]
        seconds, micros = self._run(HEARTBEAT, self._keys_for(HEARTBEAT), args)
        self.clock_offset = int(seconds) + int(micros) / 1e6 - now
        if self.lease_clock == "server" and not self._skew_told:
            if abs(self.clock_offset) > SKEW_WARNING:
                self._skew_told = True
                log.warning(
                    "this machine's clock is %.1fs %s the Redis server's: leases use the"
                    " server's clock, but etas and crontabs follow this one (sync it, e.g."
                    " with NTP)",
                    abs(self.clock_offset),
                    "behind" if self.clock_offset > 0 else "ahead of",
                )

    @_translated
    def recover(self, now: float, max_deliveries: int) -> Recovered:
        keys = self._keys_for(RECOVER)
        args = [repr(now), max_deliveries, self.dead_cap, self.dead_cap_bytes, self.lease_clock]
        requeued, dead = self._run(RECOVER, keys, args)
        return Recovered([_text(i) for i in requeued], [_text(i) for i in dead])

    @_translated
    def release(
        self, consumer: str, task_ids: Iterable[str] | None = None, count: bool = False
    ) -> list[str]:
        keys = self._keys_for(RELEASE)
        flag = "1" if task_ids is None else "0"
        out = self._run(RELEASE, keys, [consumer, flag, "1" if count else "0", *(task_ids or ())])
        return [_text(i) for i in out]

    @_translated
    def wait(self, timeout: float) -> None:
        """Block until a wake token arrives or ``timeout`` passes. Redis times blocked
        clients out on its 100 ms tick, so BLPOP is used only for the part of the
        wait that can be late by that much; the last stretch polls (LPOP every 2 ms)."""
        deadline = time.monotonic() + timeout
        key = self._keys["wake"]
        if timeout > 0.25:
            if self.client.blpop([key], timeout=round(min(timeout, 2.0) - 0.12, 3)):
                return
        while (left := deadline - time.monotonic()) > 0:
            if self.client.lpop(key) is not None:
                return
            time.sleep(min(0.002, left))

    # --- inspection -------------------------------------------------------------
    # (Plain commands, no scripts: the read-only ACL role has no EVAL.)
    @_translated
    def counts(self) -> Counts:
        """One snapshot: the levels' lengths are read in the same pipeline as the other
        counts (with ``levels`` again, to see that no level came or went since it was
        read). Read in two steps, a claim between them moved tasks out of the ready
        lists after ``running`` was counted: they were in neither (tens of them while
        workers claim), and a drain looked finished with its last batch running."""
        k = self._keys
        levels = self.client.zrange(k["levels"], 0, -1)
        for _ in range(5):
            p = self.client.pipeline(transaction=False)
            p.zrange(k["levels"], 0, -1)
            for level in levels:
                p.llen(k["ready"] + _text(level))
            p.zcard(k["sched"])
            p.hlen(k["running"])
            p.zcard(k["dead"])
            now_levels, *lengths, scheduled, running, dead = p.execute()
            if now_levels == levels:
                break
            levels = now_levels  # a level came or went meanwhile: read again
        return Counts(sum(int(n) for n in lengths), scheduled, running, dead)

    def _level_lengths(self, levels: list[bytes]) -> list[int]:
        """The length of each level's ready list (one pipelined LLEN each)."""
        if not levels:
            return []
        p = self.client.pipeline(transaction=False)
        for level in levels:
            p.llen(self._keys["ready"] + _text(level))
        return [int(n) for n in p.execute()]

    def _bodies(self, ids: list[bytes]) -> list[bytes | None]:
        """The stored body of each id (None: none): one pipeline of an HMGET per bucket
        the ids are in and one on ``m:big`` (where a body is when not in its bucket)."""
        if not ids:
            return []
        msg = self._keys["msg"]
        big = msg + "big"
        by_key: dict[str, list[int]] = {big: list(range(len(ids)))}
        for n, task_id in enumerate(ids):
            key = body_key(msg, task_id)
            if key != big:
                by_key.setdefault(key, []).append(n)
        out: list[bytes | None] = [None] * len(ids)
        p = self.client.pipeline(transaction=False)
        for key, where in by_key.items():
            p.hmget(key, [ids[n] for n in where])
        for where, values in zip(by_key.values(), p.execute(), strict=True):
            for n, value in zip(where, values, strict=True):
                if value is not None:
                    out[n] = value
        return out

    def _prios(self, ids: list[bytes]) -> list[int]:
        return [_priority(p) for p in self.client.hmget(self._keys["prio"], ids)] if ids else []

    @_translated
    def ready_items(self, offset: int = 0, limit: int = 100) -> list[Message]:
        """A page of the ready tasks in claim order: the levels highest first, each list
        from its front (LRANGE slices of the levels the page spans)."""
        if limit <= 0:
            return []
        levels = self.client.zrange(self._keys["levels"], 0, -1)
        if not levels:
            return []
        if offset <= 0:  # the first page (top, the head's age): often one level's front
            ids = self.client.lrange(self._keys["ready"] + _text(levels[0]), 0, limit - 1)
            if len(ids) == limit or len(levels) == 1:
                return self._ready_page([(i, _priority(levels[0])) for i in ids])
        slices: list[tuple[bytes, int, int]] = []  # (level, start, stop)
        skip, want = max(0, offset), limit
        for level, n in zip(levels, self._level_lengths(levels), strict=True):
            if want <= 0:
                break
            if skip >= n:
                skip -= n
                continue
            got = min(n - skip, want)
            slices.append((level, skip, skip + got - 1))
            want -= got
            skip = 0
        if not slices:
            return []
        p = self.client.pipeline(transaction=False)
        for level, start, stop in slices:
            p.lrange(self._keys["ready"] + _text(level), start, stop)
        page = [
            (task_id, _priority(level))
            for (level, _, _), ids in zip(slices, p.execute(), strict=True)
            for task_id in ids
        ]
        return self._ready_page(page)

    def _ready_page(self, page: list[tuple[bytes, int]]) -> list[Message]:
        """(id, priority) pairs as Messages with their bodies; an id with none is left out."""
        bodies = self._bodies([i for i, _ in page])
        return [
            Message(_text(i), body, priority)
            for (i, priority), body in zip(page, bodies, strict=True)
            if body is not None
        ]

    @_translated
    def scheduled_items(self, offset: int = 0, limit: int = 100) -> list[tuple[Message, float]]:
        pairs = self.client.zrange(self._keys["sched"], offset, offset + limit - 1, withscores=True)
        ids = [i for i, _ in pairs]
        return [
            (Message(_text(i), body, prio), float(eta))
            for (i, eta), body, prio in zip(pairs, self._bodies(ids), self._prios(ids), strict=True)
            if body is not None
        ]

    @_translated
    def running_items(self) -> list[Running]:
        running = self.client.hgetall(self._keys["running"])
        ids = list(running)
        deliv = self.client.hmget(self._keys["deliv"], ids) if ids else []
        out = []
        for i, body, d in zip(ids, self._bodies(ids), deliv, strict=True):
            owner, _, claimed = _text(running[i]).rpartition("|")
            out.append(Running(_text(i), body or b"", owner, float(claimed), int(d or 0)))
        return sorted(out, key=lambda r: r.claimed_at)

    @_translated
    def dead_items(self, offset: int = 0, limit: int = 100) -> list[DeadLetter]:
        pairs = self.client.zrevrange(
            self._keys["dead"], offset, offset + limit - 1, withscores=True
        )
        ids = [i for i, _ in pairs]
        infos = self.client.hmget(self._keys["deadinfo"], ids) if ids else []
        out = []
        for (i, at), body, info in zip(pairs, self._bodies(ids), infos, strict=True):
            reason, _, error = _text(info or b"").partition("\n")
            out.append(DeadLetter(_text(i), body or b"", reason, error, float(at)))
        return out

    @_translated
    def finished(self, task_id: str) -> bytes | None:
        k = self._keys
        p = self.client.pipeline(transaction=False)
        p.hget(k["done_a"], task_id)
        p.hget(k["done_b"], task_id)
        a, b = p.execute()  # an id finished twice may be in both: either record will do
        data: bytes | None = a if a is not None else b
        return data

    @_translated
    def ids_ending(self, suffix: str, limit: int = 20) -> list[str]:
        """Ids of stored bodies and finished records ending in ``suffix``. A suffix of at
        least BUCKET_TAIL bytes names the one bucket such ids' bodies can be in; a
        shorter one means every bucket (one pipelined HSCAN each)."""
        pattern = "*" + _glob_escape(suffix)
        msg = self._keys["msg"]
        raw = suffix.encode()
        if len(raw) >= BUCKET_TAIL:
            buckets = [body_key(msg, raw)]
        else:
            buckets = [msg + str(b) for b in range(BUCKETS)]
        found: set[str] = set()
        more: list[tuple[str, int]] = []  # (key, cursor) of the hashes HSCAN did not finish
        p = self.client.pipeline(transaction=False)
        for key in buckets:
            p.hscan(key, 0, match=pattern, count=1000)
        for key, (cursor, fields) in zip(buckets, p.execute(), strict=True):
            found.update(_text(f) for f in fields)
            if int(cursor):
                more.append((key, int(cursor)))
        if len(found) >= limit:
            return sorted(found)[:limit]
        for key, cursor in more:
            while cursor:
                cursor, fields = self.client.hscan(key, cursor, match=pattern, count=1000)
                found.update(_text(f) for f in fields)
                if len(found) >= limit:
                    return sorted(found)[:limit]
        for key in (msg + "big", self._keys["done_a"], self._keys["done_b"]):
            for field in self.client.hscan_iter(key, match=pattern, count=1000):
                found.add(_text(field[0] if isinstance(field, tuple) else field))
                if len(found) >= limit:
                    return sorted(found)
        return sorted(found)

    @_translated
    def locate(self, task_id: str) -> Located | None:
        k = self._keys
        p = self.client.pipeline(transaction=False)
        p.hget(body_key(k["msg"], task_id), task_id)  # (m:big itself for a long id)
        p.hget(k["msg"] + "big", task_id)
        p.hget(k["parkedin"], task_id)
        p.zscore(k["sched"], task_id)
        p.hget(k["running"], task_id)
        p.zscore(k["dead"], task_id)
        p.hget(k["deadinfo"], task_id)
        p.hget(k["deliv"], task_id)
        p.hget(k["prio"], task_id)
        small, big, parked, eta, running, dead, info, deliv, prio = p.execute()
        body = small if small is not None else big
        if body is None:
            return None
        consumer = reason = error = None
        since: float | None = None
        if running is not None:
            consumer, _, claimed = _text(running).rpartition("|")
            state, since = "running", float(claimed)
        elif dead is not None:
            state, since = "dead", float(dead)
            reason, _, error = _text(info or b"").partition("\n")
        elif eta is not None:
            state = "scheduled"
        elif parked is not None:
            state = "parked"  # a call of a paused task, set aside
        else:
            state = "ready"  # a body in no other place: on its level's ready list
        return Located(
            task_id,
            body,
            state,
            _priority(prio),
            eta,
            consumer,
            int(deliv or 0),
            reason,
            error,
            since,
        )

    @_translated
    def remove(self, task_id: str) -> bool:
        return bool(self._run(REMOVE, self._keys_for(REMOVE), [task_id]))

    @_translated
    def retry_dead(self, task_id: str) -> bool:
        return bool(self._run(RETRY_DEAD, self._keys_for(RETRY_DEAD), [task_id]))

    @_translated
    def remove_many(self, task_ids: Sequence[str]) -> int:
        return self._each(REMOVE, self._keys_for(REMOVE), task_ids)

    @_translated
    def retry_dead_many(self, task_ids: Sequence[str]) -> int:
        return self._each(RETRY_DEAD, self._keys_for(RETRY_DEAD), task_ids)

    def _each(self, script: Script, keys: list[str], task_ids: Sequence[str]) -> int:
        """One call of a one-id script per id, pipelined (one round trip; each call
        atomic on its own); the number of calls that returned 1."""
        if self._cluster or len(task_ids) < 2:  # a cluster client: one call at a time
            return sum(1 for i in task_ids if self._run(script, keys, [i]))
        # EVALSHA itself, not the Script object: a pipeline of Script calls first sends
        # SCRIPT EXISTS, which a least-privilege ACL user is not granted.
        sha = self._scripts[script.name].sha
        pipe = self.client.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.evalsha(sha, len(keys), *keys, task_id)
        done = 0
        for task_id, out in zip(task_ids, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(out, redis.exceptions.NoScriptError):  # not loaded yet: load it
                out = self._run(script, keys, [task_id])
            elif isinstance(out, Exception):
                raise out
            done += bool(out)
        return done

    @_translated
    def flush(self, state: str) -> int:
        if state not in _STATE_KEY:
            raise ConfigurationError(f"cannot flush {state!r}: use ready, scheduled or dead")
        keys = self._keys_for(FLUSH, zset=self._keys[_STATE_KEY[state]])
        lists = "1" if state == "ready" else "0"
        total = 0
        while n := int(self._run(FLUSH, keys, [lists, 2000])):
            total += n
        return total

    @_translated
    def consumers(self, now: float) -> dict[str, float]:
        pairs = self.client.zrange(self._keys["leases"], 0, -1, withscores=True)
        return {_text(c): float(until) for c, until in pairs}

    # --- events and statistics -----------------------------------------------------------
    #: Events one ``record`` script call appends at most (a call of 250 takes the
    #: server about a millisecond; a consumer's beat sends at most 1,000).
    record_chunk = 250

    @_translated
    def record(
        self,
        events: Sequence[bytes],
        stats: Sequence[StatRow],
        cap: int = EVENT_CAP,
        ttl: float = STATS_TTL,
    ) -> None:
        """At most ``record_chunk`` events a script call, so that no call holds the server
        for long (10,000 XADDs in one call held it 0.1-0.3 s); the calls go in one
        pipeline, oldest events first, the statistics rows with the first."""
        if not events and not stats:
            return
        keys = self._keys_for(RECORD, events=self._k("events"))
        slots: dict[int, int] = {}
        rows: list[Any] = []
        for row in stats:
            if row.minute not in slots:
                keys.append(self._k(f"stats:{row.minute}"))
                slots[row.minute] = len(keys)
            rows += (
                slots[row.minute],
                row.task,
                row.count,
                row.failures,
                repr(row.total),
                repr(row.max),
            )
        size = self.record_chunk
        head = events[:size]
        calls = [(keys, [cap, _ms(ttl), len(head), *head, *rows])]
        for start in range(size, len(events), size):
            chunk = events[start : start + size]
            calls.append((keys[:1], [cap, _ms(ttl), len(chunk), *chunk]))
        if len(calls) == 1 or self._cluster:
            for call_keys, args in calls:
                self._run(RECORD, call_keys, args)
            return
        # EVALSHA itself, not the Script object (whose pipeline sends SCRIPT EXISTS).
        sha = self._scripts[RECORD.name].sha
        pipe = self.client.pipeline(transaction=False)
        for call_keys, args in calls:
            pipe.evalsha(sha, len(call_keys), *call_keys, *args)
        for (call_keys, args), out in zip(calls, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(out, redis.exceptions.NoScriptError):  # not loaded: nothing ran
                self._run(RECORD, call_keys, args)
            elif isinstance(out, Exception):
                raise out

    @_translated
    def read_events(self, after: str | None = None, limit: int = 100) -> list[tuple[str, bytes]]:
        key = self._k("events")
        if after is None:
            items = list(reversed(self.client.xrevrange(key, "+", "-", count=limit)))
        else:
            items = self.client.xrange(key, f"({after}", "+", count=limit)
        return [(i.decode(), fields[b"e"]) for i, fields in items]

    @_translated
    def read_stats(self, since_minute: int) -> list[StatRow]:
        now_minute = int(time.time() // 60) * 60
        minutes = list(range(since_minute, now_minute + 60, 60))[-1440:]
        p = self.client.pipeline(transaction=False)
        for m in minutes:
            p.hgetall(self._k(f"stats:{m}"))
        rows = []
        for minute, fields in zip(minutes, p.execute(), strict=True):
            by_task: dict[str, dict[str, float]] = {}
            for f, v in fields.items():
                task, _, name = _text(f).rpartition("|")
                by_task.setdefault(task, {})[name] = float(v)
            for task, c in sorted(by_task.items()):
                rows.append(
                    StatRow(
                        minute,
                        task,
                        int(c.get("count", 0)),
                        int(c.get("failures", 0)),
                        c.get("total", 0.0),
                        c.get("max", 0.0),
                    )
                )
        return rows

    # --- key/value ---------------------------------------------------------------------
    def _kv(self, key: str) -> str:
        return self._prefix + "kv:" + key

    @_translated
    def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.client.set(self._kv(key), value, px=int(_ms(ttl)) or None)

    @_translated
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return bool(self.client.set(self._kv(key), value, px=int(_ms(ttl)) or None, nx=True))

    @_translated
    def peek(self, key: str) -> bytes | None:
        return cast(bytes | None, self.client.get(self._kv(key)))

    @_translated
    def pop(self, key: str) -> bytes | None:
        return cast(bytes | None, self.client.getdel(self._kv(key)))

    @_translated
    def delete(self, key: str) -> bool:
        return bool(self.client.delete(self._kv(key)))

    @_translated
    def wait_result(self, key: str, timeout: float, pop: bool) -> bytes | None:
        keys = self._keys_for(
            WAIT_RESULT,
            result=self._kv(key),
            waiter=self._kv(key + _WAITER),
            notify=self._kv(key + _NOTIFY),
        )
        flag = "1" if pop else "0"
        if timeout < 0.001:  # (a BLPOP timeout of 0 would block for ever)
            return cast(bytes | None, self._run(WAIT_RESULT, keys, [flag, "0"]))
        block = max(0.01, round(timeout, 3))
        if self._cluster:
            value = self._run(WAIT_RESULT, keys, [flag, _ms(timeout + 5)])
            if value is None:
                self.client.blpop([keys[2]], timeout=block)
                value = self._run(WAIT_RESULT, keys, [flag, "0"])
            return cast(bytes | None, value)
        # One round trip, every script call an EVALSHA: a token on a key of our own,
        # look (registering as a waiter, which takes the token back), block until
        # finish wakes us, look again. A result already there, or a server that forgot
        # its scripts (NOSCRIPT: nothing ran), leaves the token, so the BLPOP returns
        # at once; then the script is loaded and the read asked again.
        own = self._kv(key + _WAITER + os.urandom(6).hex())
        sha = self._scripts[WAIT_RESULT.name].sha
        loaded = False
        while True:
            _, first, _, last = self._pipelined(
                [
                    ("LPUSH", own, 1),
                    ("EVALSHA", sha, 4, *keys, own, flag, _ms(timeout + 5)),
                    ("BLPOP", own, keys[2], block),
                    ("EVALSHA", sha, 3, *keys, flag, "0"),
                ]
            )
            if isinstance(first, redis.exceptions.NoScriptError) and not loaded:
                self.client.script_load(self._scripts[WAIT_RESULT.name].script)
                loaded = True
                continue
            if isinstance(first, Exception):
                raise first
            if first is not None:
                return cast(bytes, first)
            if isinstance(last, redis.exceptions.NoScriptError):  # forgotten meanwhile
                last = self._run(WAIT_RESULT, keys, [flag, "0"])
            if isinstance(last, Exception):
                raise last
            return cast(bytes | None, last)

    async def await_result(
        self, key: str, timeout: float, pop: bool, keep: float | None = None
    ) -> bytes | None:
        """Woken by the finish that writes the result, like ``wait_result``, with the
        awaits of one event loop sharing two connections (engine.storage.redis_await).
        Redis Cluster and Sentinel stores poll instead (Storage.await_result)."""
        awaiter = self._awaiter()
        if awaiter is None:
            return await super().await_result(key, timeout, pop, keep)
        keys = (self._kv(key), self._kv(key + _WAITER), self._kv(key + _NOTIFY))
        return await awaiter.wait(keys, timeout, pop, keep)

    def _awaiter(self) -> ResultAwaiter | None:
        loop = asyncio.get_running_loop()
        if loop in self._awaiters:
            return self._awaiters[loop]
        from .redis_await import ResultAwaiter, async_client  # redis.asyncio: only if awaited

        client = None if self._cluster else async_client(self.client.connection_pool)
        awaiter = None
        if client is not None:
            script = self._scripts[WAIT_RESULT.name]
            inbox = self._kv("\x00await" + os.urandom(6).hex())
            text = cast(str, script.script)
            awaiter = ResultAwaiter(client, text, script.sha, inbox, self._translate)
        self._awaiters[loop] = awaiter
        return awaiter

    def _answers(self) -> bool:
        """Whether the server answers a PING now (on a fresh connection of the pool)."""
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def _translate(self, exc: BaseException) -> BaseException:
        """The engine error a driver error becomes (as ``_translated`` raises it)."""

        @_translated
        def again(_: RedisStorage) -> None:
            raise exc

        try:
            again(self)
        except BaseException as out:
            return out
        return exc

    async def aclose(self) -> None:
        awaiter = self._awaiters.pop(asyncio.get_running_loop(), None)
        if awaiter is not None:
            await awaiter.aclose()

    @_translated
    def delete_if_equal(self, key: str, value: bytes) -> bool:
        return bool(
            self._run(DELETE_IF_EQUAL, self._keys_for(DELETE_IF_EQUAL, key=self._kv(key)), [value])
        )

    @_translated
    def incr(self, key: str, ttl: float) -> int:
        return int(self._run(INCR, self._keys_for(INCR, key=self._kv(key)), [_ms(ttl)]))

    @_translated
    def keys(self, prefix: str) -> list[str]:
        start = len(self._kv(""))
        pattern = _glob_escape(self._kv(prefix)) + "*"
        found = (_text(k)[start:] for k in self.client.scan_iter(match=pattern, count=1000))
        return sorted(k for k in found if "\x00" not in k)  # not the waiters' own keys

    # --- maps ------------------------------------------------------------------------------
    def _map(self, name: str) -> str:
        return self._prefix + "map:" + name

    @_translated
    def map_set(self, name: str, field: str, value: bytes) -> None:
        if name == WORKERS:
            # A consumer's registry entry is written even when Redis is full (a script
            # flagged allow-oom): it tells status why the consumer claims nothing new.
            keys = self._keys_for(MAP_PUT, map=self._map(name))
            self._run(MAP_PUT, keys, [field, value])
            return
        self.client.hset(self._map(name), field, value)

    @_translated
    def map_get(self, name: str, field: str) -> bytes | None:
        return cast(bytes | None, self.client.hget(self._map(name), field))

    @_translated
    def map_delete(self, name: str, field: str, value: bytes | None = None) -> bool:
        if value is None:
            return bool(self.client.hdel(self._map(name), field))
        return bool(
            self._run(
                MAP_DELETE_IF_EQUAL,
                self._keys_for(MAP_DELETE_IF_EQUAL, map=self._map(name)),
                [field, value],
            )
        )

    @_translated
    def map_items(self, name: str) -> dict[str, bytes]:
        return {_text(f): v for f, v in self.client.hgetall(self._map(name)).items()}

    # --- the store's queues ---------------------------------------------------------------
    @_translated
    def announce(self) -> None:
        self.client.sadd(QUEUES_KEY, self.name)

    @_translated
    def queue_names(self, budget: int = SCAN_BUDGET) -> tuple[list[str], bool] | None:
        """The announced names (one SMEMBERS), and the hash tags of at most ``budget``
        keys of ``hueyctl:{*}:*`` (queues of producers and workers that never announced)."""
        found = {_text(n) for n in self.client.smembers(QUEUES_KEY)}
        if budget <= 0:
            return sorted(found), True
        seen = 0
        try:
            for key in self.client.scan_iter(match="hueyctl:{*}:*", count=1000):
                seen += 1
                m = _TAG.match(key if isinstance(key, bytes) else str(key).encode())
                if m:
                    found.add(m.group(1).decode("utf-8", "replace"))
                if seen >= budget:
                    return sorted(found), False
        except redis.exceptions.NoPermissionError:  # an ACL without SCAN: what was announced
            return sorted(found), False
        return sorted(found), True

    @_translated
    def destroy(self) -> None:
        keys = list(self.client.scan_iter(match=_glob_escape(self._prefix) + "*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])
        self.client.srem(QUEUES_KEY, self.name)

    def close(self) -> None:
        if self._lane is not None:
            self._lane.close()
        self.client.close()
