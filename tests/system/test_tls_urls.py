"""TLS from the URL (issue 12, items 4 and 7): certificates made here with openssl (a CA,
a server and a client certificate), redis-servers listening on TLS only (``port 0``).
``rediss://...?ssl_ca_certs=`` works and checks the server, mutual TLS takes
``ssl_certfile``/``ssl_keyfile``, nothing falls back to plaintext, ``ssl_cert_reqs=none``
says once that verification is off, and ``rediss+sentinel://`` / ``rediss+cluster://``
carry the same options, the ACL user and (for the sentinels) their own."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from support.procs import free_cluster_port, wait_for
from support.secure import (
    ADMIN_PW,
    APP_PW,
    QUEUE,
    SENTINEL_PW,
    WATCHER_PW,
    Certs,
    ConfServer,
    apply_acl,
    client_users,
    denials,
    make_certs,
    master_conf,
    round_trip,
)

from engine.exceptions import StoreUnavailable
from engine.executor import Executor
from engine.loader import connect
from engine.storage import redis_connect

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def tls_server(root: Path, certs: Certs, clients: str, extra: str = "") -> ConfServer:
    """A master on TLS only; ``clients``: tls-auth-clients (yes: client certificate needed)."""
    admin = dict(
        username="admin", password=ADMIN_PW, ssl_ca_certs=str(certs.ca),
        ssl_certfile=str(certs.client_cert), ssl_keyfile=str(certs.client_key),
    )  # fmt: skip
    conf = certs.server_conf() + f"tls-auth-clients {clients}\n" + master_conf() + extra
    server = ConfServer(root, conf, admin, tls=True)
    apply_acl(server.admin(), "app", "app", APP_PW)
    return server


@pytest.fixture(scope="module")
def server(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConfServer]:
    srv = tls_server(tmp_path_factory.mktemp("tls"), certs, "optional")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mtls_server(certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConfServer]:
    srv = tls_server(tmp_path_factory.mktemp("mtls"), certs, "yes")
    yield srv
    srv.stop()


def url(srv: ConfServer, query: str, scheme: str = "rediss") -> str:
    return f"{scheme}://app:{APP_PW}@127.0.0.1:{srv.port}/0?{query}"


def ca(certs: Certs) -> str:
    return f"ssl_ca_certs={quote(str(certs.ca))}"


def client_cert(certs: Certs) -> str:
    return (
        f"ssl_certfile={quote(str(certs.client_cert))}&ssl_keyfile={quote(str(certs.client_key))}"
    )


def test_rediss_with_a_private_ca_works_as_the_acl_user(server: ConfServer, certs: Certs) -> None:
    admin = server.admin()
    admin.acl_log_reset()
    huey = connect(url(server, ca(certs)), QUEUE)
    huey.pending_count()
    assert client_users(admin, skip=("admin",)) == ["app"]
    huey.storage.close()
    round_trip(url(server, ca(certs)))
    assert denials(admin, "app") == []


def test_no_plaintext_fallback(server: ConfServer, certs: Certs) -> None:
    """Plain ``redis://`` to the TLS port fails, and so does ``rediss://`` whose CA
    does not vouch for the server: nothing is sent in clear, nothing unverified."""
    for bad in (url(server, "", "redis"), url(server, "")):
        huey = connect(bad, QUEUE)
        with pytest.raises(StoreUnavailable) as info:
            huey.pending_count()
        assert APP_PW not in str(info.value)
    assert "certificate verify failed" in str(info.value)
    assert client_users(server.admin(), skip=("admin",)) == []


def test_mutual_tls_needs_the_client_certificate(mtls_server: ConfServer, certs: Certs) -> None:
    huey = connect(url(mtls_server, ca(certs)), QUEUE)
    with pytest.raises(StoreUnavailable):
        huey.pending_count()
    round_trip(url(mtls_server, f"{ca(certs)}&{client_cert(certs)}"))


def test_awaited_results_connect_with_the_same_tls_options(
    mtls_server: ConfServer, certs: Certs
) -> None:
    """``await res.aget()`` opens its own (asyncio) connections: with the URL's CA,
    client certificate and ACL user, as the store's own."""
    huey = connect(url(mtls_server, f"{ca(certs)}&{client_cert(certs)}"), QUEUE)

    @huey.task(name="tls.add")
    def add(a: int, b: int) -> int:
        return a + b

    res = add(1, 2)

    async def main() -> int:
        try:
            job = asyncio.ensure_future(res.aget(timeout=10))
            await asyncio.sleep(0.1)  # registered, blocked: now the worker runs it
            await asyncio.to_thread(Executor(huey, "tls").step, time.time())
            value = int(await job)
            assert huey.storage._awaiter() is not None  # type: ignore[attr-defined]  # woken
            return value
        finally:
            await huey.storage.aclose()

    assert asyncio.run(main()) == 3
    huey.storage.close()


