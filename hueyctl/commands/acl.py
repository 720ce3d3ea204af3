"""``hueyctl acl ROLE --queue NAME``: the Redis ACL rules of a least-privilege user.

The rules are exact command lists on the queue's own key pattern, never category
rules: ``+@write -@dangerous`` still grants ``FUNCTION FLUSH`` and ``+@read`` grants
``KEYS``. The lists were taken from what the code sends (MONITOR and ``ACL LOG``
while the guide's examples, a worker and every read command ran), and
tests/system/test_acl_roles.py applies them to a real redis-server.

Roles: ``app`` (producer and worker: they run the same Lua scripts, so Redis cannot
tell them apart), ``monitor`` (read-only: the listings, ``show``, ``status``,
``top``) and ``admin`` (``app`` plus SCAN, which the result and lock listings use).
Commands run inside a Lua script are checked against the same rules (Redis 7).
"""

from __future__ import annotations

import hashlib
import os

import click

# Pure reads of the queue's keys: every listing, ``show``, ``status`` and ``top``.
READ = (
    "get hget hgetall hmget hexists hlen hstrlen llen zcard zrange zrangebyscore"
    " zrevrange zrevrangebyscore zscore xrange xrevrange"
).split()
# What a client needs on any connection (AUTH is always allowed). A Redis Cluster client
# also learns the slot map (CLUSTER SLOTS) and the command table (COMMAND, to find keys);
# both keyless and read-only: they name nodes and commands, never data. Through Sentinel
# nothing more is needed on the data nodes. CLIENT SETNAME: the connections of awaited
# results (``await res.aget()``) name themselves ``<client name>:await`` (keyless).
CONNECTION = "hello ping select time cluster|slots command client|setname".split()
# Producer and worker: the writes their Lua scripts and plain commands make.
WRITE = (
    "del getdel set incr hset hsetnx hdel hincrby hincrbyfloat lpush lpop blpop pexpire"
    " xadd zadd zrem zremrangebyrank zremrangebyscore evalsha eval script|load wait info"
).split()
# (INFO above: the worker's persistence check reads ``INFO persistence``/``memory``;
# ``CONFIG GET save`` is never granted, as CONFIG GET also reads ``requirepass`` and
# ``masterauth``: the check reports the RDB schedule as unknown, one ACL LOG entry.)
# Readers' SCAN: the results and locks listings walk ``hueyctl:{q}:kv:*`` and the
# unknown-queue check walks ``hueyctl:{*}:*``. SCAN is keyless, so its answer is
# not limited by the key pattern: it names other keys (never their values).
LISTING = ["scan"]

ROLES = ("app", "monitor", "admin")
PASSWORD_ENV = "HUEYCTL_ACL_PASSWORD"


def key_pattern(queue: str) -> str:
    """The glob of every key of ``queue`` (glob characters in the name escaped)."""
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in queue)
    return f"hueyctl:{{{escaped}}}:*"


def commands(role: str) -> list[str]:
    """The exact commands ``role`` is granted."""
    if role == "monitor":
        return CONNECTION + READ + LISTING
    if role == "app":
        return CONNECTION + READ + WRITE
    if role == "admin":
        return CONNECTION + READ + LISTING + WRITE
    raise click.BadParameter(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


def rules(role: str, queue: str, password: str | None = None) -> list[str]:
    """The ACL rules (``ACL SETUSER`` arguments after the user name) of ``role``."""
    if not queue:
        raise click.BadParameter("--queue must not be empty")
    cmds = commands(role)
    keys = ("%R~" if role == "monitor" else "~") + key_pattern(queue)
    auth = f"#{hashlib.sha256(password.encode()).hexdigest()}" if password else None
    out = ["reset", "on"] + ([auth] if auth else []) + ["-@all"]
    out += ["+" + c for c in cmds] + [keys, "resetchannels"]
    return out


def quote(arg: str) -> str:
    """``arg`` quoted for redis-cli when it holds characters the shell or redis-cli split on."""
    if any(c in arg for c in " \"'{}\\"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


@click.command()
@click.argument("role", type=click.Choice(ROLES))
@click.option("--queue", "-q", required=True, help="The queue the user works on.")
@click.option("--user", default=None, help="ACL user name [default: hueyctl-ROLE-QUEUE].")
def acl(role: str, queue: str, user: str | None) -> None:
    """Print an ACL SETUSER line for a least-privilege Redis user of ROLE on one
    queue: app (producer and worker), monitor (read-only) or admin. The password is
    taken from $HUEYCTL_ACL_PASSWORD and printed only as its SHA-256 (without it the
    user has no password and cannot log in until you add one)."""
    name = user or f"hueyctl-{role}-{queue}".replace(" ", "_")
    password = os.environ.get(PASSWORD_ENV) or None
    line = " ".join(quote(a) for a in ["ACL", "SETUSER", name, *rules(role, queue, password)])
    click.echo(line)
    if password is None:
        click.echo(
            f"# no password: set ${PASSWORD_ENV} or add one with ACL SETUSER {quote(name)} >SECRET",
            err=True,
        )
