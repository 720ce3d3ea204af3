"""Today's envelope/result encoding against orjson and msgspec, in µs per operation.

    .venv/bin/pip install orjson msgspec      # into the venv only: not dependencies
    PYTHONPATH=. .venv/bin/python -m benchmarks.codec_speed [--repeats 5]

What the hot path does per task, with the JSON layer of each variant swapped in:

* producer: ``Envelope.encode(noop.s(i, "x"))`` (record, typed codec, canonical JSON);
* consumer: ``Envelope.decode`` of that message, then ``Huey.encode_value(True)`` (the
  result record); a blocking ``get`` decodes it (``decode_value``);
* the same with typed arguments (a tuple, a datetime, a Decimal, a UUID, bytes, a set),
  where the codec's tree walk (Python either way: orjson and msgspec write tuples, sets,
  datetimes and UUIDs natively, untagged, so the walk stays) does more of the work.

Variants: ``pure`` (json.JSONEncoder with sort_keys / json.loads: today), ``orjson``
(``orjson.dumps(..., OPT_SORT_KEYS)`` / ``orjson.loads``), ``msgspec``
(``msgspec.json.Encoder(order="sorted")`` / ``msgspec.json.Decoder``). Each figure is the
best of ``--repeats`` timeit runs (the machine is shared: the minimum is the least
disturbed). It also reports inputs where a variant's bytes differ from today's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import timeit
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import engine.core
import engine.envelope
from engine import MemoryHuey
from engine.codec import canonical_json


def variants() -> dict[str, tuple[Callable[[Any], bytes], Callable[[Any], Any]]]:
    out: dict[str, tuple[Callable[[Any], bytes], Callable[[Any], Any]]] = {
        "pure": (canonical_json, json.loads)
    }
    try:
        import orjson

        def oj_dumps(obj: Any) -> bytes:
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)

        out["orjson"] = (oj_dumps, orjson.loads)
    except ImportError:
        pass
    try:
        import msgspec

        enc = msgspec.json.Encoder(order="sorted")
        out["msgspec"] = (enc.encode, msgspec.json.Decoder().decode)
    except ImportError:
        pass
    return out


@contextlib.contextmanager
def swapped(dumps: Callable[[Any], bytes], loads: Callable[[Any], Any]) -> Iterator[None]:
    """The engine's JSON layer replaced by (dumps, loads) for the duration."""
    saved = (engine.envelope.canonical_json, engine.core.canonical_json)
    saved_loads = (engine.envelope.json.loads, engine.core.json.loads)
    engine.envelope.canonical_json = dumps  # type: ignore[assignment]
    engine.core.canonical_json = dumps  # type: ignore[assignment]
    engine.envelope.json.loads = loads  # type: ignore[assignment]  (one json module)
    try:
        yield
    finally:
        engine.envelope.canonical_json, engine.core.canonical_json = saved
        engine.envelope.json.loads = saved_loads[0]


TYPED = (
    (1, "a"),
    dt.datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=dt.UTC),
    Decimal("12.50"),
    uuid.UUID(int=12345),
    b"\x00\x01bytes",
    {3, 1, 2},
)


def operations(huey: Any, plain: Any, typed: Any) -> dict[str, Callable[[], Callable[[], Any]]]:
    """name -> a factory (run with the variant swapped in) of the callable to time."""
    env = huey.envelope

    def envelope_dict() -> dict[str, Any]:
        rec: dict[str, Any] = env.record(plain)
        rec["v"] = 1
        return rec

    def dumps_of(rec: dict[str, Any]) -> Callable[[], Any]:
        dumps = engine.envelope.canonical_json
        return lambda: dumps(rec)

    def loads_of(data: bytes) -> Callable[[], Any]:
        loads = engine.envelope.json.loads
        return lambda: loads(data)

    def decode_of(data: bytes, task_id: str) -> Callable[[], Any]:
        return lambda: env.decode(data, task_id)

    def result_decode_of(data: bytes) -> Callable[[], Any]:
        return lambda: huey.decode_value(data)

    return {
        "json dumps (envelope dict)": lambda: dumps_of(envelope_dict()),
        "json loads (envelope)": lambda: loads_of(env.encode(plain)),
        "envelope encode, noop(i, 'x')": lambda: lambda: env.encode(plain),
        "envelope decode, noop(i, 'x')": lambda: decode_of(env.encode(plain), plain.id),
        "result encode (True)": lambda: lambda: huey.encode_value(True),
        "result decode (True)": lambda: result_decode_of(huey.encode_value(True)),
        "envelope encode, typed args": lambda: lambda: env.encode(typed),
        "envelope decode, typed args": lambda: decode_of(env.encode(typed), typed.id),
        "result encode, typed list": lambda: lambda: huey.encode_value(list(TYPED)),
        "result decode, typed list": lambda: result_decode_of(huey.encode_value(list(TYPED))),
    }


