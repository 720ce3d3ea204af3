"""Awaiting results from asyncio code, under huey's names (``huey.contrib.asyncio``).

``aget_result(res)`` and ``aget_result_group(rg)`` take the same arguments as
huey's; they await :meth:`Result.aget <engine.result.Result.aget>` and
:meth:`ResultGroup.aget <engine.result.ResultGroup.aget>`, which on Redis are woken
when the result lands instead of polling. ``backoff`` and ``max_delay`` are
accepted for compatibility and have no effect there.
"""

from __future__ import annotations

from typing import Any

from ..result import Result, ResultGroup, gather_all

__all__ = ["aget_result", "aget_result_group"]


async def aget_result(
    res: Result,
    backoff: float = 1.15,
    max_delay: float = 1.0,
    preserve: bool = False,
    timeout: float | None = None,
) -> Any:
    """Await the value of ``res``; raises ResultTimeout after ``timeout`` seconds
    (None: no limit) and TaskException if the task failed."""
    return await res.aget(timeout=timeout, backoff=backoff, max_delay=max_delay, preserve=preserve)


async def aget_result_group(rg: ResultGroup, *args: Any, **kwargs: Any) -> list[Any]:
    """Await every value of ``rg`` concurrently, in order (options as aget_result)."""
    return await gather_all([aget_result(r, *args, **kwargs) for r in rg])
