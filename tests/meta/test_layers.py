"""The layering rules of ``docs/design.md`` (layers and floor rules), as failing checks.

* ``engine`` imports nothing from ``hueyctl``, click, textual or rich.
* ``hueyctl`` never imports a storage driver (redis, sqlite3) nor
  ``engine.storage.*``: it reads through ``engine.inspect`` and acts through the
  facade. Checked statically (every import in its source) and at run time.
* The engine is built in floors: ground (imports nothing from the engine) ←
  model and storage ← core ← runtime and read model ← facade. No import runs
  from a lower floor to a higher one, storage imports only the ground, and the
  import graph has no cycle except among the facade's own modules. Every import
  counts: module level, inside functions, and under ``if TYPE_CHECKING:``.
* Only the facade's ``api.py`` (and ``core.py``, for its own names) reaches into
  the queue's private names (``huey._x``, ``core._x``).
* ``hueyctl``'s modules import each other in no circle (function-level imports
  included), and no command module imports the root group ``hueyctl.cli``: the
  root group adds the commands.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


def test_hueyctl_has_no_import_cycle() -> None:
    graph = _graph("hueyctl")
    assert "commands.tasks" in graph["cli"]  # the graph was read
    assert _cycles(graph) == []


def test_no_command_module_imports_the_root_group() -> None:
    graph = _graph("hueyctl")
    commands = [m for m in graph if m.startswith("commands.")]
    assert len(commands) >= 7
    importers = {m for m, deps in graph.items() if "cli" in deps}
    assert importers <= {"__main__"}  # `python -m hueyctl` runs the root group


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


def test_importing_engine_pulls_in_no_framework() -> None:
    """Django is an optional extra: only engine.contrib.djhuey imports it."""
    loaded = _loaded_after("import engine, engine.inspect, engine.consumer, engine.loader")
    assert not {m for m in loaded if m.split(".")[0] in ("django", "django_tasks")}
    assert not {m for m in loaded if m.startswith("engine.contrib")}


def test_importing_the_cli_pulls_in_no_storage_driver() -> None:
    loaded = _loaded_after("import hueyctl.cli")
    assert not {m for m in loaded if m.split(".")[0] in ("redis", "sqlite3")}


# --- the engine's floors -------------------------------------------------------------
GROUND, MODEL, STORAGE, CORE, RUNTIME, FACADE, CONTRIB = 0, 1, 1, 2, 3, 4, 5
FLOORS: dict[str, int] = {
    # ground: imports nothing from the engine
    "_version": GROUND,
    "exceptions": GROUND,
    "signals": GROUND,
    "keys": GROUND,
    "urls": GROUND,
    "ids": GROUND,
    # model
    "codec": MODEL,
    "crontab": MODEL,
    "envelope": MODEL,
    "task": MODEL,
    "cancellation": MODEL,
    "catalog": MODEL,
    # storage: every module under engine/storage/ (see _floor)
    # core
    "revocation": CORE,
    "locks": CORE,
    "core": CORE,
    # runtime and read model
    "outcome": RUNTIME,
    "coro": RUNTIME,
    "aio": RUNTIME,
    "executor": RUNTIME,
    "scheduler": RUNTIME,
    "telemetry": RUNTIME,
    "consumer": RUNTIME,
    "supervisor": RUNTIME,
    "preflight": RUNTIME,
    "inspect": RUNTIME,
    "steering": RUNTIME,
    "inventory": RUNTIME,
    # facade
    "wrapper": FACADE,
    "result": FACADE,
    "chord": FACADE,
    "api": FACADE,
    "loader": FACADE,
    "contrib": FACADE,
    "contrib.asyncio": FACADE,
    "__init__": FACADE,
}
FACADE_MODULES = {name for name, floor in FLOORS.items() if floor == FACADE}
ENGINE = ROOT / "engine"


def _module_name(path: Path, package: str = "engine") -> str:
    """engine/api.py -> "api", engine/storage/base.py -> "storage.base",
    engine/storage/__init__.py -> "storage", engine/__init__.py -> "__init__"."""
    parts = list(path.relative_to(ROOT / package).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _modules(package: str = "engine") -> dict[str, Path]:
    return {_module_name(p, package): p for p in (ROOT / package).rglob("*.py")}


def _engine_modules() -> dict[str, Path]:
    return _modules("engine")


def _is_storage(module: str) -> bool:
    return module == "storage" or module.startswith("storage.")


def _is_contrib(module: str) -> bool:
    """engine.contrib.*: framework integrations above the facade (optional extras)."""
    return module == "contrib" or module.startswith("contrib.")


def _floor(module: str) -> int:
    if _is_contrib(module):
        return CONTRIB
    return STORAGE if _is_storage(module) else FLOORS[module]


def _is_package(module: str, package: str = "engine") -> bool:
    path = ROOT / package / module.replace(".", "/") / "__init__.py"
    return module == "__init__" or path.exists()


def _dotted(parts: list[str]) -> str:
    return ".".join(parts) or "__init__"


def _resolve(
    importer: str, node: ast.ImportFrom | ast.Import, known: set[str], package: str = "engine"
) -> set[str]:
    """The engine modules one import statement names (relative or absolute): for
    ``from X import y`` that is ``X.y`` when it is a module, else ``X`` itself."""
    if isinstance(node, ast.Import):
        parts = [a.name.split(".") for a in node.names]
        return {_dotted(p[1:]) for p in parts if p[0] == package} & known
    if node.level == 0:
        base = (node.module or "").split(".")
        if base[0] != package:
            return set()
        base = base[1:]
    else:
        here = [] if importer == "__init__" else importer.split(".")
        parent = here if _is_package(importer, package) else here[:-1]
        base = parent[: len(parent) - (node.level - 1)] + (
            node.module.split(".") if node.module else []
        )
    found = set()
    for alias in node.names:
        sub = _dotted([*base, alias.name])
        found.add(sub if sub in known else _dotted(base))
    return found & known


def _engine_graph() -> dict[str, set[str]]:
    return _graph("engine")


def _graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports, anywhere in its source."""
    modules = _modules(package)
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(_resolve(name, node, known, package))
        edges.discard(name)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_engine_module_has_a_floor() -> None:
    unplaced = [m for m in _engine_modules() if not (_is_storage(m) or _is_contrib(m))]
    assert sorted(m for m in unplaced if m not in FLOORS) == []


