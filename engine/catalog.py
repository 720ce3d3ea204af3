"""A worker's task catalog: the task names it serves, their signatures and options,
as a record tools read without the application's code.

Model floor (imports the ground and ``engine.task``): pure functions. A consumer
builds the record from its registry once at start (:func:`build`), writes it to the
``catalog`` map under its digest (:func:`encode`; workers of one application share
one entry) and names the digest in its registry record; ``engine.inspect`` reads it
back (:func:`decode`), and ``hueyctl enqueue`` checks a call's arguments against a
published signature (:func:`signature`, :func:`check_call`) as it does against the
function's own with ``--app``.

A signature is published as each parameter's name, kind and the ``repr`` of its
default (never the value: a default need not be JSON); a function whose signature
cannot be read (a builtin, say) is published without one, and nothing is checked.
``context=True`` tasks get ``task=`` from the worker: that parameter is left out.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from .keys import CatalogRecord, ParamRecord, TaskRecord
from .task import TaskSpec

__all__ = ["build", "check_call", "decode", "describe", "encode", "params_of", "signature"]

_KIND_NAMES = {
    inspect.Parameter.POSITIONAL_ONLY: "positional_only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
    inspect.Parameter.VAR_POSITIONAL: "var_positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword_only",
    inspect.Parameter.VAR_KEYWORD: "var_keyword",
}
_KIND_OF = {v: k for k, v in _KIND_NAMES.items()}
_NO_DEFAULT = inspect.Parameter.empty


def params_of(func: Callable[..., Any], context: bool = False) -> list[ParamRecord] | None:
    """The parameters of ``func`` as published; None when its signature cannot be read."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    out: list[ParamRecord] = []
    for p in sig.parameters.values():
        if context and p.name == "task":
            continue  # the worker passes it
        rec: ParamRecord = {"name": p.name, "kind": _KIND_NAMES[p.kind]}
        if p.default is not _NO_DEFAULT:
            rec["default"] = repr(p.default)[:80]
        out.append(rec)
    return out


def _task_record(spec: TaskSpec) -> TaskRecord:
    rec: TaskRecord = {"retries": spec.retries, "retry_delay": float(spec.retry_delay)}
    params = params_of(spec.func, spec.context)
    if params is not None:
        rec["params"] = params
    if spec.periodic is not None:
        rec["periodic"] = str(getattr(spec.periodic, "spec", None) or "custom")
    if spec.priority:
        rec["priority"] = spec.priority
    if spec.timeout is not None:
        rec["timeout"] = float(spec.timeout)
    return rec


def build(specs: Iterable[TaskSpec]) -> CatalogRecord:
    """The catalog of a registry's task specs."""
    return {"tasks": {s.name: _task_record(s) for s in sorted(specs, key=lambda s: s.name)}}


def encode(record: CatalogRecord) -> tuple[str, bytes]:
    """(digest, bytes): equal catalogs get one digest, so workers of one app share it."""
    data = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()[:16], data


def decode(data: bytes) -> CatalogRecord | None:
    """A stored catalog, or None when it is unreadable (written by something else)."""
    try:
        rec = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("tasks"), dict):
        return None
    tasks = {}
    for name, task in rec["tasks"].items():
        if not isinstance(task, dict):
            continue  # not a task record: left out, the others still read
        params = task.get("params")
        if params is not None and (not isinstance(params, list) or signature(params) is None):
            task = {k: v for k, v in task.items() if k != "params"}  # unknown, not wrong
        tasks[str(name)] = task
    return cast(CatalogRecord, {"tasks": tasks})


class _Shown(str):
    """A published default: its repr text, shown as is in a signature."""

    def __repr__(self) -> str:
        return str(self)


def signature(params: Sequence[Mapping[str, Any]]) -> inspect.Signature | None:
    """An ``inspect.Signature`` rebuilt from published parameters (defaults stand in as
    their repr text); None when the record is not one this release can read."""
    try:
        if any(not isinstance(p.get("default", ""), str) for p in params):
            return None
        return inspect.Signature(
            [
                inspect.Parameter(
                    str(p["name"]),
                    _KIND_OF[str(p["kind"])],
                    default=_Shown(p["default"]) if "default" in p else _NO_DEFAULT,
                )
                for p in params
            ]
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def describe(params: Sequence[Mapping[str, Any]] | None) -> str:
    """A signature as Python spells it, defaults as their repr: ``(a, b=1, *, c)``;
    ``(?)`` when it is not known."""
    sig = None if params is None else signature(params)
    return "(?)" if sig is None else str(sig)


def check_call(
    sig: inspect.Signature, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> str | None:
    """Why ``args``/``kwargs`` do not fit ``sig`` (Python's own words), or None."""
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None
