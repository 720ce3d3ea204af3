"""Awaiting results on Redis from asyncio code: many awaits, two connections, no polling.

The synchronous ``wait_result`` has the protocol: a reader registers as the result's
waiter (``wait_result.lua`` sets the ``waiter`` key), and ``finish.lua``, writing a
result that has a waiter, wakes it by pushing onto a list the reader BLPOPs.

Design: one :class:`ResultAwaiter` per store and event loop, with a pool of at most
:data:`POOL_SIZE` connections however many coroutines await:

* **An inbox per awaiter.** Its awaits register with the name of the awaiter's own
  list (``kv:\x00await<random>``, in the queue's hash tag) as the waiter's value;
  ``finish.lua`` then pushes the *result key* onto that inbox (a blocking reader's
  waiter is ``'1'``: its per-result ``notify`` list, as before).
* **One listener coroutine** holds one connection in ``BLPOP inbox`` followed, in the
  same round trip, by ``LPOP inbox 1000``: one command pair wakes every await whose
  result landed meanwhile, whatever their number, and the key set never changes (no
  BLPOP over thousands of keys, nothing to interrupt when a new await starts). It ends
  when nobody awaits (its connection goes back to the pool).
* **One flusher coroutine** sends, on the other connection, what the awaits asked for
  since its last round trip in one pipeline: the look-and-register script for each new
  or woken await (``wait_result.lua``, which returns, and takes, a result already
  there). 1,000 awaits started together cost a handful of round trips.

Why not pub/sub: ``finish.lua`` would have to publish (on Redis Cluster a broadcast to
every node), and a message published while the listener reconnects is lost; a list
keeps a wake-up that lands between two BLPOPs, and only results somebody awaits pay
for it (one LPUSH in ``finish``, as for a blocking reader).

Per await, when the result lands after the await began: one script call to look and
register, a share of the listener's BLPOP+LPOP (one pair per wake-up, shared by all
results that landed together), one script call to take it. Nothing repeats while
nothing happens, except that every :data:`REFRESH` seconds a long await looks and
registers again: its registration expires, so a crashed reader leaves nothing behind;
and a result awaited by two processes at once wakes only the one registered last (the
waiter holds one name), the other sees it at its next refresh.

Reads: a destructive await takes the result in its script call (``pop=1``), as the
synchronous read does. An await cancelled while that call is on the wire does not get
the value it took: the flusher puts it back (``SET NX``, with the queue's result TTL),
so nothing is lost. Cancelling an await otherwise just forgets it (its script call is
not sent, or its reply ignored); no connection is held by an awaiting coroutine.

Redis Cluster and Sentinel stores have no asyncio twin here: their awaits poll
(``Storage.await_result``). A worker of a release before this one wakes an await only
at its refresh (its ``finish`` pushes to the ``notify`` list alone).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio
import redis.asyncio.connection as aconn
import redis.connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

#: Seconds a waiter's registration lasts before the await renews it (and looks again).
REFRESH = 5.0
#: Longest BLPOP of the listener, seconds (the async connections' socket timeout is above).
BLOCK = 2.0
#: Connections of one awaiter: the listener's and the flusher's.
POOL_SIZE = 2
#: Wake-ups the listener takes from its inbox per round trip, at most.
DRAIN = 1000

Keys = tuple[str, str, str]  # result, waiter, notify

# The synchronous pool's connection classes that have an asyncio twin (Sentinel's and
# Cluster's do not: their awaits poll, see Storage.await_result).
_TWINS: dict[type[Any], type[aconn.AbstractConnection]] = {
    redis.connection.Connection: aconn.Connection,
    redis.connection.SSLConnection: aconn.SSLConnection,
    redis.connection.UnixDomainSocketConnection: aconn.UnixDomainSocketConnection,
}
# What is carried over from the synchronous connection keywords (with every ssl_* one).
_CARRIED = {
    "host",
    "port",
    "path",
    "db",
    "username",
    "password",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive",
    "socket_keepalive_options",
    "client_name",
    "credential_provider",
    "lib_name",
    "lib_version",
    "protocol",
}


def async_client(pool: Any) -> Any | None:
    """A ``redis.asyncio`` client to the server of the synchronous ``pool`` (same
    address, user, password, TLS options), whose pool holds at most POOL_SIZE
    connections, with a socket timeout above the listener's BLOCK and no automatic
    retry (a BLPOP is not re-sent blindly), named ``<client name>:await``; None where
    there is no asyncio twin."""
    twin = _TWINS.get(getattr(pool, "connection_class", type(None)))
    if twin is None:
        return None
    kwargs = {
        k: v
        for k, v in pool.connection_kwargs.items()
        if k in _CARRIED or (k.startswith("ssl_") and twin is aconn.SSLConnection)
    }
    kwargs["socket_timeout"] = max(float(kwargs.get("socket_timeout") or 0), BLOCK + 3)
    # Named so that CLIENT LIST tells them apart: "<the store's client name>:await".
    kwargs["client_name"] = f"{kwargs.get('client_name') or 'hueyctl'}:await"
    apool = redis.asyncio.BlockingConnectionPool(
        max_connections=POOL_SIZE,
        timeout=None,
        connection_class=twin,
        retry=Retry(NoBackoff(), 0),
        **kwargs,
    )
    return redis.asyncio.Redis(connection_pool=apool)


class _Look:
    __slots__ = ("keys", "ttl_ms", "pop", "keep", "fut")

    def __init__(
        self,
        keys: Keys,
        ttl_ms: int,
        pop: bool,
        keep: float | None,
        fut: asyncio.Future[bytes | None],
    ) -> None:
        self.keys, self.ttl_ms, self.pop, self.keep, self.fut = keys, ttl_ms, pop, keep, fut


class ResultAwaiter:
    """Awaits results of one queue on one event loop (see the module docstring).

    ``client`` is a ``redis.asyncio.Redis`` whose pool holds at most POOL_SIZE
    connections; ``script`` and ``sha`` are ``wait_result.lua``'s text and SHA1;
    ``inbox`` a list key of this awaiter's own in the queue's hash tag; ``translate``
    turns a driver error into the store's error."""

    def __init__(
        self,
        client: Any,
        script: str,
        sha: str,
        inbox: str,
        translate: Callable[[BaseException], BaseException],
    ) -> None:
        self.client = client
        self._script, self._sha, self._inbox = script, sha, inbox
        self._translate = translate
        self._looks: list[_Look] = []
        self._restores: list[_Look] = []  # taken for an await cancelled meanwhile
        self._subs: dict[bytes, set[asyncio.Future[None]]] = {}  # by result key
        self._listener: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        #: Round trips and commands sent so far by the flusher and the listener (the
        #: benchmark reads them).
        self.round_trips = 0
        self.commands = 0

    async def wait(
        self, keys: Keys, timeout: float, pop: bool, keep: float | None = None
    ) -> bytes | None:
        """The result at ``keys[0]`` (taken when ``pop``), waiting up to ``timeout``
        seconds (``math.inf``: for ever) for it to be written; None if it was not.
        ``keep``: the result TTL a value taken for a cancelled await is put back with."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        key = keys[0].encode()
        while True:
            left = deadline - loop.time()
            span = max(0.0, min(left, REFRESH))
            woken: asyncio.Future[None] = loop.create_future()
            if span > 0:
                self._subscribe(key, woken)
            try:
                value = await self._look(keys, span, pop, keep)
                if value is not None or span <= 0:
                    return value
                await asyncio.wait((woken,), timeout=span)
            finally:
                self._unsubscribe(key, woken)

    async def aclose(self) -> None:
        """Stop the listener and flusher and close the connections."""
        jobs = [job for job in (self._listener, self._flusher) if job is not None]
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await self.client.aclose()

    # --- registering ---------------------------------------------------------------------
    def _subscribe(self, key: bytes, woken: asyncio.Future[None]) -> None:
        self._subs.setdefault(key, set()).add(woken)
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    def _unsubscribe(self, key: bytes, woken: asyncio.Future[None]) -> None:
        waiting = self._subs.get(key)
        if waiting is not None:
            waiting.discard(woken)
            if not waiting:
                del self._subs[key]

    def _look(
        self, keys: Keys, span: float, pop: bool, keep: float | None
    ) -> asyncio.Future[bytes | None]:
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        ttl_ms = math.ceil((span + 5) * 1000) if span > 0 else 0
        self._looks.append(_Look(keys, ttl_ms, pop, keep, fut))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return fut

    # --- the flusher -----------------------------------------------------------------------
    async def _flush(self) -> None:
        try:
            while self._looks or self._restores:
                looks = [op for op in self._looks if not op.fut.done()]
                restores, self._looks, self._restores = self._restores, [], []
                await self._send(looks, restores)
        finally:
            self._flusher = None

    async def _send(self, looks: Sequence[_Look], restores: Sequence[_Look]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for op in looks:
            flag = "1" if op.pop else "0"
            pipe.evalsha(self._sha, 3, *op.keys, flag, str(op.ttl_ms), self._inbox)
        for op in restores:  # (their future holds the value taken)
            px = math.ceil(op.keep * 1000) if op.keep else None
            pipe.set(op.keys[0], op.fut.result(), nx=True, px=px)
        self.round_trips += 1
        self.commands += len(looks) + len(restores)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for op in looks:
                if not op.fut.done():
                    op.fut.set_exception(self._translate(exc))
            return
        again: list[_Look] = []
        for op, reply in zip(looks, replies[: len(looks)], strict=True):
            if op.fut.done():  # the await was cancelled meanwhile
                if op.pop and isinstance(reply, bytes):
                    self._restores.append(_Look(op.keys, 0, True, op.keep, _done(reply)))
                continue
            if isinstance(reply, NoScriptError):
                again.append(op)
            elif isinstance(reply, Exception):
                op.fut.set_exception(self._translate(reply))
            else:
                op.fut.set_result(reply)
        if again:  # the server forgot its scripts (restarted): load it, ask again
            await self.client.script_load(self._script)
            self._looks.extend(again)

    # --- the listener ------------------------------------------------------------------------
    async def _listen(self) -> None:
        try:
            while self._subs:
                pipe = self.client.pipeline(transaction=False)
                pipe.blpop([self._inbox], BLOCK)
                pipe.lpop(self._inbox, DRAIN)
                self.round_trips += 1
                self.commands += 2
                try:
                    first, rest = await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Wake every await: each looks again and meets the error itself.
                    self._wake(list(self._subs))
                    await asyncio.sleep(0.25)
                    continue
                if first is not None:
                    self._wake([first[1], *(rest or ())])
        finally:
            self._listener = None

    def _wake(self, keys: Sequence[bytes]) -> None:
        for key in keys:
            for woken in self._subs.get(key, ()):
                if not woken.done():
                    woken.set_result(None)


def _done(value: bytes) -> asyncio.Future[bytes | None]:
    fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut
