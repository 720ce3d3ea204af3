"""What huey's djhuey offers, ours offers under the same names (huey 3.5.4 is in the
test extra)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

import engine.contrib.djhuey as ours
from engine.contrib.djhuey.management.commands.run_huey import Command

# huey.contrib.djhuey's public names (its module's own functions and the queue's
# methods it re-exports).
HUEY_NAMES = (
    "HUEY task periodic_task lock_task enqueue restore restore_all restore_by_id revoke "
    "revoke_all revoke_by_id is_revoked result scheduled on_startup on_shutdown pre_execute "
    "post_execute signal disconnect_signal close_db db_task db_periodic_task on_commit_task "
    "default_queue_name"
).split()


def test_every_name_of_hueys_djhuey_is_here() -> None:
    import huey.contrib.djhuey as theirs  # builds huey's own queue from our settings

    assert all(hasattr(theirs, n) for n in HUEY_NAMES)  # the list is huey's
    assert [n for n in HUEY_NAMES if not hasattr(ours, n)] == []
    assert ours.task.__self__ is ours.HUEY and ours.enqueue.__self__ is ours.HUEY


def _options(command: BaseCommand) -> set[str]:
    parser = command.create_parser("manage.py", "run_huey")
    return {s for action in parser._actions for s in action.option_strings}


def test_run_huey_takes_every_option_of_hueys() -> None:
    from huey.contrib.djhuey.management.commands.run_huey import Command as HueyCommand

    theirs = _options(HueyCommand())
    assert {"-V", "--huey-verbose", "-A", "--disable-autoload", "-k", "-n", "-f"} <= theirs
    assert theirs - _options(Command()) == set()


def test_docs_name_every_run_huey_option() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "django.md").read_text()
    django_own = set(_options(BaseCommand()))
    missing = sorted(o for o in _options(Command()) - django_own if o.startswith("--"))
    assert [o for o in missing if f"`{o}" not in doc] == []
