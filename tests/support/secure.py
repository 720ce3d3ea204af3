"""Servers that check who connects: redis-server and Sentinel with ACL users, passwords
and TLS (certificates made here with ``openssl``), each started from a config file in
a temp dir on a free port, for the identity tests (issue 12)."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from engine.consumer import Consumer
from engine.loader import connect
from hueyctl.cli import main

from .procs import free_port, wait_for

QUEUE = "idq"
APP_PW = "app-s3cret"
ADMIN_PW = "admin-s3cret"
WATCHER_PW = "watcher-s3cret"
SENTINEL_PW = "sentinel-s3cret"
SENTINEL_USER_PW = "sentuser-s3cret"
# What Sentinel itself needs on the master it watches (Redis' Sentinel documentation).
WATCHER_RULES = (
    "-@all +client +subscribe +publish +ping +info +multi +slaveof +config +exec +role allchannels"
)
# All hueyctl needs on a sentinel (documented in docs/security.md): redis-py finds the
# master's address and state with SENTINEL MASTERS; AUTH is always allowed.
SENTINEL_USER_RULES = "-@all +sentinel|masters"


def master_conf() -> str:
    return (
        "user default off\n"
        f"user admin on >{ADMIN_PW} ~* &* +@all\n"
        f"user watcher on >{WATCHER_PW} {WATCHER_RULES}\n"
    )


def sentinel_conf(master_port: int) -> str:
    return (
        f"requirepass {SENTINEL_PW}\n"
        f"user hueysent on >{SENTINEL_USER_PW} {SENTINEL_USER_RULES}\n"
        f"sentinel monitor mymaster 127.0.0.1 {master_port} 1\n"
        "sentinel auth-user mymaster watcher\n"
        f"sentinel auth-pass mymaster {WATCHER_PW}\n"
    )


def apply_acl(admin: redis.Redis, role: str, user: str, password: str) -> None:
    """Apply the ``ACL SETUSER`` line ``hueyctl acl ROLE`` prints."""
    r = CliRunner(env={"HUEYCTL_ACL_PASSWORD": password}).invoke(
        main, ["acl", role, "--queue", QUEUE, "--user", user]
    )
    assert r.exit_code == 0, r.output
    assert admin.execute_command(*shlex.split(r.stdout.strip())) in (b"OK", "OK", True)


def denials(admin: redis.Redis, user: str) -> list[Any]:
    return [e for e in admin.acl_log() if e.get("username") in (user, user.encode())]


def round_trip(url: str) -> None:
    huey = connect(url, QUEUE)

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(20, 22)
    consumer = Consumer(huey, consumer_id="id-c1", workers=1, inline=True)
    consumer.step(time.time())
    assert res(blocking=True, timeout=5) == 42
    huey.storage.close()


@dataclass(frozen=True)
class Certs:
    """A private CA, a server certificate for 127.0.0.1/localhost and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_conf(self) -> str:
        return (
            f"tls-cert-file {self.server_cert}\ntls-key-file {self.server_key}\n"
            f"tls-ca-cert-file {self.ca}\n"
        )


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(root: Path) -> Certs:
    """CA + server + client certificates (EC keys: quick to make) in ``root``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the TLS tests make their certificates with it")
    root.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=hueyctl test CA", cwd=root)  # fmt: skip
    (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who in ("server", "client"):
        _openssl("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr",
                 "-subj", f"/CN=hueyctl test {who}", cwd=root)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{who}.crt", "-days", "2",
                 "-extfile", "san.ext", cwd=root)  # fmt: skip
    return Certs(
        root / "ca.crt", root / "server.crt", root / "server.key",
        root / "client.crt", root / "client.key",
    )  # fmt: skip


class ConfServer:
    """A redis-server (or, with ``sentinel``, a Sentinel) run from a config file.

    ``conf`` is added to the port/bind/dir lines; ``admin`` are the keyword arguments a
    client needs to reach it with full rights (password, TLS files): it is how the
    start is awaited and how tests look at the server."""

    def __init__(
        self, workdir: Path, conf: str, admin: dict[str, Any], tls: bool = False,
        sentinel: bool = False, port: int | None = None,
    ) -> None:  # fmt: skip
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = port or free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.admin_kwargs = dict(admin, socket_timeout=2)
        listen = f"port 0\ntls-port {self.port}\n" if tls else f"port {self.port}\n"
        head = f"{listen}bind 127.0.0.1\ndir {self.dir}\n"
        if not sentinel:
            head += 'save ""\nappendonly no\n'
        self.conf = self.dir / ("sentinel.conf" if sentinel else "redis.conf")
        self.conf.write_text(head + conf)
        self.tls = tls
        args = ["redis-server", str(self.conf)] + (["--sentinel"] if sentinel else [])
        self.proc = subprocess.Popen(
            args, stdout=open(self.dir / "server.log", "wb"), stderr=subprocess.STDOUT
        )

        def up() -> bool:
            try:
                return bool(self.admin().ping())
            except redis.RedisError:
                return False

        try:
            wait_for(up, 15, f"redis-server on {self.port} ({self.conf})")
        except AssertionError:
            self.stop()
            log = (self.dir / "server.log").read_text()
            if tls and ("TLS" in log and "not" in log or "Bad directive" in log):
                pytest.skip(f"this redis-server has no TLS (built without it): {log[-300:]}")
            raise AssertionError(log[-2000:]) from None

    def admin(self) -> redis.Redis:
        """A client with full rights on this server."""
        return redis.Redis(port=self.port, ssl=self.tls, **self.admin_kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def client_users(admin: redis.Redis, skip: tuple[str, ...]) -> list[str]:
    """The ACL user of every client connected now, but the ``skip`` ones (the admin's,
    the sentinel's own)."""
    users = []
    for c in admin.client_list():
        user = c.get("user", "")
        if user not in skip:
            users.append(user)
    return users
