"""Running an ``async def`` task's coroutine where the worker is synchronous.

Runtime floor (imports only the ground). A thread worker, a process worker and
immediate mode call a task and get a coroutine back; :func:`run_coroutine` runs it
to completion on **one event loop per thread**, created on first use and reused for
every later coroutine of that thread (``run_until_complete``), never
``asyncio.run`` per call: connections and other loop-bound objects a task keeps in
module globals survive from one call to the next on the same thread.

If the calling thread already runs a loop (immediate mode used from async code),
the coroutine runs on a helper thread's loop instead, and the caller waits: a
running loop cannot be re-entered.

Timeouts: :func:`within` wraps a coroutine in ``asyncio.timeout``, so a task that
runs past its ``timeout`` is cancelled where it awaits (``CancelledError`` inside
it, its ``finally`` blocks run) and the call fails with :class:`TaskTimeout`, which
retries as any failure does. A coroutine that never awaits cannot be interrupted.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .exceptions import TaskTimeout

_local = threading.local()
_helper: ThreadPoolExecutor | None = None
_helper_lock = threading.Lock()


def thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's own event loop for task coroutines (made once, then reused)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


async def within(coro: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
    """Await ``coro``; past ``timeout`` seconds it is cancelled and TaskTimeout raised.
    A TimeoutError the task raises itself passes through unchanged."""
    if not timeout:
        return await coro
    try:
        async with asyncio.timeout(timeout) as scope:
            return await coro
    except TimeoutError:
        if scope.expired():
            raise TaskTimeout(f"timeout {timeout}s") from None
        raise


def run_coroutine(coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
    """Run a task's coroutine to completion from synchronous code (see the module)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return thread_loop().run_until_complete(within(coro, timeout))
    return _helper_pool().submit(run_coroutine, coro, timeout).result()


def _helper_pool() -> ThreadPoolExecutor:
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = ThreadPoolExecutor(max_workers=4, thread_name_prefix="task-loop")
        return _helper
