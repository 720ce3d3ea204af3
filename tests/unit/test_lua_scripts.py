"""The Redis store's Lua files against the one Python table of their KEYS and ARGV.

Each ``engine/storage/lua/<name>.lua`` names its KEYS and ARGV in a header and binds
them to locals; ``engine.storage.redis_scripts.SCRIPTS`` is the only place Python
writes key order. These tests hold the two together, and check that the finish
script's generated Lua reads back exactly what :meth:`Layout.pack` wrote.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import redis

from engine.ids import new_task_id
from engine.storage import base, redis_layout, redis_scripts
from engine.storage.base import Message
from engine.storage.redis import RedisStorage
from engine.storage.redis_scripts import (
    _NOTIFY,
    _WAITER,
    CONSTANTS,
    FINISH,
    FINISH_PLAIN,
    FINISH_TASK,
    INCR,
    LAYOUTS,
    SCRIPTS,
    Group,
    Layout,
    Script,
    _definitions,
    _includes,
    expand,
    lua_file,
    source,
)

_INCLUDES = {"lib", "bucket"}  # files pasted into scripts, not scripts of their own
_BY_NAME = {s.name: s for s in SCRIPTS}


def _tokens(text: str) -> tuple[str, ...]:
    """Header names: words, or a repeated group such as ``(id priority data)...``."""
    return tuple(re.findall(r"\([^)]*\)\.\.\.|\S+", text))


def _header(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    first, second = lua_file(name).splitlines()[1:3]  # after the #!lua flags line
    assert first.startswith("-- KEYS: "), f"{name}.lua: first line must be '-- KEYS: ...'"
    assert second.startswith("-- ARGV: "), f"{name}.lua: second line must be '-- ARGV: ...'"
    return _tokens(first.removeprefix("-- KEYS: ")), _tokens(second.removeprefix("-- ARGV: "))


def _fixed(names: tuple[str, ...]) -> list[str]:
    """The names before the first variable-length one: those a script binds by index."""
    out = []
    for n in names:
        if n.endswith("..."):
            break
        out.append(n)
    return out


def _bound(text: str, table: str) -> list[str]:
    """The names of the first ``local a, b = T[1], T[2]`` statement, checking the indexes."""
    m = re.search(rf"^local ([\w, ]+?)\s*=\s*((?:{table}\[\d+\],?\s*)+)$", text, re.M)
    if m is None:
        return []
    names = [n.strip() for n in m[1].split(",")]
    indexes = [int(i) for i in re.findall(rf"{table}\[(\d+)\]", m[2])]
    assert indexes == list(range(1, len(names) + 1)), f"{table} bound out of order: {m[0]}"
    return names


def test_every_lua_file_is_a_script_or_an_include() -> None:
    lua_dir = resources.files("engine.storage").joinpath("lua")
    files = {p.name.removesuffix(".lua") for p in lua_dir.iterdir() if p.name.endswith(".lua")}
    assert files == set(_BY_NAME) | _INCLUDES
    assert len(_BY_NAME) == len(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_header_matches_the_table(script: Script) -> None:
    keys, argv = _header(script.name)
    assert keys == script.keys, f"{script.name}.lua KEYS header differs from SCRIPTS"
    assert argv == script.argv, f"{script.name}.lua ARGV header differs from SCRIPTS"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_flags_line_matches_the_table(script: Script) -> None:
    """Line 1 is the Redis 7 flags line: with it Redis checks maxmemory before the script
    writes anything (without it, only before its first write)."""
    flags = f" flags={','.join(script.flags)}" if script.flags else ""
    assert lua_file(script.name).splitlines()[0] == f"#!lua{flags}"
    assert source(script.name).splitlines()[0] == f"#!lua{flags}"  # still first when loaded
    assert set(script.flags) <= {"allow-oom"}


#: The scripts that add work: refused by a full Redis. Every other script drains.
ADDS_WORK = {"enqueue", "enqueue_new", "enqueue_unique", "schedule", "retry_dead", "incr", "record"}


def test_only_scripts_that_add_work_are_refused_when_full() -> None:
    assert {s.name for s in SCRIPTS if "allow-oom" not in s.flags} == ADDS_WORK


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_header_names_are_bound_to_locals(script: Script) -> None:
    text = lua_file(script.name)
    assert _bound(text, "KEYS") == _fixed(script.keys)
    assert _bound(text, "ARGV") == _fixed(script.argv)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_loaded_source_is_complete(script: Script) -> None:
    text = source(script.name)
    assert not re.search(r"^\s*-- #", text, re.M), "a directive was left unexpanded"
    for name in CONSTANTS:
        if re.search(rf"\b{name}\b", text):
            assert f"local {name} = " in text


def _functions(text: str) -> list[str]:
    return re.findall(r"^\s*local function (\w+)", text, re.M)


def test_an_include_keeps_only_what_the_script_reaches() -> None:
    """lib.lua's definitions go into a script only when it uses them, directly or through
    another one (Redis makes each function a script defines anew at every call)."""
    made = _functions(source("round"))
    assert {"claim", "take", "body_get", "bucket_key", "bucket_of", "ready_count"} <= set(made)
    assert not {"trim_dead", "body_put", "leave", "held_by"} & set(made)
    assert len(made) == len(set(made))
    assert "local DIGITS = " in source("round")  # a table bucket_key uses: kept too
    assert "bucket_key" not in _functions(source("enqueue_new"))  # which takes bucket.lua


def test_an_indented_include_serves_its_block() -> None:
    text = "\n".join(
        [
            "local a = 1",
            "-- #include lib",
            "local x = claim",
            "if a then",
            "  -- #include lib",
            "  local y = trim_dead",
            "",
            "  local z = bucket_key",
            "end",
            "return level",
        ]
    )
    top, _, block = _includes(text).partition("\n  -- lib.lua: ")
    assert {"claim", "take", "bucket_key", "level"} <= set(_functions(top))
    assert "trim_dead" not in _functions(top)
    assert {"trim_dead", "body_del", "body_len"} <= set(_functions(block))
    assert not {"bucket_key", "claim", "level"} & set(_functions(block))  # the top has them
    kept, _, rest = block.partition("\n  local y = trim_dead\n")
    assert all(line.startswith("  ") for line in kept.split("\n")[1:] if line)  # in the block
    assert rest == "\n  local z = bucket_key\nend\nreturn level"


def test_lib_definitions_cover_the_whole_file() -> None:
    """Nothing of lib.lua but comments is outside a definition (so nothing is dropped)."""
    names = set().union(*(d.defines for d in _definitions("lib")))
    text = expand(lua_file("lib"))
    assert names == set(re.findall(r"^local (?:function )?(\w+)", text, re.M))
    body = "\n".join(d.text for d in _definitions("lib"))
    code = [line for line in text.split("\n") if line.strip() and not line.startswith("--")]
    assert code == [line for line in body.split("\n") if line.strip()]


def test_a_statement_outside_a_definition_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(name: str) -> str:
        return "local function f() end\n-- note\nredis.call('DEL', 'x')\n"

    monkeypatch.setattr(redis_scripts, "lua_file", fake)
    with pytest.raises(ValueError, match="outside a definition"):
        _definitions.__wrapped__("fake")


def test_refusals_come_from_base() -> None:
    text = source("finish")
    for refusal in (base.NOT_RUNNING, base.NOT_OWNER, base.LEASE_LOST):
        assert f"'{refusal}'" in text
        assert refusal not in lua_file("finish")  # no copy in the file itself


def test_keys_for_names_each_key() -> None:
    storage = RedisStorage("t", client=redis.Redis())  # no connection is made
    # (layout 2: the script's msg is the prefix of the body buckets)
    assert storage._keys_for(FINISH)[:2] == ["hueyctl:{t}:running", "hueyctl:{t}:m:"]
    assert storage._keys_for(INCR, key="k") == ["k"]
    with pytest.raises(TypeError, match="no key typo"):
        storage._keys_for(INCR, key="k", typo="x")
    with pytest.raises(KeyError):
        storage._keys_for(INCR)  # a key that is not the queue's own must be given


def test_layout_names_are_unique() -> None:
    for layout in LAYOUTS.values():
        names: list[str] = []
        for f in layout.fields:
            if isinstance(f, Group):
                names += [f"{f.name}_n", f"{f.name}_at", f"{f.name}_end", f"{f.name}_k"]
            else:
                names.append(f)
        assert len(names) == len(set(names)), layout.name


def _echo_script(layout: Layout) -> str:
    """Lua that reads records laid out by ``layout`` and returns every field it saw."""
    lines = ["local out, i, k = {}, 1, 1", "for t = 1, tonumber(ARGV[#ARGV]) do"]
    lines.append(f"  -- #layout {layout.name} i k")
    for f in layout.fields:
        if isinstance(f, str):
            lines.append(f"  out[#out + 1] = {f}")
            continue
        lines.append(f"  out[#out + 1] = {f.name}_n")
        lines.append(f"  for j = 0, {f.name}_n - 1 do")
        lines.append(f"    -- #item {layout.name} {f.name} j")
        for name in (*f.keys, *f.fields):
            lines.append(f"    out[#out + 1] = {name}")
        lines.append("  end")
    lines += ["  i, k = next_i, next_k", "end", "return out"]
    return "\n".join(lines)


def test_finish_layout_reads_back_what_pack_wrote(redis_url: str) -> None:
    """Pack two tasks, run the generated Lua on them, and get every value back in order."""
    tasks = [
        (
            "1.5",
            "a",
            [("r1", "v1"), ("r2", "v2")],
            "0",
            "",
            "",
            "",
            9,
            8,
            '{"at":1}',
            [],
            [],
        ),
        (
            "2.5",
            "b",
            [],
            "100",
            "why",
            "err",
            "body",
            9,
            8,
            "",
            [("e1", 0, "d1")],
            [("s1", 1, "3.0", "d2"), ("s2", 2, "4.0", "d3")],
        ),
    ]
    got, expected = _echo_round_trip(FINISH_TASK, tasks, redis_url)
    assert got == expected


def test_plain_finish_layout_reads_back_what_pack_wrote(redis_url: str) -> None:
    tasks = [
        ("1.5", "a", [("r1", "v1")], "0", '{"at":1}'),
        ("2.5", "b", [], "100", ""),
        ("3.5", "c", [("r2", "v2"), ("r3", "v3")], "5", "x"),
    ]
    got, expected = _echo_round_trip(FINISH_PLAIN, tasks, redis_url)
    assert got == expected


def _echo_round_trip(
    layout: Layout, tasks: list[tuple[Any, ...]], redis_url: str
) -> tuple[list[object], list[object]]:
    """What a script echoing ``layout``'s locals reads back from the tasks ``pack``
    wrote, and what it should read: counts come back as numbers, everything else as
    text."""
    keys: list[str] = []
    args: list[object] = []
    expected: list[object] = []
    for values in tasks:
        layout.pack(values, keys, args)
        for field, value in zip(layout.fields, values, strict=True):
            if isinstance(field, str):
                expected.append(str(value))
            else:
                expected.append(len(value))
                expected += [str(x) for item in value for x in item]
    client = redis.Redis.from_url(redis_url)
    try:
        got = client.eval(expand(_echo_script(layout)), len(keys), *keys, *args, len(tasks))
    finally:
        client.close()
    return [x.decode() if isinstance(x, bytes) else x for x in got], expected


def _ids_for_buckets() -> list[bytes]:
    """~2,000 ids of every shape: generated, short, one byte, non-ASCII, not UTF-8, long."""
    ids = [new_task_id().encode() for _ in range(1000)]
    ids += [str(n).encode() for n in range(300)]  # 1 to 3 characters
    ids += [bytes([b]) for b in range(1, 256)]  # every single byte
    ids += [f"tâche-{n}-é".encode() for n in range(100)]
    ids += [f"任务{n}🙂".encode() for n in range(100)]
    ids += [b"bad-\xff\xfe-%d" % n for n in range(100)]
    ids += [b"x" * n for n in range(1, 80)]
    ids += [("long-" * 20 + str(n)).encode() for n in range(66)]
    return ids


def _with_constants(body: str) -> str:
    used = [c for c in CONSTANTS if re.search(rf"\b{c}\b", body)]
    return "\n".join([*(f"local {c} = {CONSTANTS[c]!r}" for c in used), body])


def test_lua_bucket_of_equals_the_python_bucket(redis_url: str) -> None:
    """lib.lua's bucket_of (the one every script uses) against redis_layout.bucket."""
    ids = _ids_for_buckets()
    assert len(ids) >= 2000
    body = _with_constants(
        expand("-- #include lib")
        + "\nlocal out = {}\nfor i = 1, #ARGV do"
        + " out[2 * i - 1], out[2 * i] = bucket_of(ARGV[i]), bucket_key('P:', ARGV[i]) end"
        + "\nreturn out"
    )
    client = redis.Redis.from_url(redis_url)
    try:
        got: list[Any] = []
        for start in range(0, len(ids), 500):
            got += client.eval(body, 0, *ids[start : start + 500])
    finally:
        client.close()
    assert got[::2] == [redis_layout.bucket(i) for i in ids]
    assert got[1::2] == [b"P:%d" % redis_layout.bucket(i) for i in ids]  # bucket_key
    assert len(set(got[::2])) > 800  # they spread over the buckets
    assert {len(str(b)) for b in got[::2]} == {1, 2, 3, 4}  # every width of bucket_key


