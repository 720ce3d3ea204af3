"""The committer: a lone finish is committed on the task's own thread (no hand-off),
finishes that meet a commit on its way are batched on the committer's thread."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from engine.executor import Committer
from engine.storage.base import Outcome
from engine.storage.memory import MemoryStorage


class Recording(MemoryStorage):
    """Records which thread sent each batch; ``gate`` holds a batch on the wire."""

    def __init__(self) -> None:
        super().__init__("q")
        self.batches: list[tuple[str, list[str]]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.sending = threading.Event()

    def finish_many(
        self, consumer: str, items: Sequence[tuple[str, float, Outcome]]
    ) -> list[str | None]:
        self.sending.set()
        assert self.gate.wait(10)
        self.batches.append((threading.current_thread().name, [i for i, _, _ in items]))
        return [None for _ in items]


def _collect() -> tuple[list[Any], Any]:
    told: list[Any] = []

    def then(refused: str | None, exc: BaseException | None) -> None:
        told.append((threading.current_thread().name, refused, exc))

    return told, then


def test_a_lone_finish_is_committed_on_the_callers_thread_before_submit_returns() -> None:
    store = Recording()
    committer = Committer(lambda: store, "c1", lease=5.0)
    try:
        told, then = _collect()
        committer.submit("t1", 1.0, Outcome(), then, inline=True)
        me = threading.current_thread().name
        assert store.batches == [(me, ["t1"])]
        assert told == [(me, None, None)]
    finally:
        committer.close()


def test_without_inline_the_committer_thread_commits() -> None:
    store = Recording()
    committer = Committer(lambda: store, "c1", lease=5.0)
    try:
        assert committer.finish("t0", 1.0, Outcome()) is None  # finish waits: inline
        done = threading.Event()
        committer.submit("t1", 1.0, Outcome(), lambda r, e: done.set())
        assert done.wait(10)
        assert [b[0] for b in store.batches] == [threading.current_thread().name, "committer"]
    finally:
        committer.close()


def test_finishes_meeting_a_commit_on_the_wire_wait_and_go_in_one_batch() -> None:
    store = Recording()
    committer = Committer(lambda: store, "c1", lease=5.0)
    try:
        store.gate.clear()
        first = threading.Thread(
            target=committer.submit, args=("t1", 1.0, Outcome(), lambda r, e: None, True)
        )
        first.start()
        assert store.sending.wait(10)  # t1 is on the wire, inline on its own thread
        told, then = _collect()
        committer.submit("t2", 1.0, Outcome(), then, inline=True)  # queued, not inline
        committer.submit("t3", 1.0, Outcome(), then, inline=True)
        assert told == []
        store.gate.set()
        first.join(10)
        for _ in range(1000):
            if len(told) == 2:
                break
            threading.Event().wait(0.01)
        assert [t[0] for t in told] == ["committer", "committer"]
        assert sorted(i for _, ids in store.batches for i in ids) == ["t1", "t2", "t3"]
        assert len(store.batches) <= 3
    finally:
        committer.close()
