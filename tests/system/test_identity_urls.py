"""URLs carry identity (issue 12, item 4): a ``redis+sentinel://`` URL logs in to the
master as the ACL user it names (the master's ``default`` user is off), and to the
sentinels with their own password or ACL user; all started here from config files.
TLS (``rediss://``, mutual TLS, ``rediss+sentinel://``, ``rediss+cluster://``) is in
test_tls_urls.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.procs import wait_for
from support.secure import (
    ADMIN_PW,
    APP_PW,
    QUEUE,
    SENTINEL_PW,
    SENTINEL_USER_PW,
    ConfServer,
    apply_acl,
    client_users,
    denials,
    master_conf,
    round_trip,
    sentinel_conf,
)

from engine.exceptions import StoreUnavailable
from engine.loader import connect
from hueyctl.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConfServer, ConfServer]]:
    """A master whose default user is off (an ``app`` user from ``hueyctl acl app``), and
    a sentinel with ``requirepass`` and an ACL user of its own watching it."""
    root = tmp_path_factory.mktemp("identity")
    master = ConfServer(root / "master", master_conf(), dict(username="admin", password=ADMIN_PW))
    try:
        apply_acl(master.admin(), "app", "app", APP_PW)
        sentinel = ConfServer(
            root / "sentinel", sentinel_conf(master.port), dict(password=SENTINEL_PW),
            sentinel=True,
        )  # fmt: skip
        try:
            wait_for(
                lambda: sentinel.admin().execute_command("SENTINEL", "MASTERS") != [],
                15,
                "the sentinel to watch the master",
            )
            yield master, sentinel
        finally:
            sentinel.stop()
    finally:
        master.stop()


def sentinel_url(sentinel: ConfServer, query: str, user: str = "app") -> str:
    return f"redis+sentinel://{user}:{APP_PW}@127.0.0.1:{sentinel.port}/mymaster?{query}"


def test_sentinel_url_logs_in_to_the_master_as_its_acl_user(
    guarded: tuple[ConfServer, ConfServer],
) -> None:
    master, sentinel = guarded
    admin = master.admin()
    admin.acl_log_reset()
    url = sentinel_url(sentinel, f"sentinel_password={SENTINEL_PW}")
    huey = connect(url, QUEUE)
    huey.pending_count()  # connected
    assert client_users(admin, skip=("admin", "watcher")) == ["app"]
    assert huey.storage.client.connection_pool.connection_kwargs["username"] == "app"
    described = huey.storage.describe()
    assert APP_PW not in described and SENTINEL_PW not in described
    assert "app:***@" in described and "sentinel_password=***" in described
    huey.storage.close()
    round_trip(url)
    assert denials(admin, "app") == []  # hueyctl acl app grants what it needs
    assert denials(admin, "default") == []


def test_sentinel_with_requirepass_needs_the_sentinel_password(
    guarded: tuple[ConfServer, ConfServer],
) -> None:
    _, sentinel = guarded
    url = sentinel_url(sentinel, "")
    huey = connect(url, QUEUE)
    with pytest.raises(StoreUnavailable) as info:
        huey.pending_count()
    text = str(info.value)
    assert f"sentinel 127.0.0.1:{sentinel.port}" in text and "sentinel_password=" in text
    assert "mymaster" in text and APP_PW not in text and "<redis" not in text, text
    wrong = connect(sentinel_url(sentinel, "sentinel_password=wrong"), QUEUE)
    with pytest.raises(StoreUnavailable):
        wrong.pending_count()
    # the CLI: one line, no traceback, no password
    r = CliRunner().invoke(main, ["status", "--url", url, "--queue", QUEUE])
    assert r.exit_code != 0
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    assert APP_PW not in r.output


def test_sentinel_acl_user_with_only_the_master_lookup(
    guarded: tuple[ConfServer, ConfServer],
) -> None:
    master, sentinel = guarded
    query = f"sentinel_username=hueysent&sentinel_password={SENTINEL_USER_PW}"
    round_trip(sentinel_url(sentinel, query))
    sentinel_log = sentinel.admin().acl_log()
    assert [e for e in sentinel_log if e.get("username") in (b"hueysent", "hueysent")] == []
    assert denials(master.admin(), "app") == []


def test_sentinel_url_with_a_wrong_user_is_refused_by_the_master(
    guarded: tuple[ConfServer, ConfServer],
) -> None:
    """The user name is not dropped: a user that does not exist fails to log in (the
    old parser logged in as ``default`` with the password alone)."""
    _, sentinel = guarded
    huey = connect(sentinel_url(sentinel, f"sentinel_password={SENTINEL_PW}", "nobody"), QUEUE)
    with pytest.raises(StoreUnavailable, match="nobody:\\*\\*\\*@"):
        huey.pending_count()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sentinel_bogus=1", "unknown option(s) sentinel_bogus"),
        ("bogus=1", "unknown option(s) bogus"),
        ("ssl_ca_certs=/x", "ssl_ca_certs need TLS: use rediss://"),
        ("sentinel_ssl_ca_certs=/x", "sentinel_ssl_ca_certs need TLS: use sentinel_ssl=true"),
        ("sentinel_ssl=maybe", "ssl must be true or false"),
    ],
)
def test_bad_sentinel_options_are_one_line(query: str, message: str) -> None:
    from engine.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        connect(f"redis+sentinel://u:p@127.0.0.1:1/m?{query}", QUEUE)


def test_sentinel_url_user_and_options_reach_the_pool() -> None:
    """Without servers: what the parser hands redis-py (percent-encoded user info
    decoded, db from the path, TLS files typed as given)."""
    huey = connect(
        "rediss+sentinel://ap%40p:p%3Aw@127.0.0.1:1,127.0.0.2/m/3?ssl_ca_certs=/ca.pem"
        "&ssl_check_hostname=false&sentinel_username=su&sentinel_password=sp"
        "&sentinel_ssl=true&sentinel_ssl_ca_certs=/sca.pem",
        QUEUE,
    )
    client = huey.storage.client
    kw = client.connection_pool.connection_kwargs
    assert (kw["username"], kw["password"], kw["db"]) == ("ap@p", "p:w", 3)
    assert kw["ssl_ca_certs"] == "/ca.pem" and kw["ssl_check_hostname"] is False
    manager = client.connection_pool.sentinel_manager
    hosts = [s.connection_pool.connection_kwargs for s in manager.sentinels]
    assert [(h["host"], h["port"]) for h in hosts] == [("127.0.0.1", 1), ("127.0.0.2", 26379)]
    assert hosts[0]["username"] == "su" and hosts[0]["password"] == "sp"
    assert hosts[0]["ssl_ca_certs"] == "/sca.pem"
    assert manager.sentinels[0].connection_pool.connection_class.__name__ == "SSLConnection"
    assert client.connection_pool.connection_class.__name__ == "SentinelManagedSSLConnection"
    huey.storage.close()


def test_old_style_sentinel_urls_still_work(tmp_path: Path) -> None:
    huey = connect("redis+sentinel://:pw@127.0.0.1:1/m/2", QUEUE)
    kw = huey.storage.client.connection_pool.connection_kwargs
    assert (kw.get("username"), kw["password"], kw["db"]) == (None, "pw", 2)
