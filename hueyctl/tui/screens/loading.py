"""A screen that reads its subject off the UI thread: the detail screens' one loader.

``reload`` starts a read in a thread worker unless one is on its way (a slow store must
not pile reads up); the read's result comes back as a message, posted to the screen,
and a failure as one line in the screen, whatever the error (a bug in a read must not
leave the screen stuck on "loading…").
"""

from __future__ import annotations

from textual import work
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from engine.exceptions import EngineError


class LoadingScreen(Screen[None]):
    """Subclasses give :meth:`_read` (runs in a thread: returns the loaded message) and
    :meth:`_show_error` (runs on the UI thread), and clear ``_loading`` when their
    message arrives."""

    _loading = False

    def reload(self) -> None:
        """Read the subject again, unless a read is still on its way."""
        if not self._loading:
            self._loading = True
            self._fetch()

    def _read(self) -> Message:
        raise NotImplementedError

    def _show_error(self, error: str) -> None:
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _fetch(self) -> None:
        worker = get_current_worker()
        message: Message | None = None
        try:
            message, error = self._read(), ""
        except EngineError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in a read must not leave the screen stuck
            error = f"{type(exc).__name__}: {exc}"
        if worker.is_cancelled:
            return
        if message is not None:
            self.post_message(message)
        else:
            self.app.call_from_thread(self._failed, error)

    def _failed(self, error: str) -> None:
        self._loading = False
        self._show_error(error)
