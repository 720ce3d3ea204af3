"""``hueyctl acl ROLE --queue NAME``: the Redis ACL rules of a least-privilege user.

The rules are exact command lists on the queue's own key pattern, never category
rules: ``+@write -@dangerous`` still grants ``FUNCTION FLUSH`` and ``+@read`` grants
``KEYS``. The lists were taken from what the code sends (MONITOR and ``ACL LOG``
while the guide's examples, a worker and every read command ran), and
tests/system/test_acl_roles.py applies them to a real redis-server (and
tests/system/test_migrate_acl.py ``hueyctl migrate`` with ``admin``).

Roles: ``app`` (producer and worker: they run the same Lua scripts, so Redis cannot
tell them apart; a worker's ``--health-port`` probes and ``/metrics`` read with the
same rights), ``monitor`` (read-only: the listings, ``show``, ``status``, ``top``,
``events`` and so the audit trail, ``ping`` and ``metrics``, checked by
tests/system/test_acl_roles.py) and ``admin`` (``app`` plus SCAN, which the result
and lock listings use, and HSCAN, ZMSCORE and MEMORY USAGE for ``hueyctl migrate``).
Commands run inside a Lua script are checked against the same rules (Redis 7).

The admin actions' audit events (``admin.<action>``) are written by the same
script as workers' events (XADD to the queue's stream, in ``WRITE``), and the bulk
actions pipeline plain EVALSHA calls (never SCRIPT EXISTS, which no role is
granted): ``admin`` runs every bulk form, ``failed --export`` and ``enqueue --from``
with no denial (tests/system/test_acl_roles.py), and ``monitor`` can write none.

Every role also gets the store's list of queue names (``hueyctl:queues``, one set
outside every queue's hash tag): workers and producers add their queue to it once
(SADD), ``hueyctl queues`` and the unknown-queue check read it (SMEMBERS). It holds
names only. ``--all-queues`` grants a role every queue's keys (``hueyctl:{*}:*``), so
a monitor of every queue can run ``hueyctl queues`` and see each one's counts; with
one ``--queue``, the other queues are listed by name with "denied" for their counts.
"""

from __future__ import annotations

import hashlib
import os

import click

# Pure reads of the queue's keys: every listing, ``show``, ``status``, ``top``, ``ping``
# and ``metrics`` (counts, leases, registry, the ready head, per-minute counters), and the
# check of the queue's layout (GET and EXISTS, engine/storage/redis_format.py).
READ = (
    "get mget hget hgetall hmget hexists hlen hstrlen llen lrange zcard zrange zrangebyscore"
    " zrevrange zrevrangebyscore zscore xrange xrevrange exists"
).split()
# What a client needs on any connection (AUTH is always allowed). A Redis Cluster client
# also learns the slot map (CLUSTER SLOTS) and the command table (COMMAND, to find keys);
# both keyless and read-only: they name nodes and commands, never data. Through Sentinel
# nothing more is needed on the data nodes. CLIENT SETNAME: the connections of awaited
# results (``await res.aget()``) name themselves ``<client name>:await`` (keyless).
CONNECTION = "hello ping select time cluster|slots command client|setname".split()
# Producer and worker: the writes their Lua scripts and plain commands make (UNLINK:
# the finish script drops a generation of finished records, engine/storage/redis.py).
WRITE = (
    "del getdel set mset incr hset hsetnx hdel hincrby hincrbyfloat lpush rpush lpop lrem ltrim"
    " blpop pexpire xadd zadd zrem zremrangebyrank zremrangebyscore evalsha eval script|load"
    " wait info sadd unlink multi exec"
).split()
# (MULTI, EXEC, LTRIM: an enqueue of fresh ids is plain HSET, RPUSH, ZADD, LPUSH and
# LTRIM of the wake list in one transaction, engine/storage/redis.py _enqueue_fresh.)
# (MSET and MGET: the finish script stores a batch's results and looks up their
# waiters in one command each, lua/finish.lua.)
# (LPUSH, RPUSH, LPOP, LREM: the ready lists of layout 2, engine/storage/redis_layout.py;
# a claim pops, a task handed back is pushed on the front, a delete takes an id out.)
# (RPUSH and LRANGE: the calls of a paused task name are parked on a list and put back
# on resume (lua/park.lua, lua/unpark.lua); a pause or a cancel is an HSET, which
# ``admin`` and ``app`` both have: pausing is an admin act by convention, not by ACL.)
# The store's list of queue names: SADD (above) once per worker and producer, SMEMBERS
# by readers; the key outside the queues' hash tags, named by QUEUES_KEY.
QUEUES_KEY = "hueyctl:queues"
LIST_QUEUES = ["smembers"]
# (INFO above: the worker's persistence check reads ``INFO persistence``/``memory``;
# ``CONFIG GET save`` is never granted, as CONFIG GET also reads ``requirepass`` and
# ``masterauth``: the check reports the RDB schedule as unknown, one ACL LOG entry.)
# Readers' SCAN: the results and locks listings walk ``hueyctl:{q}:kv:*`` and the
# unknown-queue check walks ``hueyctl:{*}:*``. SCAN is keyless, so its answer is
# not limited by the key pattern: it names other keys (never their values).
LISTING = ["scan"]
# ``hueyctl migrate`` (admin): it walks layout 1's body hash (HSCAN), its script reads
# the scores of a batch of ids at once (ZMSCORE), and a dry run measures layout 1's keys
# (MEMORY USAGE); the script's other commands are in READ and WRITE.
MIGRATE = ["hscan", "zmscore", "memory|usage"]