def test_bodies_go_to_their_bucket_or_to_big(redis_url: str) -> None:
    """Each enqueue path stores a body in the hash redis_layout.body_key names (and in no
    other), and a body replaced by a longer or shorter one moves."""
    store = RedisStorage(f"t-buckets-{new_task_id()}", url=redis_url)
    client, msg = store.client, store._keys["msg"]

    def where(task_id: str | bytes) -> list[str]:
        keys = [msg + "big", msg + str(redis_layout.bucket(task_id))]
        return [k for k in keys if client.hexists(k, task_id)]

    small, large = b"s" * redis_layout.SMALL, b"L" * (redis_layout.SMALL + 1)
    cases = [
        new_task_id(),
        "a",
        "tâche-é",
        "任务🙂",
        "i" * redis_layout.SMALL,
        "j" * (redis_layout.SMALL + 1),
    ]
    try:
        for n, task_id in enumerate(cases):
            for body in (small, large, b"", small):
                if n % 2:
                    store.enqueue([Message(task_id, body)])  # enqueue_new, then enqueue.lua
                else:
                    store.enqueue([Message(task_id, body), Message(new_task_id(), b"x")])
                assert where(task_id) == [redis_layout.body_key(msg, task_id, len(body))]
                assert store.locate(task_id).data == body  # type: ignore[union-attr]
        # Each id is ready once, however often it was enqueued.
        ready = [m.id for m in store.ready_items(0, 1000)]
        assert sorted(set(ready)) == sorted(ready)
        assert set(cases) <= set(ready)
        assert store.counts().ready == len(ready)
    finally:
        store.destroy()
        store.close()