def test_the_import_graph_sees_every_kind_of_import() -> None:
    graph = _engine_graph()
    assert "storage.base" in graph["executor"]  # module level, relative
    assert "exceptions" in graph["codec"]  # absolute
    assert "api" in graph["result"]  # under TYPE_CHECKING
    assert "outcome" in graph["executor"]  # "from . import outcome"


def test_engine_has_no_cycle_outside_the_facade() -> None:
    assert [sorted(c) for c in _cycles(_engine_graph()) if not c <= FACADE_MODULES] == []


def test_no_import_runs_up_a_floor() -> None:
    upward = sorted(
        f"{module} (floor {_floor(module)}) imports {target} (floor {_floor(target)})"
        for module, targets in _engine_graph().items()
        for target in targets
        if _floor(target) > _floor(module)
    )
    assert upward == []


@pytest.mark.parametrize("floor", ["storage", "model"])
def test_storage_and_model_do_not_import_each_other(floor: str) -> None:
    graph = _engine_graph()
    if floor == "storage":
        bad = [(m, t) for m, ts in graph.items() if _is_storage(m) for t in ts]
        bad = [(m, t) for m, t in bad if not _is_storage(t) and _floor(t) != GROUND]
    else:
        model = [m for m, f in FLOORS.items() if f == MODEL]
        bad = [(m, t) for m in model for t in graph[m] if _is_storage(t)]
    assert bad == []


def _private_reaches(path: Path) -> list[str]:
    """``huey._x``, ``self.huey._x``, ``core._x``: a queue's private name used from outside."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__"):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if name in ("huey", "core"):
            out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}.{node.attr}")
    return out


def test_only_the_facade_uses_the_queues_private_names() -> None:
    allowed = {"api", "core"}
    found = [
        hit
        for name, path in _engine_modules().items()
        if name not in allowed
        for hit in _private_reaches(path)
    ]
    assert found == []
