"""The ``hueyctl`` command group. Commands stay thin: they parse options, call the
engine (facade or ``engine.inspect``) and print; engine errors become one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from engine.exceptions import EngineError

from .errors import translate

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Run a command body, turning engine errors into one-line messages."""

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EngineError as exc:
            raise translate(exc) from None

    return inner  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hueyctl")
def main() -> None:
    """Run, inspect and steer task queues."""


from . import demo, worker_cmd  # noqa: E402,F401  (register the commands)
