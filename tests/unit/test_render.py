"""``render.record``: dataclasses (nested, in lists, dicts and sets) as JSON-ready data,
what a listing drops left out, and ``stream_json`` writing the same rows as ``--json``
would: one object per line, or one array."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hueyctl import render


@dataclasses.dataclass
class Inner:
    at: float
    tags: frozenset[str]


@dataclasses.dataclass
class Row:
    id: str
    n: int
    inner: Inner
    args: tuple[object, ...]
    extra: dict[object, object]
    envelope: dict[str, object]


def row(i: int) -> Row:
    inner = Inner(1.5, frozenset({"a"}))
    return Row(f"id{i}", i, inner, (1, [inner], None), {1: (2, 3)}, {"big": list(range(5))})


def test_record_converts_nested_values_and_leaves_out_what_is_dropped() -> None:
    inner = {"at": 1.5, "tags": ["a"]}
    assert render.record(row(7), ("envelope",)) == {
        "id": "id7",
        "n": 7,
        "inner": inner,
        "args": [1, [inner], None],
        "extra": {"1": [2, 3]},
    }
    assert render.record(row(7))["envelope"] == {"big": [0, 1, 2, 3, 4]}
    assert render.record([True, "x", 2.0]) == [True, "x", 2.0]
    assert render.record(Row) is Row  # a dataclass type is not a record


@pytest.mark.parametrize("fmt", [render.JSONL, render.JSON])
def test_stream_json_writes_every_row(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert render.stream_json((row(i) for i in range(3)), fmt, ("envelope",)) == 3
    out = capsys.readouterr().out
    lines = out.splitlines()
    rows = [json.loads(line) for line in lines] if fmt == render.JSONL else json.loads(out)
    assert [r["n"] for r in rows] == [0, 1, 2] and all("envelope" not in r for r in rows)
    assert render.stream_json(iter(()), fmt) == 0
