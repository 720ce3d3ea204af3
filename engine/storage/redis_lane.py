"""The script calls' own connections: EVALSHA without redis-py's command layer.

The scripts are the per-task path (an enqueue, a claim round, a finish batch). Measured
on redis-py 8.1 (``benchmarks/hotpath.py``), most of a call's client time went around
the command rather than into it: taking a connection from the pool and giving it back
(observability hooks looked up on every call, the pool's lock), the retry wrapper and
the reply's post-processing, about 40 µs of a single enqueue's ~120 µs of client CPU
on the 2-core test machine. A :class:`Lane` keeps a small stack of idle connections
made with the pool's own settings (so auth, TLS, ``client_name``, Sentinel's master
lookup and health checks are the same), packs the command and reads the reply with the
connection's own methods, and raises what redis-py raises.

What it keeps of the pool's care: a connection the server closed while it sat idle
(``timeout``, a restart, a failover) is noticed before use and reconnected, as the pool
does; a connection that failed during a call is dropped, never reused; a forked child
never uses its parent's sockets. Retries are off for these clients anyway (see
``RedisStorage._make_client``): the callers decide what is safe to send again.

A call whose reply is due within microseconds (a producer's single enqueue) may
:class:`Spin`: poll its socket for the reply a little while before blocking on it.
"""

from __future__ import annotations

import os
import select
import time
from typing import Any

import redis

_pack: Any
try:  # the packer redis-py uses when hiredis is installed (a core dependency): same bytes
    from hiredis import pack_command as _pack
except ImportError:  # pragma: no cover - redis-py's own packer
    _pack = None

#: Idle connections kept per lane; more, made while calls overlapped, are closed.
IDLE_MAX = 16


#: How long a single enqueue polls for its reply by default, in seconds (see Spin).
REPLY_SPIN = 0.0001
#: Replies in a row that missed a spin's budget, after which spinning rests ...
SPIN_MISSES = 8
#: ... for this many calls (then it tries again).
SPIN_REST = 1000


class Spin:
    """Poll a connection's socket for a reply, up to ``budget`` seconds, before the read
    blocks on it.

    Why: where an idle CPU halts until woken (virtual machines without halt polling,
    such as the 2-core test machine), a thread that sleeps on a reply due in tens of
    µs pays for the CPU's sleep and wake-up. Measured there, a PING round trip on a
    quiet machine took 78 µs blocking and 27 µs polling, and the blocking one used
    more CPU (32 µs against 27). A reply that misses the budget is then waited for as
    before (blocking, with the connection's timeout). When replies keep missing it
    (a Redis across a network), spinning rests for a while: it costs the budget for
    nothing there. The counters are a heuristic: threads may race on them."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.misses = 0  # in a row
        self.rest = 0  # calls left that do not spin

    def wait(self, conn: Any) -> None:
        """Return once the reply is readable on ``conn`` or the budget is spent."""
        rest = self.rest
        if rest > 0:  # (read once: racing threads at worst spin once more)
            self.rest = rest - 1
            return
        sock = getattr(conn, "_sock", None)  # redis-py's socket (None: disconnected)
        if sock is None:
            return
        polled = getattr(conn, "_spin_poll", None)
        if polled is None or polled[0] is not sock:  # a poll object per socket, kept
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            polled = (sock, poller.poll)
            try:
                conn._spin_poll = polled
            except AttributeError:  # a connection class that takes no new attribute
                pass
        poll, clock = polled[1], time.perf_counter
        end = clock() + self.budget
        while not poll(0):
            if clock() >= end:
                self.misses += 1
                if self.misses >= SPIN_MISSES:
                    self.misses, self.rest = 0, SPIN_REST
                return
        self.misses = 0


class Lane:
    def __init__(self, pool: Any) -> None:
        self._cls = pool.connection_class
        self._kwargs = pool.connection_kwargs
        self._idle: list[Any] = []  # a stack: append and pop are atomic under the GIL
        self._pid = os.getpid()

    def call(self, *args: Any) -> Any:
        """Send one command and return its reply (an error reply raises)."""
        conn = self._take()
        try:
            conn.send_packed_command(
                [_pack(args)] if _pack is not None else conn.pack_command(*args)
            )
            reply = conn.read_response()
        except redis.ResponseError:
            self._put(conn)  # an error reply, read whole: the connection is fine
            raise
        except BaseException:
            conn.disconnect()
            raise
        self._put(conn)
        return reply

    def call_packed(self, data: bytes, replies: int, spin: Spin | None = None) -> list[Any]:
        """Send commands packed by :func:`pack_all` in one write and return their
        ``replies`` replies, in order; an error reply is returned as its exception.
        With ``spin``, the reply is polled for a while before the read blocks."""
        conn = self._take()
        out = exchange(conn, data, replies, spin)  # a failed connection is dropped there
        self._put(conn)
        return out

    def _take(self) -> Any:
        if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours
            self._idle, self._pid = [], os.getpid()
        try:
            conn = self._idle.pop()
        except IndexError:
            return self._cls(**self._kwargs)
        try:
            if conn.can_read():  # closed by the server, or a reply nobody asked for
                conn.disconnect()
        except (redis.ConnectionError, OSError):
            conn.disconnect()
        return conn

    def _put(self, conn: Any) -> None:
        if len(self._idle) < IDLE_MAX:
            self._idle.append(conn)
        else:
            conn.disconnect()

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.disconnect()


def pack_all(commands: list[tuple[Any, ...]]) -> bytes:
    """Commands in the wire form, one after the other."""
    if _pack is not None:
        return b"".join([_pack(c) for c in commands])
    packer: Any = redis.Connection  # pragma: no cover - redis-py's own packer
    return b"".join(packer().pack_commands(commands))  # pragma: no cover


def exchange(conn: Any, data: bytes, replies: int, spin: Spin | None = None) -> list[Any]:
    """Send packed commands on ``conn`` in one write and read their ``replies``
    replies, in order; an error reply comes back as its exception, after the rest is
    read (so the connection stays in step). A connection error or a timeout is raised
    as redis-py raises it, the connection disconnected (it is out of step).

    The first reply is read by the connection (it waits for the server, with the
    connection's timeout and error handling); the others are in its buffer by then,
    almost always, and are taken straight from its parser (the connection's
    ``read_response`` wrapper costs about a µs a reply)."""
    try:
        out = _exchange(conn, data, replies, spin)
    except BaseException:
        conn.disconnect()
        raise
    if any(isinstance(r, redis.exceptions.ReadOnlyError) for r in out):
        # A master demoted by a failover: a Sentinel connection asks for the new one
        # when it connects again (redis-py's own read_response does the same).
        conn.disconnect()
    return out


def _exchange(conn: Any, data: bytes, replies: int, spin: Spin | None) -> list[Any]:
    conn.send_packed_command([data])
    if spin is not None:
        spin.wait(conn)
    out: list[Any] = []
    try:
        out.append(conn.read_response())
    except redis.ResponseError as exc:
        out.append(exc)
    parser = conn._parser
    try:
        for _ in range(replies - 1):
            out.append(parser.read_response())  # an error reply is returned, not raised
    except TimeoutError as exc:  # (socket.timeout) the rest did not come in time
        raise redis.TimeoutError(f"Timeout reading from {conn.host}:{conn.port}") from exc
    except OSError as exc:
        raise redis.ConnectionError(f"Error while reading from the server: {exc}") from exc
    return out
