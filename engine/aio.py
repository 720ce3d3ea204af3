"""The asyncio worker (``hueyctl worker APP -k asyncio -w 200``): one event loop, many
coroutines in flight.

Concurrency model (docs/asyncio.md has the user's view):

* The consumer's dispatcher thread claims in batches exactly as for thread workers
  (same leases, heartbeats, recovery, claim-ahead): at-least-once delivery is the
  consumer's, unchanged. A feeder thread takes each claimed task when one of the
  ``workers`` slots is free and hands it to the loop (``call_soon_threadsafe``);
  what waits for a slot stays in the consumer's inbox, so a stop or a lease lapse
  hands it back as it does for threads.
* On the loop (a thread of its own, one loop for the worker's life), each task is one
  ``asyncio.Task``: an ``async def`` task is awaited there, cancelled at its
  ``timeout`` (``asyncio.timeout``); a plain ``def`` task runs in a thread pool
  (``run_in_executor``), where its timeout is cooperative as under thread workers.
* Outcomes go to the consumer's committer, batched, exactly as thread workers' do;
  the slot is freed once the outcome is committed.
* Signal handlers and pre-execute hooks of an async task run on the loop thread
  (keep them quick); a call that is skipped (revoked, expired, cancelled by a
  hook) is committed from the thread pool, so the loop never waits on the store.

:meth:`AsyncRunner.cancel` cancels a running coroutine (``CancelledError`` inside the
task, at its current ``await``); the call then ends as cancelled
(:class:`~engine.exceptions.CancelExecution`, not retried). It is the hook for
``hueyctl cancel``.

Runtime floor: works on an :class:`~engine.executor.Executor`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .coro import within
from .exceptions import CancelExecution
from .executor import PENDING, Executor, Status
from .storage.base import Claimed
from .task import Task, TaskSpec

log = logging.getLogger("huey.asyncio")

#: Threads for plain ``def`` tasks under an asyncio worker, at most.
SYNC_THREADS = 16


class AsyncRunner:
    """One event loop on its own thread running claimed tasks as coroutines."""

    def __init__(
        self,
        executor: Executor,
        slots: int,
        take: Callable[[], Claimed | None],
        forget: Callable[[Claimed], None],
        sync_threads: int = SYNC_THREADS,
    ) -> None:
        self.executor = executor
        self.free = slots  # coroutine slots free (touched on the loop thread only)
        self._take, self._forget = take, forget
        self.loop = asyncio.new_event_loop()
        self.pool = ThreadPoolExecutor(max_workers=sync_threads, thread_name_prefix="sync-task")
        #: The coroutine running each task id (touched on the loop thread only).
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        #: The most tasks on the loop at once so far (tests and the benchmark read it; a
        #: task counts until its coroutine ends, just after its slot is freed).
        self.peak = 0
        self._cancelled: set[str] = set()
        self._live: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._serve, name="asyncio-loop", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def wake(self) -> None:
        """New claimed tasks wait (from any thread): the loop takes what its free slots
        allow. One wake-up per claimed batch, not per task."""
        self.loop.call_soon_threadsafe(self._pump)

    def _pump(self) -> None:
        while self.free > 0 and (item := self._take()) is not None:
            self.free -= 1
            job = self.loop.create_task(self._run(item))
            self._live.add(job)
            job.add_done_callback(self._live.discard)
        self.peak = max(self.peak, len(self._live))

    def _ended(self) -> None:
        # The slot is free once the task has run (its coroutine, or its thread for a
        # plain task); its claim is forgotten once its outcome is committed.
        self.free += 1
        self._pump()

    def cancel(self, task_id: str) -> None:
        """Cancel the running coroutine of ``task_id`` (from any thread): it sees
        ``CancelledError`` at its current ``await`` and the call ends as cancelled.
        Nothing happens if it is not running here (or is a plain ``def`` task)."""
        self.loop.call_soon_threadsafe(self._cancel, task_id)

    def _cancel(self, task_id: str) -> None:
        job = self.tasks.get(task_id)
        if job is not None:
            self._cancelled.add(task_id)
            job.cancel()

    def close(self, timeout: float = 2.0) -> None:
        """Cancel what still runs (the consumer has handed it back), stop the loop."""
        if not self._thread.is_alive():
            return

        async def wind_down() -> None:
            for job in list(self._live):
                job.cancel()
            await asyncio.gather(*self._live, return_exceptions=True)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(wind_down(), self.loop)
        self._thread.join(timeout)
        self.pool.shutdown(wait=False, cancel_futures=True)

    # --- one task, on the loop -----------------------------------------------------------
    async def _run(self, item: Claimed) -> None:
        status: Status = None

        def done() -> None:  # (on the committer's thread)
            self._forget(item)

        try:
            status = await self._execute(item, done)
        except asyncio.CancelledError:
            pass  # the runner is closing: the consumer handed the task back
        except BaseException:
            # As a thread worker: the task stays running in the store and is handed
            # back (its delivery counted) by the orphan sweep once we forget it.
            log.exception("unexpected error running task %s", item.id)
        finally:
            if status is not PENDING:
                done()
            self.loop.call_soon(self._ended)

    async def _execute(self, item: Claimed, done: Callable[[], None]) -> Status:
        ex = self.executor
        prepared = ex.prepare(item)
        if not isinstance(prepared, tuple):
            return prepared
        spec, task, data = prepared
        if not spec.is_async:
            return await self.loop.run_in_executor(self.pool, ex.execute, spec, task, data, done)
        ex.track(task)
        try:
            return await self._execute_async(spec, task, data, done)
        finally:
            ex.untrack(task)

    async def _execute_async(
        self, spec: TaskSpec, task: Task, data: bytes, done: Callable[[], None]
    ) -> Status:
        ex = self.executor
        skip = ex.preflight(task)
        if skip is not None:
            pool, signal, outcome = self.pool, skip[0], skip[1]
            return await self.loop.run_in_executor(pool, ex.skip, task, signal, data, outcome)
        started = ex.begin(task)
        value: Any = None
        exception: Exception | None = None
        tb = ""
        current = asyncio.current_task()
        assert current is not None
        self.tasks[task.id] = current
        try:
            kwargs = dict(task.kwargs, task=task) if spec.context else task.kwargs
            value = await within(spec.func(*task.args, **kwargs), task.timeout)
        except asyncio.CancelledError:
            if task.id not in self._cancelled:
                raise  # the loop is closing
            current.uncancel()
            exception = CancelExecution("cancelled while running", retry=False)
            tb = traceback.format_exc()
        except Exception as exc:
            exception, tb = exc, traceback.format_exc()
        except BaseException as exc:  # sys.exit() in a task: a failure, not our exit
            exception = RuntimeError(f"task raised {exc!r}").with_traceback(exc.__traceback__)
            tb = traceback.format_exc()
        finally:
            self.tasks.pop(task.id, None)
            self._cancelled.discard(task.id)
        return ex.conclude(spec, task, data, started, value, exception, tb, done)