def measure(repeats: int, number: int) -> dict[str, dict[str, float]]:
    """µs per op per variant: the variants take turns within each repeat (same load),
    and each figure is the best of its repeats."""
    huey = MemoryHuey("bench")

    @huey.task(name="noop")
    def noop(i: int, payload: str) -> bool:
        return True

    ops = operations(huey, noop.s(12345, "x"), noop.s(*TYPED))
    rows: dict[str, dict[str, float]] = {name: {} for name in variants()}
    for op, factory in ops.items():
        for _ in range(repeats):
            for name, (dumps, loads) in variants().items():
                with swapped(dumps, loads):
                    fn = factory()
                    took = timeit.timeit(fn, number=number) / number * 1e6
                rows[name][op] = min(took, rows[name].get(op, took))
    for row in rows.values():
        row["per task (consumer: decode + result encode)"] = (
            row["envelope decode, noop(i, 'x')"] + row["result encode (True)"]
        )
        row["per task (producer encode + consumer)"] = (
            row["envelope encode, noop(i, 'x')"]
            + row["per task (consumer: decode + result encode)"]
        )
    return rows


# Inputs the JSON layer can meet (codec output), where a fast library's bytes may differ.
EDGE_CASES: list[tuple[str, Any]] = [
    ("NaN", {"a": float("nan")}),
    ("Infinity", {"a": float("inf")}),
    ("1e16", {"a": 1e16}),
    ("1e-7", {"a": 1e-7}),
    ("0.1", {"a": 0.1}),
    ("2**64", {"a": 2**64}),
    ("-2**63-1", {"a": -(2**63) - 1}),
    ("lone surrogate", {"a": "\ud800"}),
    ("control char", {"a": "\x01\x7f"}),
    ("U+2028", {"a": "\u2028"}),
    ("non-BMP key order", {"\U0001f600": 1, "\uffff": 2}),
    ("nested sort", {"b": {"d": 1, "c": 2}, "a": [{"z": 1, "y": 2}]}),
]


def differences() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    base = variants()["pure"][0]
    for name, (dumps, _) in variants().items():
        if name == "pure":
            continue
        for label, value in EDGE_CASES:
            want = base(value)
            try:
                got = dumps(value)
            except Exception as exc:
                out.setdefault(name, []).append(f"{label}: raises {type(exc).__name__}")
                continue
            if got != want:
                out.setdefault(name, []).append(f"{label}: {got!r} vs {want!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.codec_speed", description=__doc__)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--number", type=int, default=2_000)
    args = p.parse_args(argv)
    rows = measure(args.repeats, args.number)
    names = list(rows)
    print("| operation | " + " | ".join(f"{n} µs" for n in names) + " | saving (best) |")
    print("|---|" + "---|" * (len(names) + 1))
    for op in rows["pure"]:
        base = rows["pure"][op]
        fastest = min(rows[n][op] for n in names)
        cells = " | ".join(f"{rows[n][op]:.2f}" for n in names)
        print(f"| {op} | {cells} | {base - fastest:.2f} µs ({1 - fastest / base:.0%}) |")
    print()
    for name, diffs in differences().items():
        print(f"{name}: bytes differ from today's on {len(diffs)} inputs:")
        for d in diffs:
            print(f"  - {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
