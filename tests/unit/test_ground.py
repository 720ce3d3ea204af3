"""The engine's ground floor: store URLs and their masking, key formats, task ids,
and the consumer's settings (one home for the defaults ``hueyctl worker`` shows)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from engine import ids, keys, loader
from engine.consumer import ConsumerSettings
from engine.ids import new_task_id, new_task_ids
from engine.storage import base
from engine.urls import mask_url, sqlite_path, store_kind


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://user:secret@host:6379/0", "redis://user:***@host:6379/0"),
        ("redis://:secret@host", "redis://:***@host"),
        ("redis://host/0?password=secret&db=1", "redis://host/0?password=***&db=1"),
        (
            "redis+sentinel://h:26379/m?sentinel_password=s",
            "redis+sentinel://h:26379/m?sentinel_password=***",
        ),
        ("rediss://u:p@h?PASSWORD=x", "rediss://u:***@h?PASSWORD=***"),
        (
            "rediss+sentinel://u:p@h/m?ssl_password=k&sentinel_ssl_password=k2&sentinel_username=s",
            "rediss+sentinel://u:***@h/m?ssl_password=***&sentinel_ssl_password=***"
            "&sentinel_username=s",
        ),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("sqlite:///jobs.db", "sqlite:///jobs.db"),
        ("memory://", "memory://"),
    ],
)
def test_mask_url_hides_passwords_in_user_info_and_query(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert loader.mask_url is mask_url  # the old import path still works


def test_store_kinds_and_sqlite_paths() -> None:
    assert [store_kind(u) for u in ("redis://h", "UNIX:///s", "redis+cluster://h", "x://")] == [
        "redis",
        "redis",
        "redis",
        None,
    ]
    assert (store_kind("sqlite:///a.db"), store_kind("memory://")) == ("sqlite", "memory")
    assert (sqlite_path("sqlite:///a.db"), sqlite_path("sqlite:////abs/a.db")) == (
        "a.db",
        "/abs/a.db",
    )
    assert sqlite_path("sqlite://a.db") == ""


def test_key_formats() -> None:
    assert keys.result_key("t1") == "result:t1"
    assert keys.lock_key("l") == "lock:l"
    assert keys.ratelimit_key("api", 7).startswith(keys.ratelimit_prefix("api"))
    assert (keys.chord_counter("c"), keys.chord_member("c", 2), keys.chord_fired("c")) == (
        "chord:c",
        "chord:c:2",
        "chord:c:fired",
    )
    assert keys.slot_key("app.tick", 60) == "slot:app.tick:60"


def test_task_ids_are_time_ordered_and_still_importable_from_storage() -> None:
    ids = [new_task_id() for _ in range(1000)]
    assert ids == sorted(ids)
    assert base.new_task_id is new_task_id


def test_task_ids_are_uuid7_with_the_millisecond_and_counter() -> None:
    at = 4102444800.123  # 2100: later than any id made so far in this process
    ids = [new_task_id(at) for _ in range(600)]  # past one read of random bytes
    for i, text in enumerate(ids):
        u = uuid.UUID(text)
        assert str(u) == text and u.version == 7 and u.variant == uuid.RFC_4122
        assert u.int >> 80 == int(at * 1000)
        assert (u.int >> 64) & 0xFFF == i  # the counter orders ids of one millisecond
    assert len({uuid.UUID(t).int & ((1 << 62) - 1) for t in ids}) == len(ids)


def test_ids_made_together_are_the_ids_made_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_id_last", [0, 0])  # this process's order, for this test only
    at = 4102444800.5
    first = new_task_id(at)
    batch = new_task_ids(5000, at)  # runs past the 12-bit counter: borrows a millisecond
    after = new_task_id(at)
    made = [first, *batch, after]
    assert made == sorted(made) and len(set(made)) == len(made)
    fields = [uuid.UUID(t) for t in made]
    assert all(
        str(u) == t and u.version == 7 and u.variant == uuid.RFC_4122
        for u, t in zip(fields, made, strict=True)
    )
    place = [(u.int >> 80, (u.int >> 64) & 0xFFF) for u in fields]  # (ms, counter)
    base_ms = int(at * 1000)
    assert place[:3] == [(base_ms, 0), (base_ms, 1), (base_ms, 2)]
    assert place[4095] == (base_ms, 4095) and place[4096] == (base_ms + 1, 0)
    assert place[-1] == (base_ms + 1, 5001 - 4096)
    assert len({u.int & ((1 << 62) - 1) for u in fields}) == len(fields)
    assert new_task_ids(0) == []


@pytest.mark.parametrize("last", [[4102444800500, 0xFFF], [4102444800505, 7]])
def test_a_batch_runs_on_from_where_the_last_id_left_off(
    monkeypatch: pytest.MonkeyPatch, last: list[int]
) -> None:
    # The counter at its end (the batch borrows the next millisecond), and the clock
    # behind the last id made (the batch carries on from that id, not from the clock).
    at = 4102444800.500
    monkeypatch.setattr(ids, "_id_last", list(last))
    batch = new_task_ids(3, at)
    monkeypatch.setattr(ids, "_id_last", list(last))
    assert batch[0][:18] == new_task_id(at)[:18]  # the same ms and counter; random bits differ
    assert batch == sorted(batch)
    ms, counter = last[0], last[1] + 1  # the clock (…500 ms) is not past the last id
    if counter > 0xFFF:
        ms, counter = ms + 1, 0
    u = uuid.UUID(batch[0])
    assert (u.int >> 80, (u.int >> 64) & 0xFFF) == (ms, counter)


def test_threads_minting_one_by_one_and_in_batches_never_collide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ids, "_id_last", [0, 0])
    made: list[list[str]] = [[] for _ in range(4)]

    def mint(k: int) -> None:
        for i in range(300):
            if k % 2:
                made[k].append(new_task_id())
            else:
                made[k] += new_task_ids(1 + i % 50)

    threads = [threading.Thread(target=mint, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for m in made for i in m]
    assert len(set(every)) == len(every)
    assert all(m == sorted(m) for m in made)  # each thread's ids in the order it made them
    places = {(uuid.UUID(i).int >> 64) & ((1 << 60) - 1) for i in every}  # ms, version, counter
    assert len(places) == len(every)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_repeats_its_parents_random_bits() -> None:
    new_task_id()  # the parent has random bytes read ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.write(write, ",".join(new_task_id() for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode().split(",")
    os.close(read)
    mine = [new_task_id() for _ in range(8)]
    rand = {uuid.UUID(t).int & ((1 << 62) - 1) for t in child + mine}
    assert len(rand) == 16


def test_consumer_settings_validate() -> None:
    assert ConsumerSettings().lease > ConsumerSettings().heartbeat_interval
    with pytest.raises(ValueError, match="heartbeat"):
        ConsumerSettings(lease=2.0, heartbeat_interval=2.0)
    with pytest.raises(ValueError, match="workers"):
        ConsumerSettings(workers=0)
    with pytest.raises(TypeError):
        ConsumerSettings(no_such_option=1)  # type: ignore[call-arg]