def _dump(client: redis.Redis, queue: str) -> dict[bytes, object]:
    """Every key of a queue (without its prefix) and its whole content."""
    prefix = f"hueyctl:{{{queue}}}:".encode()
    out: dict[bytes, object] = {}
    for key in client.scan_iter(match=prefix + b"*"):
        kind = client.type(key)
        if kind == b"hash":
            value: object = client.hgetall(key)
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"zset":
            # the scores as the server writes them
            value = client.zrange(key, 0, -1, withscores=True, score_cast_func=bytes)
        else:
            value = client.get(key)
        out[key.removeprefix(prefix)] = value
    return out


def test_a_fresh_enqueue_writes_what_the_script_writes(redis_url: str) -> None:
    """Messages marked fresh go as plain commands in MULTI/EXEC (RedisStorage.
    _enqueue_fresh): the same batches through the scripts (not fresh) leave every key
    of the queue byte for byte the same: bodies in their buckets or m:big, prio, the
    ready lists in order, levels with the scripts' scores, wake capped at WAKE_CAP."""
    ids = [new_task_id() for _ in range(2700)]
    odd = ["tâche-é", "任务🙂", "i" * redis_layout.SMALL, "j" * (redis_layout.SMALL + 1)]
    batches: list[list[Message]] = [
        [Message(ids[0], b"x" * 10)],
        [Message(ids[1], b"y" * 100, 5)],
        [Message(ids[2], b"", -3)],
        [Message(task_id, b"b" * (n * 40), n) for n, task_id in enumerate(odd)],
        # More than one transaction (1,000 messages each), four levels, two body sizes.
        [
            Message(task_id, b"a" * (n % 130), [0, 1, -2, 7][n % 4])
            for n, task_id in enumerate(ids[3:2600])
        ],
        *([Message(task_id, b"w", 2**40)] for task_id in ids[2600:2680]),  # wake fills up
    ]
    client = redis.Redis.from_url(redis_url)
    dumps = []
    for fresh in (True, False):
        queue = f"t-fresh-{fresh}-{new_task_id()}"
        store = RedisStorage(queue, url=redis_url)
        try:
            for batch in batches:
                store.enqueue([Message(m.id, m.data, m.priority, fresh) for m in batch])
            dumps.append(_dump(client, queue))
        finally:
            store.destroy()
            store.close()
    with_fresh, by_script = dumps
    assert with_fresh == by_script
    assert len(by_script[b"wake"]) == CONSTANTS["WAKE_CAP"]  # type: ignore[arg-type]
    assert by_script[b"levels"] == [  # highest first
        (b"1099511627776", b"-1099511627776"),
        (b"7", b"-7"),
        (b"5", b"-5"),
        (b"3", b"-3"),
        (b"2", b"-2"),
        (b"1", b"-1"),
        (b"0", b"0"),
        (b"-2", b"2"),
        (b"-3", b"3"),
    ]
    client.close()


def test_finish_makes_the_waiter_and_notify_keys_as_python_names_them(redis_url: str) -> None:
    line = re.search(r"^local WAITER, NOTIFY = (.+)$", lua_file("finish"), re.M)
    assert line, "finish.lua names the suffixes in one line"
    client = redis.Redis.from_url(redis_url)
    try:
        got = client.eval(f"return {{{line[1]}}}", 0)
    finally:
        client.close()
    assert got == [_WAITER.encode(), _NOTIFY.encode()]
