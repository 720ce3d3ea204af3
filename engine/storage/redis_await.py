"""Awaiting results on Redis from asyncio code: many awaits, two connections, no polling.

The synchronous ``wait_result`` already has the protocol: a reader registers as a
waiter (``wait_result.lua`` sets the result's ``waiter`` key), and ``finish.lua``,
writing a result that has a waiter, pushes a token onto its ``notify`` list. A
blocking reader BLPOPs that list, so it wakes the moment the result lands.

Design: one :class:`ResultAwaiter` per store and event loop, with a pool of at most
:data:`POOL_SIZE` connections however many coroutines await:

* **One listener coroutine** holds one connection in ``BLPOP control notify₁ …
  notifyₙ``, the notify lists of every result awaited on this loop (one command for
  all of them: the keys of one queue share a hash tag). When a token arrives it wakes
  the awaits of that key and blocks again with the current set. ``control`` is a list
  of this awaiter's own; pushing a token onto it interrupts the BLPOP when a new key
  must join the set. The listener ends when nobody awaits (its connection goes back to
  the pool) and starts again on the next await.
* **One flusher coroutine** sends, on the other connection, whatever the awaits asked
  for since its last round trip in one pipeline: the look-and-register script for each
  new await (``wait_result.lua``, which also returns a result that is already there),
  one control token if the listener must learn new keys, deletes of results read
  destructively. 1,000 awaits started together cost a handful of round trips.

Why not pub/sub: ``finish.lua`` would have to publish, a change on every task's hot
path and, on Redis Cluster, a broadcast to every node; the lists are already there,
they keep a wake-up that lands between two BLPOPs (the token waits in its list), and
only tasks somebody waits for pay for them (one LPUSH in ``finish``).

Per await, when the result lands after the await began: one script call to look and
register, a share of the listener's BLPOPs (one per wake-up), one script call to read
(and take) it; the control token is one LPUSH per batch of
new awaits. No command repeats while nothing happens, except that every
:data:`REFRESH` seconds a long await registers again (its registration expires so a
crashed reader leaves nothing behind).

Reads: a destructive await takes the result in its script call (``pop=1``), as the
synchronous read does. An await cancelled while that call is on the wire does not get
the value it took: the flusher puts it back (``SET NX``, with the queue's result TTL),
so nothing is lost.

Cancelling an await removes it from the listener's set (the listener drops the key at
its next wake-up, at most :data:`BLOCK` seconds later) and its pending script call is
not sent, or its reply ignored; no connection is held by an awaiting coroutine.
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
REFRESH = 20.0
#: Longest BLPOP of the listener, seconds (the async connections' socket timeout is above).
BLOCK = 2.0
#: Connections of one awaiter: the listener's and the flusher's.
POOL_SIZE = 2
_CONTROL_TTL_MS = 60_000

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
    ``control`` a key of this awaiter's own in the queue's hash tag."""

    def __init__(
        self,
        client: Any,
        script: str,
        sha: str,
        control: str,
        translate: Callable[[BaseException], BaseException],
    ) -> None:
        self.client = client
        self._script, self._sha, self._control = script, sha, control
        self._translate = translate
        self._looks: list[_Look] = []
        self._restores: list[_Look] = []  # taken for an await cancelled meanwhile
        self._subs: dict[str, set[asyncio.Future[None]]] = {}
        self._listening: frozenset[str] | None = None  # the keys of the BLPOP on the wire
        self._poked = False  # a control token is on its way to the listener
        self._listener: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        #: Round trips and commands sent so far (tests and the benchmark read them).
        self.round_trips = 0

    async def wait(
        self, keys: Keys, timeout: float, pop: bool, keep: float | None = None
    ) -> bytes | None:
        """The result at ``keys[0]`` (taken when ``pop``), waiting up to ``timeout``
        seconds (``math.inf``: for ever) for it to be written; None if it was not.
        ``keep``: the result TTL a value taken for a cancelled await is put back with."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        notify = keys[2]
        while True:
            left = deadline - loop.time()
            span = max(0.0, min(left, REFRESH))
            woken: asyncio.Future[None] = loop.create_future()
            if span > 0:
                self._subscribe(notify, woken)
            try:
                value = await self._look(keys, span, pop, keep)
                if value is not None or span <= 0:
                    return value
                await asyncio.wait((woken,), timeout=span)
            finally:
                self._unsubscribe(notify, woken)

    async def aclose(self) -> None:
        """Stop the listener and flusher and close the connections."""
        for job in (self._listener, self._flusher):
            if job is not None:
                job.cancel()
        for job in (self._listener, self._flusher):
            if job is not None:
                await asyncio.gather(job, return_exceptions=True)
        await self.client.aclose()

    # --- registering ---------------------------------------------------------------------
    def _subscribe(self, notify: str, woken: asyncio.Future[None]) -> None:
        self._subs.setdefault(notify, set()).add(woken)
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    def _unsubscribe(self, notify: str, woken: asyncio.Future[None]) -> None:
        waiting = self._subs.get(notify)
        if waiting is not None:
            waiting.discard(woken)
            if not waiting:
                del self._subs[notify]

    def _look(
        self, keys: Keys, span: float, pop: bool, keep: float | None
    ) -> asyncio.Future[bytes | None]:
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        ttl_ms = math.ceil((span + 5) * 1000) if span > 0 else 0
        self._looks.append(_Look(keys, ttl_ms, pop, keep, fut))
        self._kick()
        return fut

    def _kick(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def _needs_poke(self) -> bool:
        listening = self._listening
        if self._poked or listening is None:
            return False
        return any(key not in listening for key in self._subs)

    # --- the flusher -----------------------------------------------------------------------
    async def _flush(self) -> None:
        try:
            while self._looks or self._restores or self._needs_poke():
                looks = [op for op in self._looks if not op.fut.done()]
                restores, self._looks, self._restores = self._restores, [], []
                await self._send(looks, restores)
        finally:
            self._flusher = None

    async def _send(self, looks: Sequence[_Look], restores: Sequence[_Look]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for op in looks:
            pipe.evalsha(self._sha, 3, *op.keys, "1" if op.pop else "0", str(op.ttl_ms))
        for op in restores:  # (their future holds the value taken)
            px = math.ceil(op.keep * 1000) if op.keep else None
            pipe.set(op.keys[0], op.fut.result(), nx=True, px=px)
        poke = self._needs_poke()
        if poke:
            pipe.lpush(self._control, 1)
            pipe.pexpire(self._control, _CONTROL_TTL_MS)
            self._poked = True
        self.round_trips += 1
        try:
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            self._poked = False if poke else self._poked
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
                self._listening = frozenset(self._subs)
                try:
                    reply = await self.client.blpop([self._control, *self._listening], BLOCK)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Wake every await: each looks again and meets the error itself.
                    self._wake_all()
                    await asyncio.sleep(0.25)
                    continue
                finally:
                    self._listening = None
                if reply is None:
                    continue
                key = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
                if key == self._control:
                    self._poked = False
                    continue
                for woken in self._subs.get(key, ()):
                    if not woken.done():
                        woken.set_result(None)
        finally:
            self._listener = None

    def _wake_all(self) -> None:
        for waiting in self._subs.values():
            for woken in waiting:
                if not woken.done():
                    woken.set_result(None)


def _done(value: bytes) -> asyncio.Future[bytes | None]:
    fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut
