"""engine.catalog: what a worker publishes about its tasks, and the signature check
``hueyctl enqueue`` makes with it (pure functions, no store)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from engine import catalog, crontab
from engine.task import TaskSpec


def add(a: int, b: int = 2, *rest: int, scale: float = 1.0, **extra: Any) -> float:
    return (a + b + sum(rest)) * scale


def only_pos(a: int, /, b: int) -> int:
    return a + b


def with_task(x: int, task: Any = None) -> int:
    return x


def every_minute() -> None:
    pass


def test_build_publishes_names_options_params_and_periodic() -> None:
    specs = [
        TaskSpec(add, "m.add", retries=3, retry_delay=5, priority=7, timeout=9),
        TaskSpec(with_task, "m.ctx", context=True),
        TaskSpec(every_minute, "m.tick", periodic=crontab(minute="*/5")),
        TaskSpec(every_minute, "m.custom", periodic=lambda when: True),
    ]
    book = catalog.build(specs)
    assert list(book["tasks"]) == ["m.add", "m.ctx", "m.custom", "m.tick"]
    rec = book["tasks"]["m.add"]
    assert rec["retries"] == 3 and rec["retry_delay"] == 5.0
    assert rec["priority"] == 7 and rec["timeout"] == 9.0
    assert "periodic" not in rec
    assert rec["params"] == [
        {"name": "a", "kind": "positional_or_keyword"},
        {"name": "b", "kind": "positional_or_keyword", "default": "2"},
        {"name": "rest", "kind": "var_positional"},
        {"name": "scale", "kind": "keyword_only", "default": "1.0"},
        {"name": "extra", "kind": "var_keyword"},
    ]
    # context=True: the worker passes task=, so it is not the caller's to give
    assert book["tasks"]["m.ctx"]["params"] == [{"name": "x", "kind": "positional_or_keyword"}]
    assert book["tasks"]["m.tick"]["periodic"] == "*/5 * * * *"
    assert book["tasks"]["m.custom"]["periodic"] == "custom"


def test_encode_is_stable_and_shared_by_equal_catalogs() -> None:
    one = catalog.build([TaskSpec(add, "m.add"), TaskSpec(only_pos, "m.pos")])
    two = catalog.build([TaskSpec(only_pos, "m.pos"), TaskSpec(add, "m.add")])
    (d1, b1), (d2, b2) = catalog.encode(one), catalog.encode(two)
    assert d1 == d2 and b1 == b2 and len(d1) == 16
    assert catalog.decode(b1) == one
    assert catalog.encode(catalog.build([TaskSpec(add, "m.other")]))[0] != d1


def test_decode_refuses_what_is_not_a_catalog() -> None:
    for data in (b"not json", b"[]", b'{"tasks": 1}', b"{}", b"[" * 100_000):
        assert catalog.decode(data) is None


def test_decode_keeps_the_readable_part_of_a_damaged_catalog() -> None:
    data = json.dumps(
        {
            "tasks": {
                "a.ok": {
                    "retries": 1,
                    "retry_delay": 0,
                    "params": [{"name": "x", "kind": "var_positional"}],
                },
                "a.not_a_record": [1, 2],
                "a.bad_params": {"retries": 0, "retry_delay": 0, "params": [{"name": 1}]},
                "a.bad_default": {"params": [{"name": "x", "kind": "keyword_only", "default": 3}]},
                "a.params_not_list": {"params": "x"},
            }
        }
    ).encode()
    book = catalog.decode(data)
    assert book is not None
    assert set(book["tasks"]) == {"a.ok", "a.bad_params", "a.bad_default", "a.params_not_list"}
    assert book["tasks"]["a.ok"]["params"] == [{"name": "x", "kind": "var_positional"}]
    for name in ("a.bad_params", "a.bad_default", "a.params_not_list"):
        assert "params" not in book["tasks"][name]  # unknown signature: nothing is checked


def test_signature_rebuilt_from_the_record_binds_as_the_function_does() -> None:
    params = catalog.build([TaskSpec(add, "m.add")])["tasks"]["m.add"]["params"]
    sig = catalog.signature(json.loads(json.dumps(params)))  # as read back from the store
    assert sig is not None
    assert str(sig) == "(a, b=2, *rest, scale=1.0, **extra)"
    assert catalog.describe(params) == "(a, b=2, *rest, scale=1.0, **extra)"
    assert catalog.check_call(sig, [1], {}) is None
    assert catalog.check_call(sig, [1, 2, 3, 4], {"scale": 2, "anything": 1}) is None
    assert catalog.check_call(sig, [], {}) == "missing a required argument: 'a'"
    assert "multiple values" in str(catalog.check_call(sig, [1], {"a": 1}))


def test_positional_only_and_keyword_only_rules() -> None:
    params = catalog.params_of(only_pos)
    assert params is not None
    sig = catalog.signature(params)
    assert sig is not None and str(sig) == "(a, /, b)"
    assert catalog.check_call(sig, [1, 2], {}) is None
    assert catalog.check_call(sig, [1], {"b": 2}) is None
    assert "positional" in str(catalog.check_call(sig, [], {"a": 1, "b": 2}))
    assert catalog.check_call(sig, [1, 2, 3], {}) == "too many positional arguments"


def test_defaults_are_shown_by_repr_never_evaluated() -> None:
    def f(when: dt.date = dt.date(2026, 1, 2), tag: str = "x" * 200) -> None:
        pass

    params = catalog.params_of(f)
    assert params is not None
    assert params[0]["default"] == "datetime.date(2026, 1, 2)"
    assert len(params[1]["default"]) == 80  # a long repr is cut
    assert catalog.describe(params).startswith("(when=datetime.date(2026, 1, 2), tag='xxx")


def test_unknown_signatures_and_records_check_nothing() -> None:
    class Unreadable:
        __signature__ = "not a signature"

        def __call__(self) -> None:
            pass

    assert catalog.params_of(Unreadable()) is None
    book = catalog.build([TaskSpec(Unreadable(), "m.odd")])
    assert "params" not in book["tasks"]["m.odd"]  # published without: nothing is checked
    assert catalog.describe(None) == "(?)"
    assert catalog.signature([{"name": "a", "kind": "sideways"}]) is None
    assert catalog.signature([{"kind": "positional_or_keyword"}]) is None
    assert catalog.describe([{"name": "a", "kind": "sideways"}]) == "(?)"
