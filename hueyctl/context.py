"""Connection options shared by every command, resolved lazily.

``--app/-A module.attr`` imports the application's queue (task defaults and
periodic crontabs known); ``--url`` + ``--queue`` need no application code at
all (the envelope is readable without it). Both come from the environment too:
``HUEYCTL_APP``, ``HUEYCTL_URL``, ``HUEYCTL_QUEUE``. Nothing connects until a
command asks for ``ctx.huey``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from engine import loader
from engine.api import Huey
from engine.exceptions import ConfigurationError
from engine.inspect import Inspector

F = TypeVar("F", bound=Callable[..., Any])


class Connection:
    def __init__(self, app: str | None, url: str | None, queue: str | None) -> None:
        self.app, self.url, self.queue = app, url, queue
        self._huey: Huey | None = None

    @property
    def huey(self) -> Huey:
        if self._huey is None:
            self._huey = self._resolve()
        return self._huey

    def _resolve(self) -> Huey:
        if self.app:
            huey = loader.load(self.app)
            if not isinstance(huey, Huey):
                raise ConfigurationError(
                    f"{self.app!r} is a {type(huey).__name__}, not a Huey queue"
                )
            if self.queue and self.queue != huey.name:
                raise ConfigurationError(
                    f"--queue {self.queue!r} does not match the app's queue {huey.name!r}"
                )
            return huey
        if self.url:
            return loader.connect(self.url, self.queue or "huey")  # type: ignore[no-any-return]
        raise click.UsageError(
            "say which queue: --app module.attr (or HUEYCTL_APP), "
            "or --url URL --queue NAME (or HUEYCTL_URL / HUEYCTL_QUEUE)"
        )

    @property
    def inspector(self) -> Inspector:
        return Inspector(self.huey)


def connection_options(fn: F) -> F:
    """Add --app/--url/--queue and pass ``conn: Connection`` to the command."""

    @click.option(
        "-A",
        "--app",
        envvar="HUEYCTL_APP",
        metavar="MODULE.ATTR",
        help="The application's queue, e.g. main.huey [env HUEYCTL_APP].",
    )
    @click.option(
        "--url",
        envvar="HUEYCTL_URL",
        metavar="URL",
        help="Store URL without app code: redis://, rediss://, unix://, "
        "sqlite:///path [env HUEYCTL_URL].",
    )
    @click.option(
        "--queue",
        envvar="HUEYCTL_QUEUE",
        metavar="NAME",
        help="Queue name with --url (default huey) [env HUEYCTL_QUEUE].",
    )
    @functools.wraps(fn)
    def inner(
        *args: Any, app: str | None, url: str | None, queue: str | None, **kwargs: Any
    ) -> Any:
        return fn(*args, conn=Connection(app, url, queue), **kwargs)

    return inner  # type: ignore[return-value]
