"""huey's queue, store and consumer options (issue 10, items 1, 1b, 2, 14, 15, 16, 17):
each accepted with its effect where it has one here, the rest refused in one line.

tests/parity/test_huey_signatures.py checks that every option of huey's signatures is
accepted; these tests check the effects and the refusals one by one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import engine
from engine import ConfigurationError, EngineError, crontab
from engine.consumer import Consumer, ConsumerSettings
from engine.supervisor import Supervisor


def _one_line(exc: pytest.ExceptionInfo[ConfigurationError], *words: str) -> None:
    text = str(exc.value)
    assert "\n" not in text and all(w in text for w in words), text


@pytest.fixture
def redis_queue(redis_url: str) -> Iterator[Any]:
    made: list[Any] = []

    def make(**options: Any) -> Any:
        q = engine.RedisHuey("p10-options", **options)
        made.append(q)
        return q

    yield make
    for q in made:
        q.storage.close()


# --- Redis store options ---


def test_client_name_names_the_connections(redis_queue: Any, redis_url: str) -> None:
    q = redis_queue(url=redis_url, client_name="p10-named")
    assert len(q) == 0
    assert q.storage.client.client_getname() in ("p10-named", b"p10-named")


def test_client_name_names_the_connections_of_a_given_pool(
    redis_queue: Any, redis_url: str
) -> None:
    q = redis_queue(connection_pool=redis.ConnectionPool.from_url(redis_url), client_name="p10-p")
    assert q.storage.client.client_getname() in ("p10-p", b"p10-p")


def test_huey_redis_options_are_accepted_as_no_ops(redis_queue: Any, redis_url: str) -> None:
    q = redis_queue(
        url=redis_url,
        blocking=False,
        read_timeout=5,
        notify_result=True,
        notify_result_ttl=10,
        clean_name=False,
    )

    @q.task()
    def add(a: int, b: int) -> int:
        return a + b

    add(1, 2)
    assert len(q) == 1
    q.flush()


def test_redis_connection_keywords_go_to_redis_py(redis_queue: Any, redis_url: str) -> None:
    q = redis_queue(url=redis_url, socket_timeout=3, health_check_interval=30)
    assert len(q) == 0
    assert q.storage.client.connection_pool.connection_kwargs["socket_timeout"] == 3


def test_unset_host_port_db_mean_the_defaults() -> None:
    q = engine.RedisHuey("p10-options", host=None, port=None, db=None)
    try:
        assert q.storage.client.connection_pool.connection_kwargs.get("host") == "localhost"
    finally:
        q.storage.close()


@pytest.mark.parametrize("option", ["socket_timout", "blocking_timeout", "bogus"])
def test_a_misspelt_redis_keyword_is_refused_in_one_line(redis_url: str, option: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        engine.RedisHuey("p10-options", url=redis_url, **{option: 1})
    _one_line(info, option, "redis-py")


def test_an_over_determined_connection_is_refused(redis_url: str) -> None:
    pool = redis.ConnectionPool.from_url(redis_url)
    with pytest.raises(ConfigurationError) as info:
        engine.RedisHuey("p10-options", url=redis_url, connection_pool=pool)
    _one_line(info, "url", "connection_pool")
    with pytest.raises(ConfigurationError) as info:
        engine.RedisHuey("p10-options", connection_pool=pool, host="localhost")
    _one_line(info, "connection_pool", "host")


def test_expire_time_is_the_result_ttl(redis_url: str) -> None:
    q = engine.RedisExpireHuey("p10-options", url=redis_url, expire_time=30)
    try:
        assert q.result_ttl == 30
    finally:
        q.storage.close()


# --- SQLite store options ---


def test_sqlite_create_tables_false_leaves_the_schema_to_you(tmp_path: Path) -> None:
    fresh = engine.SqliteHuey("p10", filename=str(tmp_path / "fresh.db"), create_tables=False)
    with pytest.raises(EngineError, match="no such table"):
        len(fresh)
    path = str(tmp_path / "made.db")
    assert len(engine.SqliteHuey("p10", filename=path)) == 0  # creates the tables
    assert len(engine.SqliteHuey("p10", filename=path, create_tables=False)) == 0


@pytest.mark.parametrize(("fsync", "level"), [(True, 2), (False, 1), (None, 1)])
def test_sqlite_fsync(tmp_path: Path, fsync: bool | None, level: int) -> None:
    q = engine.SqliteHuey("p10", filename=str(tmp_path / "f.db"), fsync=fsync)
    with q.storage._locked() as conn:  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == level


def test_sqlite_strict_fifo_is_accepted(tmp_path: Path) -> None:
    q = engine.SqliteHuey("p10", filename=str(tmp_path / "s.db"), strict_fifo=True)
    assert len(q) == 0


def test_sqlite_refuses_an_unknown_option_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        engine.SqliteHuey("p10", filename=str(tmp_path / "u.db"), detect_types=1)
    _one_line(info, "detect_types", "SqliteStorage")


def test_sqlite_default_file_is_hueyctl_db_not_hueys() -> None:
    # huey's huey.db has tables named task and kv with another schema.
    q = engine.SqliteHuey("p10")
    assert Path(q.storage.path).name == "hueyctl.db"  # type: ignore[attr-defined]
    assert not Path(q.storage.path).exists()  # type: ignore[attr-defined]  # opened lazily
    assert sqlite3.sqlite_version  # (the driver is there)


# --- queue options we do not offer ---


@pytest.mark.parametrize("option", ["compression", "use_zlib", "store_intermediate_errors"])
def test_options_not_offered_refuse_true_and_accept_false(option: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        engine.MemoryHuey("p10", **{option: True})
    _one_line(info, option, "drop it")
    engine.MemoryHuey("p10", **{option: False})


# --- consumer options ---


def test_consumer_defaults_live_in_consumer_settings() -> None:
    consumer = engine.MemoryHuey("p10").create_consumer(backoff=2.0, max_delay=5.0)
    assert consumer.settings.backoff == 2.0 and consumer.settings.max_delay == 5.0
    assert consumer.settings.initial_delay == ConsumerSettings().initial_delay


@pytest.mark.parametrize(
    ("option", "value"),
    [("graceful_signal", "KILL"), ("worker_type", "greenlet"), ("bogus_option", 1)],
)
def test_consumer_refuses_in_one_line(option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        Consumer(engine.MemoryHuey("p10"), **{option: value})
    _one_line(info, option)


def test_a_process_consumer_is_a_supervisor() -> None:
    h = engine.MemoryHuey("p10")
    runner = h.create_consumer(workers=3, worker_type="process", health_check_interval=2)
    assert isinstance(runner, Supervisor)
    assert runner.workers == 3 and runner.check_interval == 2
    with pytest.raises(ConfigurationError) as info:
        Consumer(h, worker_type="process")
    _one_line(info, "create_consumer(worker_type='process')")
    with pytest.raises(ConfigurationError):
        h.create_consumer(worker_type="process", graceful_signal="HUP")


def test_a_process_consumer_flushes_locks_once_before_it_starts() -> None:
    h = engine.MemoryHuey("p10")
    with h.lock_task("held"):
        h.create_consumer(worker_type="process", flush_locks=True)
        assert not h.is_locked("held")


# --- logging ---


def test_engine_loggers_are_under_huey() -> None:
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger = logging.getLogger("huey")
    logger.addHandler(handler)
    try:
        h = engine.MemoryHuey("p10")

        @h.on_startup()
        def broken() -> None:
            raise RuntimeError("startup hook")

        h.run_hooks("startup")
    finally:
        logger.removeHandler(handler)
    assert [r.name for r in seen] == ["huey.api"]


# --- BlackHoleHuey ---


def test_black_hole_huey_locks_revocations_and_consumer() -> None:
    q = engine.BlackHoleHuey("p10")

    @q.periodic_task(crontab(), retry_backoff=2)
    def tick() -> None: ...

    with q.lock_task("x"), q.lock_task("x"):  # taking a lock always succeeds
        pass
    q.revoke_all(tick)
    assert not q.is_revoked(tick)
    consumer = q.create_consumer()
    assert consumer.step(1_000_000.0) >= 0 and consumer.busy == 0
    assert repr(q) == "<BlackHoleHuey 'p10' on blackhole://>"


# --- signatures (item 16) ---


def test_revoke_takes_huey_positional_arguments() -> None:
    q = engine.MemoryHuey("p10")

    @q.task()
    def job() -> None: ...

    res = job()
    q.revoke(res, None, False)
    assert q.is_revoked(res)


def test_unregister_on_shutdown_by_name_keyword() -> None:
    q = engine.MemoryHuey("p10")

    @q.on_shutdown()
    def bye() -> None: ...

    assert q.unregister_on_shutdown(name="bye") is True
    with pytest.raises(ConfigurationError):
        q.unregister_on_shutdown()


def test_periodic_task_retry_backoff_and_unknown_option() -> None:
    q = engine.MemoryHuey("p10")
    wrapper = q.periodic_task(crontab(), retries=2, retry_delay=1, retry_backoff=2.0)(lambda: 1)
    assert wrapper.s().retry_backoff == 2.0
    with pytest.raises(ConfigurationError) as info:
        q.periodic_task(crontab(), bogus=1)
    _one_line(info, "bogus")