def test_cert_reqs_none_warns_once_per_process(
    server: ConfServer, certs: Certs, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(redis_connect, "_told_unverified", False)
    caplog.set_level(logging.WARNING, logger="engine.storage.redis")
    for _ in range(2):
        huey = connect(url(server, "ssl_cert_reqs=none"), QUEUE)
        huey.pending_count()  # works: nothing is checked
        huey.storage.close()
    told = [r.getMessage() for r in caplog.records if "verification is off" in r.getMessage()]
    assert len(told) == 1, told
    assert "ssl_cert_reqs=none" in told[0] and APP_PW not in told[0]
    # a verified URL says nothing
    caplog.clear()
    monkeypatch.setattr(redis_connect, "_told_unverified", False)
    connect(url(server, ca(certs)), QUEUE).pending_count()
    assert not [r for r in caplog.records if "verification is off" in r.getMessage()]
    # connection keywords instead of a URL: the same warning
    from engine import RedisHuey

    keywords = RedisHuey(
        QUEUE, host="127.0.0.1", port=server.port, username="app", password=APP_PW,
        ssl=True, ssl_cert_reqs="none",
    )  # fmt: skip
    keywords.pending_count()
    told = [r.getMessage() for r in caplog.records if "verification is off" in r.getMessage()]
    assert told and f"redis://127.0.0.1:{server.port}" in told[0]


def test_cert_reqs_none_warning_in_the_cli(server: ConfServer) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hueyctl", "status", "--queue", QUEUE],
        env=dict(os.environ, HUEYCTL_URL=url(server, "ssl_cert_reqs=none")),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("TLS certificate verification is off") == 1, out.stderr
    assert APP_PW not in out.stderr + out.stdout


def test_rediss_sentinel_carries_tls_and_users_for_both_sides(certs: Certs, tmp_path: Path) -> None:
    master = tls_server(tmp_path / "master", certs, "optional")
    try:
        conf = (
            certs.server_conf() + "tls-auth-clients no\ntls-replication yes\n"
            f"requirepass {SENTINEL_PW}\n"
            f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\n"
            "sentinel auth-user mymaster watcher\n"
            f"sentinel auth-pass mymaster {WATCHER_PW}\n"
        )
        sentinel = ConfServer(
            tmp_path / "sentinel", conf, dict(password=SENTINEL_PW, ssl_ca_certs=str(certs.ca)),
            tls=True, sentinel=True,
        )  # fmt: skip
        try:
            wait_for(
                lambda: sentinel.admin().execute_command("SENTINEL", "MASTERS") != [],
                15,
                "the sentinel to watch the master",
            )
            base = f"rediss+sentinel://app:{APP_PW}@127.0.0.1:{sentinel.port}/mymaster?"
            sentinel_side = (
                f"sentinel_ssl=true&sentinel_ssl_ca_certs={quote(str(certs.ca))}"
                f"&sentinel_password={SENTINEL_PW}"
            )
            good = f"{base}{ca(certs)}&{sentinel_side}"
            admin = master.admin()
            admin.acl_log_reset()
            round_trip(good)
            assert denials(admin, "app") == []
            huey = connect(good, QUEUE)
            huey.pending_count()
            assert client_users(admin, skip=("admin", "watcher")) == ["app"]
            huey.storage.close()
            # the sentinels speak TLS only: without sentinel_ssl nobody answers
            plain_sentinels = connect(f"{base}{ca(certs)}&sentinel_password={SENTINEL_PW}", QUEUE)
            with pytest.raises(StoreUnavailable):
                plain_sentinels.pending_count()
            # the data side checks the master's certificate too
            unverified_data = connect(f"{base}{sentinel_side}", QUEUE)
            with pytest.raises(StoreUnavailable, match="certificate verify failed"):
                unverified_data.pending_count()
        finally:
            sentinel.stop()
    finally:
        master.stop()


def test_rediss_cluster_carries_tls_and_the_acl_user(certs: Certs, tmp_path: Path) -> None:
    port = free_cluster_port()
    conf = (
        certs.server_conf() + "tls-auth-clients optional\ntls-cluster yes\n"
        "cluster-enabled yes\ncluster-config-file nodes.conf\n" + master_conf()
    )
    admin_kw = dict(username="admin", password=ADMIN_PW, ssl_ca_certs=str(certs.ca))
    node = ConfServer(tmp_path / "node", conf, admin_kw, tls=True, port=port)
    try:
        admin = node.admin()
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        wait_for(
            lambda: b"cluster_state:ok" in admin.execute_command("CLUSTER", "INFO"),
            20,
            "the one-node cluster to be ok",
        )
        apply_acl(admin, "app", "app", APP_PW)
        admin.acl_log_reset()
        good = f"rediss+cluster://app:{APP_PW}@127.0.0.1:{port}/?{ca(certs)}"
        round_trip(good)
        assert denials(admin, "app") == []
        huey = connect(good, QUEUE)
        huey.pending_count()
        assert set(client_users(admin, skip=("admin",))) == {"app"}
        huey.storage.close()
        with pytest.raises(StoreUnavailable):  # the cluster too: no plaintext
            connect(f"redis+cluster://app:{APP_PW}@127.0.0.1:{port}/", QUEUE).pending_count()
    finally:
        node.stop()


def test_tls_options_without_tls_are_one_line() -> None:
    from engine.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="ssl_ca_certs need TLS"):
        connect("redis://127.0.0.1:1/0?ssl_ca_certs=/x", QUEUE)
    with pytest.raises(ConfigurationError, match="unknown option"):
        connect("redis://127.0.0.1:1/0?foo=1", QUEUE)
    with pytest.raises(ConfigurationError, match="ssl_certfile need TLS"):
        connect("redis+cluster://127.0.0.1:1/?ssl_certfile=/x", QUEUE)
