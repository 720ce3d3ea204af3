"""The event stream and the per-minute counters on every store: a consumer's beat of
many events reads back whole and in order, pages by the opaque id, and counters add up.
On Redis the beat goes as several bounded script calls (RedisStorage.record_chunk)."""

from __future__ import annotations

import json
import time

from engine.storage.base import StatRow, Storage


def _events(n: int, start: int = 0) -> list[bytes]:
    return [json.dumps({"n": i}).encode() for i in range(start, start + n)]


def test_a_big_beat_reads_back_whole_and_in_order(storage: Storage) -> None:
    events = _events(600)  # more than one Redis script call's worth
    storage.record(events[:1], [])
    storage.record(events[1:], [])
    got = storage.read_events(None, 1000)
    assert [data for _, data in got] == events
    assert [data for _, data in storage.read_events(None, 3)] == events[-3:]
    after = got[99][0]
    assert [data for _, data in storage.read_events(after, 100)] == events[100:200]
    assert storage.read_events(got[-1][0], 100) == []


def test_the_stream_keeps_about_the_cap(storage: Storage) -> None:
    events = _events(900)
    storage.record(events, [], cap=100)
    kept = [data for _, data in storage.read_events(None, 1000)]
    assert 100 <= len(kept) <= 400  # "about": Redis trims whole stream nodes
    assert kept == events[-len(kept) :]


def test_counters_add_up_per_task_and_minute(storage: Storage) -> None:
    m = int(time.time() // 60) * 60 - 120
    storage.record(
        _events(300),
        [
            StatRow(m, "tasks.a", 3, 0, 1.5, 0.75),
            StatRow(m, "tasks.b", 2, 1, 0.25, 0.125),
            StatRow(m + 60, "tasks.a", 1, 0, 0.5, 0.5),
        ],
    )
    storage.record([], [StatRow(m, "tasks.a", 2, 2, 1.0, 0.5), StatRow(m, "tasks.b", 1, 0, 1, 1)])
    rows = sorted(storage.read_stats(m), key=lambda r: (r.minute, r.task))
    assert [(r.minute, r.task, r.count, r.failures) for r in rows] == [
        (m, "tasks.a", 5, 2),
        (m, "tasks.b", 3, 1),
        (m + 60, "tasks.a", 1, 0),
    ]
    assert [(r.total, r.max) for r in rows] == [(2.5, 0.75), (1.25, 1.0), (0.5, 0.5)]
