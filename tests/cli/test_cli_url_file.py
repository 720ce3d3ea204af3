"""``--url-file PATH`` (and ``HUEYCTL_URL_FILE``): the store URL from a file, so that a
password stays off the command line (issue 12, item 3). Accepted wherever ``--url`` is:
after the subcommand, before it, and by ``worker``."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner, Result
from support.cli import CLEAN_ENV, Queue, one_line_error

from hueyctl.cli import main


def run(*args: str, **env: str) -> Result:
    return CliRunner(env={**CLEAN_ENV, "HUEYCTL_URL_FILE": None, **env}).invoke(main, list(args))


def url_file(tmp_path: Path, text: str, mode: int = 0o600) -> str:
    path = tmp_path / "store-url"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_url_file_after_and_before_the_command_and_from_the_environment(
    q: Queue, tmp_path: Path
) -> None:
    q.huey.enqueue_by_name("tasks.add", (1, 2))  # the store has seen the queue
    path = url_file(tmp_path, f"\n  {q.url}  \n# not read\n")
    for args, env in (
        (["status", "--url-file", path, "--queue", q.huey.name], {}),
        (["--url-file", path, "--queue", q.huey.name, "status"], {}),
        (["status", "--queue", q.huey.name], {"HUEYCTL_URL_FILE": path}),
        # the command line wins over the environment
        (["status", "--url-file", path, "--queue", q.huey.name], {"HUEYCTL_URL": "redis://x:1"}),
    ):
        r = run(*args, **env)
        assert r.exit_code == 0, (args, r.output)
        assert q.huey.name in r.stdout
        assert "warning" not in r.stderr, r.stderr


def test_unreadable_or_empty_url_file_is_one_line(tmp_path: Path) -> None:
    one_line_error(
        run("status", "--url-file", str(tmp_path / "nope")),
        2,
        f"cannot read --url-file {tmp_path / 'nope'}: No such file or directory",
    )
    one_line_error(run("status", "--url-file", url_file(tmp_path, "\n \n")), 2, "holds no URL")
    if os.geteuid() != 0:  # root reads anything
        one_line_error(
            run("status", "--url-file", url_file(tmp_path, "redis://x", 0o000)),
            2,
            "Permission denied",
        )


def test_url_and_url_file_together_are_refused(tmp_path: Path) -> None:
    path = url_file(tmp_path, "redis://127.0.0.1:1/0")
    one_line_error(run("status", "--url", "redis://x", "--url-file", path), 2, "not both")
    one_line_error(run("--url", "redis://x", "status", "--url-file", path), 2, "not both")
    one_line_error(
        run("status", HUEYCTL_URL="redis://x", HUEYCTL_URL_FILE=path),
        2,
        "both HUEYCTL_URL and HUEYCTL_URL_FILE are set",
    )


def test_the_password_in_the_file_is_never_shown(tmp_path: Path) -> None:
    path = url_file(tmp_path, "redis://:hunter2@127.0.0.1:1/0")
    line = one_line_error(run("status", "--url-file", path), 69, "redis://:***@127.0.0.1:1/0")
    assert "hunter2" not in line


def test_a_world_readable_url_file_with_a_password_is_warned_about(tmp_path: Path) -> None:
    path = url_file(tmp_path, "redis://:hunter2@127.0.0.1:1/0", 0o644)
    r = run("status", "--url-file", path)
    first, *_ = r.stderr.splitlines()
    assert first == (
        f"hueyctl: warning: --url-file {path} holds a password and every local user can"
        f" read it: chmod o-r {path}"
    )
    assert "hunter2" not in r.stderr
    # no password in it: nothing to say
    plain = url_file(tmp_path, "redis://127.0.0.1:1/0", 0o644)
    assert "warning" not in run("status", "--url-file", plain).stderr


def test_worker_warns_about_a_password_on_its_command_line(tmp_path: Path) -> None:
    r = run("worker", "no_such_module_here.huey", "--url", "redis://:hunter2@127.0.0.1:1/0")
    lines = r.stderr.splitlines()
    assert lines[0].startswith("hueyctl: warning: --url holds a password, visible to every")
    assert "--url-file PATH" in lines[0] and "hunter2" not in r.stderr
    r = run("worker", "no_such_module_here.huey", "--url-file", str(tmp_path / "nope"))
    one_line_error(r, 2, "cannot read --url-file")
    path = url_file(tmp_path, "redis://:hunter2@127.0.0.1:1/0")
    r = run("worker", "no_such_module_here.huey", "--url-file", path)
    assert "warning" not in r.stderr and "hunter2" not in r.stderr
