"""The layering rules of ARCHITECTURE.md, as failing checks.

* ``engine`` imports nothing from ``hueyctl``, click, textual or rich.
* ``hueyctl`` never imports a storage driver (redis, sqlite3) nor
  ``engine.storage.*``: it reads through ``engine.inspect`` and acts through the
  facade. Checked statically (every import in its source) and at run time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _offending(package: str, banned: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path}: {name}"
        for path, names in _imports(package).items()
        for name in names
        if any(name == b or name.startswith(b + ".") for b in banned)
    )


def test_engine_imports_no_ui() -> None:
    assert _offending("engine", ("hueyctl", "click", "textual", "rich")) == []


def test_hueyctl_imports_no_storage_driver() -> None:
    assert _offending("hueyctl", ("redis", "sqlite3", "engine.storage")) == []


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_engine_pulls_in_no_ui_module() -> None:
    loaded = _loaded_after("import engine, engine.inspect, engine.consumer")
    assert not {m for m in loaded if m.split(".")[0] in ("hueyctl", "click", "textual", "rich")}


def test_importing_the_cli_pulls_in_no_storage_driver() -> None:
    loaded = _loaded_after("import hueyctl.cli")
    assert not {m for m in loaded if m.split(".")[0] in ("redis", "sqlite3")}
