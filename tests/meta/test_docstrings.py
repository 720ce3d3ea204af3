"""Meta test: the engine's public API states its contract in docstrings.

Checked here, each failing with the list of what lacks one:

* every class and function named in ``engine.__all__``;
* every public method and property of ``Huey`` and of its subclasses in
  ``__all__``, including those inherited from other engine classes (a queue
  core under the facade, say);
* every public method and property of the other classes in ``__all__``
  (``Result``, ``ResultGroup``, ``chord``, ``group``, ``ChordResult``, ``Error``,
  the exceptions), of ``engine.inspect.Inspector``, and every public class of
  ``engine.inspect`` (the read model ``hueyctl`` shows).

Not checked: dunder methods, and anything inherited from ``object`` or another
builtin (``dict`` for ``Error``, ``Exception`` for the errors). ``TaskWrapper``
and ``Task`` have a test each.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Iterable

import engine
import engine.inspect

# Documented in their own tests below.
_DEFERRED = (engine.Task, engine.TaskWrapper)


def _doc(obj: object) -> str:
    """The object's own docstring ("" when none): a class does not inherit its
    base's, and a dataclass's generated signature does not count."""
    if isinstance(obj, type):
        doc = vars(obj).get("__doc__") or ""
        if dataclasses.is_dataclass(obj) and doc.startswith(obj.__name__ + "("):
            return ""
        return doc.strip()
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    return (getattr(obj, "__doc__", None) or "").strip()


def _is_routine(value: object) -> bool:
    return inspect.isfunction(value) or isinstance(
        value, (property, classmethod, staticmethod, functools.cached_property)
    )


def _members(cls: type) -> dict[str, tuple[type, object]]:
    """Public methods and properties of ``cls`` defined in engine modules, with the
    class defining each; where several engine classes define a name, the one
    ``cls`` uses."""
    found: dict[str, tuple[type, object]] = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith("engine"):
            continue  # object, dict, Exception ...
        for name, value in vars(klass).items():
            if not name.startswith("_") and name not in found and _is_routine(value):
                found[name] = (klass, value)
    return found


def _undocumented_members(classes: Iterable[type]) -> list[str]:
    return sorted(
        {
            f"{owner.__module__}.{owner.__qualname__}.{name}"
            for cls in classes
            for name, (owner, value) in _members(cls).items()
            if not _doc(value)
        }
    )


def _message(missing: list[str]) -> str:
    return f"{len(missing)} public name(s) without a docstring:\n  " + "\n  ".join(missing)


def _exported_classes() -> list[type]:
    return [obj for name in engine.__all__ if isinstance(obj := getattr(engine, name), type)]


def _huey_classes() -> list[type]:
    return [cls for cls in _exported_classes() if issubclass(cls, engine.Huey)]


def test_exported_names_have_docstrings() -> None:
    missing = sorted(
        f"engine.{name}"
        for name in engine.__all__
        if (isinstance(obj := getattr(engine, name), type) or inspect.isfunction(obj))
        and not _doc(obj)
    )
    assert not missing, _message(missing)


def test_huey_methods_have_docstrings() -> None:
    missing = _undocumented_members(_huey_classes())
    assert not missing, _message(missing)


def test_public_classes_methods_have_docstrings() -> None:
    others = [
        cls
        for cls in _exported_classes()
        if not issubclass(cls, engine.Huey) and cls not in _DEFERRED
    ]
    missing = _undocumented_members([*others, engine.inspect.Inspector])
    assert not missing, _message(missing)


def test_read_model_classes_have_docstrings() -> None:
    missing = sorted(
        f"engine.inspect.{name}"
        for name, obj in vars(engine.inspect).items()
        if isinstance(obj, type)
        and obj.__module__ == "engine.inspect"
        and not name.startswith("_")
        and not _doc(obj)
    )
    assert not missing, _message(missing)


def test_task_wrapper_methods_have_docstrings() -> None:
    missing = _undocumented_members([engine.TaskWrapper])
    assert not missing, _message(missing)


def test_task_methods_have_docstrings() -> None:
    missing = _undocumented_members([engine.Task])
    assert not missing, _message(missing)
