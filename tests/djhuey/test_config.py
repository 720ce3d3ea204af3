"""``settings.HUEY`` read as huey's djhuey reads it, into our queue classes."""

from __future__ import annotations

import huey
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError
from django.test import override_settings

from engine import MemoryHuey, RedisHuey, SqliteHuey
from engine.contrib.djhuey.config import (
    consumer_settings,
    huey_class_warning,
    huey_path,
    queue_class,
    queue_from_dict,
    queue_from_settings,
)
from engine.contrib.djhuey.management.commands.run_huey import consumer_options


@pytest.mark.parametrize(
    ("path", "ours"),
    [
        ("huey.RedisHuey", "engine.RedisHuey"),
        ("huey.api.SqliteHuey", "engine.SqliteHuey"),
        ("huey.PriorityRedisExpireHuey", "engine.PriorityRedisExpireHuey"),
        ("engine.RedisHuey", None),
        ("mysite.queues.MyHuey", None),
    ],
)
def test_huey_class_paths_map_to_ours(path: str, ours: str | None) -> None:
    assert huey_path(path) == ours


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("huey.contrib.sql_huey.SqlHuey", "has no counterpart in hueyctl"),
        ("huey.Nope", "is not a huey queue class"),
        ("os.path.join", "is not a queue class"),
        ("nowhere.Huey", "cannot import 'nowhere.Huey'"),
    ],
)
def test_a_class_path_that_is_no_queue_is_refused(path: str, said: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=said):
        queue_class(path)


def test_the_dict_is_read_as_huey_reads_it() -> None:
    q = queue_from_dict(
        {
            "huey_class": "huey.RedisHuey",
            "name": "shop",
            "results": False,
            "store_none": True,
            "utc": False,
            "blocking": True,
            "connection": {"host": "localhost", "port": 6379, "db": 8, "read_timeout": 1},
            "consumer": {"workers": 8},
        }
    )
    assert type(q) is RedisHuey and q.name == "shop"
    assert (q.results, q.store_none, q.utc) == (False, True, False)
    assert q.immediate  # DEBUG = True: immediate unless the dict says otherwise
    with override_settings(DEBUG=False):
        live = queue_from_dict({"connection": {"url": "redis://localhost:6379/8"}})
    assert not live.immediate and type(live) is RedisHuey
    assert live.storage.describe() == "redis://localhost:6379/8"
    assert live.name == ":memory:"  # no name: the default database's NAME, as huey


def test_a_wrong_option_is_one_line() -> None:
    with pytest.raises(ImproperlyConfigured, match="^settings.HUEY: unknown Redis queue option"):
        queue_from_dict({"connection": {"hots": "localhost"}})
    with pytest.raises(ImproperlyConfigured, match="^settings.HUEY: serializer= is not supported"):
        queue_from_dict({"huey_class": "engine.MemoryHuey", "serializer": object()})


def test_huey_may_be_a_queue_of_ours_but_not_of_hueys() -> None:
    mine = MemoryHuey("inst")
    with override_settings(HUEY=mine):
        assert queue_from_settings() is mine
    with override_settings(HUEY=huey.MemoryHuey("theirs")):
        with pytest.raises(ImproperlyConfigured, match="from engine import RedisHuey"):
            queue_from_settings()
    with override_settings(HUEY="redis://"):
        with pytest.raises(ImproperlyConfigured, match="use a dict or a queue"):
            queue_from_settings()


def test_without_a_setting_a_redis_queue_as_huey() -> None:
    with override_settings(HUEY=None):
        q = queue_from_settings()
    assert type(q) is RedisHuey and not q.immediate and q.name == ":memory:"


def test_the_system_check_names_our_class() -> None:
    with override_settings(HUEY={"huey_class": "huey.SqliteHuey"}):
        assert huey_class_warning() == (
            "HUEY['huey_class'] = 'huey.SqliteHuey' names huey's class: "
            "'engine.SqliteHuey' is used",
            "engine.SqliteHuey",
        )
        assert queue_class("huey.SqliteHuey") is SqliteHuey
    with override_settings(HUEY={"huey_class": "engine.SqliteHuey"}):
        assert huey_class_warning() is None


def test_command_line_options_win_over_the_consumer_setting() -> None:
    assert consumer_settings() == {"workers": 3}
    given = {"workers": None, "periodic": False, "extra_locks": "a, b", "verbosity": 1}
    assert consumer_options(given) == {"workers": 3, "periodic": False, "extra_locks": ("a", "b")}
    assert consumer_options({"workers": 5})["workers"] == 5
    with pytest.raises(CommandError, match="'greenlet' is not offered"):
        consumer_options({"worker_type": "greenlet"})
