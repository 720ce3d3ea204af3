"""The audit trail as hueyctl writes it: one event per operator action.

Every command and ``top`` key that changes the queue calls :func:`record` once,
after the change, with what it did (``QueueCore.record_admin_action`` writes the
``admin.<action>`` event). The action is done by then: a failed write is a
warning on stderr (the CLI) or in the returned text (``top``), never an error.
"""

from __future__ import annotations

from engine.api import Huey
from engine.exceptions import EngineError

from . import render


def record(
    huey: Huey,
    action: str,
    target: str = "",
    *,
    task_id: str = "",
    task: str = "",
    count: int | None = None,
    detail: str = "",
    quiet: bool = False,
) -> str | None:
    """Write the event; None, or (a store refusal) the warning. Unless ``quiet`` the
    warning is also printed on stderr."""
    try:
        huey.record_admin_action(
            action, target, task_id=task_id, task=task, count=count, detail=detail
        )
    except EngineError as exc:
        warning = f"the audit event admin.{action} was not written: {exc}"
        if not quiet:
            render.note(f"hueyctl: warning: {warning}")
        return warning
    return None
