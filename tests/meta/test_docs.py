"""The documents stay true to the code they describe.

* ``README.md`` stays short (at most 10 KB): the reference lives in ``docs/``.
* Every long option of every ``hueyctl`` command, and every field the ``--json``
  listings can print, appears in ``docs/operating.md``.
* Every relative link in the README and the documents points to a file that exists.

The lists of options and fields are read from the code at run time (the click
group, the read model's dataclasses, and the JSON the commands print), never
written here, so a renamed option or field fails this test until the document
follows.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from engine import SqliteHuey
from engine.inspect import Inspector
from hueyctl.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OPERATING = ROOT / "docs" / "operating.md"
DOCUMENTS = [
    README,
    ROOT / "CONTRIBUTING.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
README_LIMIT = 10 * 1024
LISTINGS = (
    "status",
    "pending",
    "scheduled",
    "running",
    "failed",
    "results",
    "workers",
    "periodic",
    "revocations",
    "events",
    "tasks",
    "queues",
)


def test_readme_is_at_most_10_kb() -> None:
    size = len(README.read_text(encoding="utf-8").encode())
    assert size <= README_LIMIT, f"README.md is {size} bytes: move detail to docs/"


# --- options ------------------------------------------------------------------------------
def _commands(cmd: click.Command, path: str = "hueyctl") -> Iterator[tuple[str, click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, f"{path} {name}")


def _long_options() -> set[tuple[str, str]]:
    found = set()
    for path, cmd in _commands(main):
        for param in cmd.params:
            if isinstance(param, click.Option):
                for opt in (*param.opts, *param.secondary_opts):
                    if opt.startswith("--"):
                        found.add((path, opt))
    return found


def test_every_option_is_in_operating_md() -> None:
    text = OPERATING.read_text(encoding="utf-8")
    options = _long_options()
    assert ("hueyctl worker", "--workers") in options  # the walk found the commands
    missing = sorted(
        f"{path} {opt}"
        for path, opt in options
        if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text)
    )
    assert missing == [], f"not documented in docs/operating.md: {missing}"


# --- JSON fields --------------------------------------------------------------------------
def _resolve(annotation: Any, module: str) -> Any:
    """An annotation as a type; a name only imported for type checking gives None."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, vars(sys.modules[module]))  # annotation text of our own modules
    except NameError:
        return None


def _dataclass_fields(tp: Any, seen: set[type]) -> set[str]:
    """Field names of every dataclass reachable from type ``tp`` (through lists,
    tuples, optionals and the dataclasses' own field types)."""
    names: set[str] = set()
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp in seen:
            return names
        seen.add(tp)
        for f in dataclasses.fields(tp):
            names.add(f.name)
            names |= _dataclass_fields(_resolve(f.type, tp.__module__), seen)
    for arg in typing.get_args(tp):
        names |= _dataclass_fields(arg, seen)
    return names


def _read_model_fields() -> set[str]:
    """Every field of every dataclass a public ``Inspector`` method returns: the
    objects the JSON output is made of (``hueyctl.render.record``)."""
    seen: set[type] = set()
    names: set[str] = set()
    for attr, member in vars(Inspector).items():
        if not attr.startswith("_") and callable(member):
            returns = member.__annotations__.get("return")
            names |= _dataclass_fields(_resolve(returns, Inspector.__module__), seen)
    return names


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        out = set(data)
        for v in data.values():
            out |= _keys(v)
        return out
    if isinstance(data, list):
        return set().union(*(_keys(v) for v in data)) if data else set()
    return set()


def _printed_fields(tmp_path: Path) -> set[str]:
    """Every key the listings and ``show`` print with --json for a small SQLite
    queue (keys the commands add to the dataclasses, like ``status``'s tasks)."""
    huey = SqliteHuey("docs", filename=str(tmp_path / "docs.db"))

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    first = add(1, 2)
    add.schedule((3, 4), delay=3600)
    huey.revoke_all(add.name, revoke_once=True)
    base = ["--url", f"sqlite:///{tmp_path / 'docs.db'}", "--queue", "docs", "--json"]
    runner = CliRunner(env={"HUEYCTL_APP": None, "HUEYCTL_URL": None, "HUEYCTL_QUEUE": None})
    keys: set[str] = set()
    for command in (*LISTINGS, f"show {first.id}"):
        out = runner.invoke(main, [*command.split(), *base])
        assert out.exit_code == 0, f"hueyctl {command}: {out.output}"
        keys |= _keys(json.loads(out.stdout))
    return keys


def _code_words(text: str) -> set[str]:
    """Words inside the document's `code spans` (field names are written there)."""
    words: set[str] = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        words.update(re.findall(r"[A-Za-z_][\w-]*", span))
    return words


def test_every_json_field_is_in_operating_md(tmp_path: Path) -> None:
    fields = _read_model_fields() | _printed_fields(tmp_path)
    assert {"id", "state", "throughput", "heartbeat"} <= fields  # the walk found them
    documented = _code_words(OPERATING.read_text(encoding="utf-8"))
    missing = sorted(fields - documented)
    assert missing == [], f"JSON fields not documented in docs/operating.md: {missing}"


# --- links --------------------------------------------------------------------------------
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(doc: Path) -> None:
    assert doc.is_file(), f"{doc.relative_to(ROOT)} is missing"
    broken = []
    for target in _LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL, or an anchor in the same document
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{doc.relative_to(ROOT)} links to missing files: {broken}"
