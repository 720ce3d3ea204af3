"""``hueyctl migrate`` with the rules ``hueyctl acl admin`` prints, on a redis-server of
our own: a dry run and a migration of a queue the previous release filled run with no
ACL denial; the ``app`` and ``monitor`` roles may not migrate (no HSCAN, no MEMORY
USAGE; monitor writes nothing), and the layout check reads only what they have."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from support.layout1 import assert_layout2, dumps, fill_layout1
from support.procs import RedisServer

from engine.storage import redis_format
from hueyctl.cli import main

pytestmark = pytest.mark.slow
PASSWORD = "s3cret-pw"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[RedisServer, redis.Redis]]:
    srv = RedisServer(tmp_path, appendonly=False)
    srv.start()
    admin = redis.Redis(port=srv.port)
    try:
        yield srv, admin
    finally:
        admin.close()
        srv.stop()


def setuser(admin: redis.Redis, role: str, queue: str) -> str:
    r = CliRunner(env={"HUEYCTL_ACL_PASSWORD": PASSWORD}).invoke(
        main, ["acl", role, "--queue", queue, "--user", role]
    )
    assert r.exit_code == 0, r.output
    assert admin.execute_command(*shlex.split(r.stdout.strip())) in (b"OK", "OK", True)
    return role


def refused(admin: redis.Redis, user: str) -> set[str]:
    out = set()
    for entry in admin.acl_log():
        e = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
        if e.get("username") in (user, user.encode()):
            obj = e.get("object")
            out.add(obj.decode() if isinstance(obj, bytes) else str(obj))
    return out


def test_admin_migrates_without_denials(server: tuple[RedisServer, redis.Redis]) -> None:
    srv, admin = server
    name = f"mig-{uuid.uuid4().hex[:8]}"
    p = f"hueyctl:{{{name}}}:"
    for role in ("admin", "app", "monitor"):
        setuser(admin, role, name)
    fill_layout1(admin, p)
    admin.acl_log_reset()
    runner = CliRunner()

    def url(user: str) -> str:
        return f"redis://{user}:{PASSWORD}@127.0.0.1:{srv.port}/0"

    # the layout check of every role reads only what the role has (GET, EXISTS)
    for role in ("app", "monitor"):
        client = redis.Redis.from_url(url(role))
        with pytest.raises(Exception, match="holds tasks in layout 1"):
            redis_format.check(client, p, name, write=role == "app")
        client.close()
    before = dumps(admin, p)
    for role in ("app", "monitor"):
        r = runner.invoke(main, ["migrate", "--url", url(role), "--queue", name])
        assert r.exit_code != 0 and "Traceback" not in r.output
        assert "ACL NOPERM" in r.output or "refused" in r.output, r.output
    assert dumps(admin, p) == before
    admin.acl_log_reset()
    for args in (["--dry-run"], []):
        r = runner.invoke(main, ["migrate", *args, "--url", url("admin"), "--queue", name])
        assert r.exit_code == 0, (args, r.output)
    assert refused(admin, "admin") == set()
    assert_layout2(admin, p)
