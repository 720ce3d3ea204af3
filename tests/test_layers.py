"""The layering rules of ARCHITECTURE.md, as failing checks.

* ``engine`` imports nothing from ``hueyctl``, click, textual or rich.
* ``hueyctl`` never imports a storage driver (redis, sqlite3) nor
  ``engine.storage.*``: it reads through ``engine.inspect`` and acts through the
  facade. Checked statically (every import in its source) and at run time.
* ``hueyctl``'s modules import each other in no circle (function-level imports
  included), and no command module imports the root group ``hueyctl.cli``: the
  root group adds the commands.
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _internal_graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports (relative imports resolved,
    ``from . import x`` counted as importing module ``x`` when it is one)."""
    paths = {_module_name(p): p for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_pkg = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_pkg else 0)]
                    base = ".".join(anchor + ([base] if base else []))
                targets.add(base)
                targets.update(f"{base}.{a.name}" for a in node.names)
        graph[name] = {t for t in targets if t in paths and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_hueyctl_has_no_import_cycle() -> None:
    graph = _internal_graph("hueyctl")
    assert "hueyctl.commands.tasks" in graph["hueyctl.cli"]  # the graph was read
    assert _cycles(graph) == []


def test_no_command_module_imports_the_root_group() -> None:
    graph = _internal_graph("hueyctl")
    commands = [m for m in graph if m.startswith("hueyctl.commands.")]
    assert len(commands) >= 7
    importers = {m for m, deps in graph.items() if "hueyctl.cli" in deps}
    assert importers <= {"hueyctl.__main__"}  # `python -m hueyctl` runs the root group


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