ROLES = ("app", "monitor", "admin")
PASSWORD_ENV = "HUEYCTL_ACL_PASSWORD"


def key_pattern(queue: str) -> str:
    """The glob of every key of ``queue`` (glob characters in the name escaped)."""
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in queue)
    return f"hueyctl:{{{escaped}}}:*"


def commands(role: str) -> list[str]:
    """The exact commands ``role`` is granted."""
    if role == "monitor":
        return CONNECTION + READ + LIST_QUEUES + LISTING
    if role == "app":
        return CONNECTION + READ + LIST_QUEUES + WRITE
    if role == "admin":
        return CONNECTION + READ + LIST_QUEUES + LISTING + WRITE + MIGRATE
    raise click.BadParameter(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


ALL_QUEUES = "hueyctl:{*}:*"


def rules(role: str, queue: str | None, password: str | None = None) -> list[str]:
    """The ACL rules (``ACL SETUSER`` arguments after the user name) of ``role`` on
    ``queue`` (None: every queue)."""
    if queue is not None and not queue:
        raise click.BadParameter("--queue must not be empty")
    cmds = commands(role)
    access = "%R~" if role == "monitor" else "~"
    keys = access + (ALL_QUEUES if queue is None else key_pattern(queue))
    auth = f"#{hashlib.sha256(password.encode()).hexdigest()}" if password else None
    out = ["reset", "on"] + ([auth] if auth else []) + ["-@all"]
    out += ["+" + c for c in cmds] + [keys, access + QUEUES_KEY, "resetchannels"]
    return out


def quote(arg: str) -> str:
    """``arg`` quoted for redis-cli when it holds characters the shell or redis-cli split on."""
    if any(c in arg for c in " \"'{}\\"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


@click.command()
@click.argument("role", type=click.Choice(ROLES))
@click.option("--queue", "-q", help="The queue the user works on.")
@click.option(
    "--all-queues", is_flag=True, help="Every queue of the store (e.g. a monitor for 'queues')."
)
@click.option("--user", default=None, help="ACL user name [default: hueyctl-ROLE-QUEUE].")
def acl(role: str, queue: str | None, all_queues: bool, user: str | None) -> None:
    """Print an ACL SETUSER line for a least-privilege Redis user of ROLE on one
    queue (--queue) or on every queue (--all-queues): app (producer and worker),
    monitor (read-only) or admin. The password is taken from $HUEYCTL_ACL_PASSWORD
    and printed only as its SHA-256 (without it the user has no password and cannot
    log in until you add one)."""
    if (queue is None) == (not all_queues):
        raise click.UsageError("give --queue NAME or --all-queues (one of them)")
    name = user or f"hueyctl-{role}-{queue or 'all'}".replace(" ", "_")
    password = os.environ.get(PASSWORD_ENV) or None
    line = " ".join(quote(a) for a in ["ACL", "SETUSER", name, *rules(role, queue, password)])
    click.echo(line)
    if password is None:
        click.echo(
            f"# no password: set ${PASSWORD_ENV} or add one with ACL SETUSER {quote(name)} >SECRET",
            err=True,
        )
