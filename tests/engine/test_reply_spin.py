"""A single enqueue polls for its reply a little while before it sleeps on it
(``reply_spin``, engine/storage/redis_lane.Spin): the poll ends as soon as the reply is
readable, a reply that misses the budget is read as before, and replies that keep
missing it make spinning rest."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest

import engine
from engine import ConfigurationError
from engine.storage.redis_lane import SPIN_MISSES, SPIN_REST, Spin


class _Conn:
    """What Spin reads of a redis-py connection: its socket (None when disconnected)."""

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_a_readable_reply_ends_the_spin_at_once(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    spin = Spin(5.0)  # a budget no test waits out: only a readable reply ends this poll
    b.sendall(b"+OK\r\n")
    spin.wait(_Conn(a))
    assert spin.misses == 0 and a.recv(16) == b"+OK\r\n"


def test_missed_replies_make_spinning_rest(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    spin, conn = Spin(0.001), _Conn(a)
    t0 = time.perf_counter()
    spin.wait(conn)  # nothing comes: the budget is spent, then the read would block
    assert time.perf_counter() - t0 >= 0.001 and spin.misses == 1
    for _ in range(SPIN_MISSES - 1):
        spin.wait(conn)
    assert spin.misses == 0 and spin.rest == SPIN_REST
    t0 = time.perf_counter()
    spin.wait(conn)  # resting: returns without polling
    assert spin.rest == SPIN_REST - 1 and time.perf_counter() - t0 < 0.001
    spin.rest = 0
    b.sendall(b"+OK\r\n")
    spin.wait(conn)
    assert spin.misses == 0


def test_a_new_socket_is_polled_not_the_old_one(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    spin, conn = Spin(5.0), _Conn(a)
    b.sendall(b"+OK\r\n")
    spin.wait(conn)
    a.recv(16)
    c, d = socket.socketpair()  # the connection reconnected: another socket
    try:
        conn._sock = c
        d.sendall(b"+OK\r\n")
        spin.wait(conn)  # polls c (readable), not a (not readable): no 5 s wait
        assert spin.misses == 0
    finally:
        c.close()
        d.close()
    spin.wait(_Conn(None))  # disconnected: nothing to poll


def test_enqueues_spin_or_not_as_configured(redis_url: str) -> None:
    made = []
    try:
        for spin in (0.001, 0):
            q = engine.RedisHuey("reply-spin", url=redis_url, reply_spin=spin)
            made.append(q)
            q.flush()

            @q.task()
            def noop(i: int) -> int:
                return i

            for i in range(20):
                noop(i)
            assert q.pending_count() == 20
            assert (cast(Any, q.storage)._spin is None) == (spin == 0)
    finally:
        for q in made:
            q.flush()
            q.storage.close()


class _Counting(Spin):
    """A Spin that counts its waits (the enqueue path's calls of it)."""

    def __init__(self, budget: float) -> None:
        super().__init__(budget)
        self.waits = 0

    def wait(self, conn: Any) -> None:
        self.waits += 1
        super().wait(conn)


def test_a_single_enqueue_spins_and_survives_a_killed_connection(redis_url: str) -> None:
    q = engine.RedisHuey("reply-spin", url=redis_url, client_name="reply-spin-test")
    try:
        q.flush()
        spin = cast(Any, q.storage)._spin = _Counting(0.01)

        @q.task()
        def noop(i: int) -> int:
            return i

        noop(1)
        noop.map([(2,), (3,)])  # a bulk enqueue does not spin
        assert spin.waits == 1
        admin = q.storage.client  # the server closes the lane's idle connection ...
        for c in admin.client_list():
            if c.get("name") == "reply-spin-test" and int(c["id"]) != admin.client_id():
                admin.client_kill_filter(_id=c["id"])
        noop(4)  # ... the enqueue reconnects, and spins on the new socket
        assert spin.waits == 2 and q.pending_count() == 4
    finally:
        q.flush()
        q.storage.close()


@pytest.mark.parametrize("bad", [-0.001, 0.5, True, "0.001", None, float("nan")])
def test_reply_spin_is_checked(redis_url: str, bad: Any) -> None:
    with pytest.raises(ConfigurationError) as exc:
        engine.RedisHuey("reply-spin", url=redis_url, reply_spin=bad)
    assert "\n" not in str(exc.value) and "reply_spin" in str(exc.value)
