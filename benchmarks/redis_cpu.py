"""Redis CPU per task, per workload, for our engine and huey 3.5, with a per-command
breakdown (which commands and scripts cost what per task).

    python -m benchmarks.redis_cpu                 # n = 20,000 (W5: 1,000), 3 repeats
    python -m benchmarks.redis_cpu --smoke         # tiny sizes, one repeat
    python -m benchmarks.redis_cpu -n 20000 --n-latency 1000 --repeats 3 --json out.json

Starts its own redis-server (benchmarks.redis_server) and measures, for each engine, each
workload and each repeat (ours and huey alternate who goes first):

* ``cmd``: the time Redis spends executing the commands clients send, per task: the
  durations of the slow log at a threshold of 0 (what ``INFO commandstats`` adds up as
  ``usec``, but per call, so a script's inner commands are not counted twice and each
  EVALSHA is named by its script). It leaves out reading and writing the sockets, and
  it is wall time inside the command: on a loaded machine a long command (a batch
  script of several ms) is inflated by the time the server was descheduled. The
  commands of a MULTI/EXEC (a fresh enqueue) are logged one by one as sent; Redis
  keeps EXEC itself out of the slow log;
* ``cpu``: ``used_cpu_sys + used_cpu_user`` delta of ``INFO cpu`` minus an idle baseline
  (the same server's CPU rate over 1 s of idleness, measured before each repeat, times
  the workload's wall time): everything the server process burnt, including reading and
  writing sockets and its event loop, which is what a shard's ceiling is made of;
* ``W6``: ``used_memory`` delta per pending task after a bulk enqueue of n tasks.

Workloads: W1 (n single enqueues of ``noop(i, "x")``), W1b (the same via ``map``;
huey's is n single enqueues), W2 (drain of n preloaded tasks by a ``-w 4`` thread
consumer, from its first claim to the last result), W5 (``noop(...)`` + blocking
``get``, one at a time, on an idle ``-w 4`` consumer; huey with ``notify_result=True``).
W2 and W5 include whatever the consumer sends meanwhile (heartbeats, idle waits): the
engine's cost per task, not only the task's own commands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from engine.storage.redis_scripts import SCRIPTS, source

from .redis_server import RedisServer
from .suite import Adapter, Huey, Ours, huey_installed, log

Stats = dict[str, tuple[int, float]]  # command -> (calls, usec)
SLOWLOG_LEN = 400_000  # entries kept: more than any window here sends


def server_cpu(client: redis.Redis) -> float:
    """Seconds of CPU the server process has used (sys + user)."""
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def commandstats(client: redis.Redis) -> Stats:
    out: Stats = {}
    for name, row in client.info("commandstats").items():
        cmd = name.removeprefix("cmdstat_")
        if cmd.split("|")[0] in ("info", "config", "slowlog"):  # the measurement's own
            continue
        out[cmd] = (int(row["calls"]), float(row["usec"]))
    return out


def idle_rate(client: redis.Redis, seconds: float = 1.0) -> float:
    """CPU seconds per second the idle server burns (its cron, INFO itself)."""
    c0, t0 = server_cpu(client), time.monotonic()
    time.sleep(seconds)
    return (server_cpu(client) - c0) / (time.monotonic() - t0)


def script_names() -> tuple[dict[str, str], dict[str, str]]:
    """Our scripts by SHA1 (EVALSHA) and by the first 100 characters of their text (EVAL:
    the slow log keeps 128 bytes of an argument)."""
    by_sha, by_text = {}, {}
    for script in SCRIPTS:
        text = source(script.name)
        by_sha[hashlib.sha1(text.encode()).hexdigest()] = script.name
        by_text[text[:100]] = script.name
    return by_sha, by_text


BY_SHA, BY_TEXT = script_names()
OWN = ("info", "config|resetstat", "config", "slowlog", "slowlog|reset", "slowlog|get")


def top_name(command: bytes) -> str:
    """A slow-log entry's command, with the script it ran for EVAL / EVALSHA."""
    words = command.split(b" ", 2)
    name = words[0].decode(errors="replace").lower()
    if name in ("evalsha", "eval") and len(words) > 1:
        arg = words[1].decode(errors="replace")
        if name == "evalsha":
            script = BY_SHA.get(arg, "other " + arg[:8])
        else:
            text = command[5:105].decode(errors="replace")
            script = next((v for k, v in BY_TEXT.items() if text.startswith(k[:60])), "other")
        return f"{name} {script}"
    if name in ("script", "config", "client", "slowlog") and len(words) > 1:
        name += "|" + words[1].decode(errors="replace").lower()
    return name


class Window:
    """One measured stretch: commandstats and the slow log reset at the start; CPU and
    wall time deltas. At a threshold of 0 the slow log keeps every command with its
    duration (the µs commandstats adds up), the ones scripts run marked by the client
    address ``?:0``: so what clients send and what scripts run are told apart (their
    commandstats rows mix both, and a script's usec already includes its commands')."""

    #: False (--no-slowlog): no slow log, so no per-call breakdown, and ``cmd`` is the
    #: commandstats total (a script's inner commands counted twice: an upper bound).
    slowlog = True

    def __init__(self, client: redis.Redis, idle: float) -> None:
        self.client, self.idle = client, idle
        client.config_resetstat()
        client.slowlog_reset()
        self.cpu0, self.t0 = server_cpu(client), time.monotonic()

    def close(self, n: int) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        cpu = server_cpu(self.client) - self.cpu0
        top: Stats = {}
        inner: Stats = {}
        stats = commandstats(self.client)
        if not self.slowlog:
            top = {k + " (commandstats)": v for k, v in stats.items()}
        for entry in self.client.slowlog_get(-1) if self.slowlog else ():
            name = top_name(entry["command"])
            if name.split(" ")[0] in OWN:
                continue
            # A command a script runs is logged too, from the address "?:0".
            where = inner if entry.get("client_address") == b"?:0" else top
            c, u = where.get(name, (0, 0.0))
            where[name] = (c + 1, u + int(entry["duration"]))
        return {
            "n": n,
            "wall": wall,
            "cpu_us": max(0.0, cpu - self.idle * wall) / n * 1e6,
            "cmd_us": sum(u for _, u in top.values()) / n,
            "calls": sum(c for c, _ in top.values()) / n,
            "top": {k: (c / n, u / n) for k, (c, u) in top.items()},
            "inner": {k: (c / n, u / n) for k, (c, u) in inner.items()},
            "commandstats_us": sum(u for _, u in stats.values()) / n,
            "slowlog_full": sum(c for c, _ in top.values()) + sum(c for c, _ in inner.values())
            >= SLOWLOG_LEN,
        }


def w1(a: Adapter, client: redis.Redis, idle: float, n: int) -> dict[str, Any]:
    a.reset()
    a.warm()
    w = Window(client, idle)
    for i in range(n):
        a.enqueue_one(i)
    return w.close(n)


def w1b_w6(a: Adapter, client: redis.Redis, idle: float, n: int) -> dict[str, Any]:
    a.reset()
    a.warm()
    w = Window(client, idle)
    mem0 = int(client.info("memory")["used_memory"])
    a.enqueue_bulk(n)
    out = w.close(n)
    client.slowlog_reset()  # its entries hold memory (the arguments they show)
    out["W6_used_memory"] = (int(client.info("memory")["used_memory"]) - mem0) / n
    out["W6_memory_usage"] = a.bytes_per_task(n)
    return out


def w2(a: Adapter, client: redis.Redis, idle: float, n: int, logdir: Path) -> dict[str, Any]:
    a.reset()
    a.preload(n)
    consumer = a.consumer("threads", logdir)
    try:
        deadline = time.monotonic() + 60
        while a.progress(n)[0] >= n:  # until the first claim
            consumer.check()
            if time.monotonic() > deadline:
                raise TimeoutError("the consumer claimed nothing within 60 s")
            time.sleep(0.001)
        w = Window(client, idle)
        deadline = time.monotonic() + 120
        while a.progress(n)[1] < n:  # polled every 20 ms: a few commands per poll
            consumer.check()
            if time.monotonic() > deadline:
                raise TimeoutError("the drain took over 120 s")
            time.sleep(0.02)
        return w.close(n)
    finally:
        consumer.stop()


def w5(a: Adapter, client: redis.Redis, idle: float, n: int, logdir: Path) -> dict[str, Any]:
    a.reset()
    consumer = a.consumer("threads", logdir)
    try:
        deadline = time.monotonic() + 60
        while True:  # ready when a task makes the round trip
            consumer.check()
            try:
                a.call_and_wait(-1, timeout=1.0)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        w = Window(client, idle)
        for i in range(n):
            a.call_and_wait(i, timeout=30.0)
        return w.close(n)
    finally:
        consumer.stop()


Job = Callable[[Adapter, Adapter], dict[str, Any]]


def jobs_for(
    client: redis.Redis, idle: float, n: int, n_latency: int, logdir: Path
) -> list[tuple[str, Job]]:
    """(workload, job): a job takes (the adapter, its W5 variant) and measures one run."""
    return [
        ("W1", lambda a, _: w1(a, client, idle, n)),
        ("W1b", lambda a, _: w1b_w6(a, client, idle, n)),
        ("W2", lambda a, _: w2(a, client, idle, n, logdir)),
        ("W5", lambda _, b: w5(b, client, idle, n_latency, logdir)),
    ]


def med(values: list[float]) -> str:
    if not values:
        return "—"
    m = statistics.median(values)
    if len(values) == 1:
        return f"{m:.1f}"
    return f"{m:.1f} ({min(values):.1f}–{max(values):.1f})"


def report(results: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """Markdown: the per-task summary, then the per-command breakdown of each workload."""
    engines = list(results)
    lines = [
        "Redis server CPU per task, µs: median (min–max) of the repeats. `cmd` = time "
        "executing the commands clients sent (slow log durations, scripts' inner commands "
        "inside their script's); `cpu` = INFO cpu delta minus the idle rate (sockets "
        "included: the figure a shard's ceiling is made of); `calls` = commands clients "
        "sent per task.",
        "",
        "| workload | " + " | ".join(f"{e} cmd | {e} cpu | {e} calls" for e in engines) + " |",
        "|---|" + "---|---|---|" * len(engines),
    ]
    workloads = [w for w in ("W1", "W1b", "W2", "W5") if any(w in results[e] for e in engines)]
    for wl in workloads:
        cells = []
        for e in engines:
            runs = results[e].get(wl, [])
            cells += [
                med([r["cmd_us"] for r in runs]),
                med([r["cpu_us"] for r in runs]),
                med([r["calls"] for r in runs]),
            ]
        lines.append(f"| {wl} | " + " | ".join(cells) + " |")
    for label, parts in (("W1 + W2 (enqueue + drain)", ("W1", "W2")),):
        cells = []
        for e in engines:
            if not all(results[e].get(p) for p in parts):
                cells += ["—"] * 3
                continue
            reps = min(len(results[e][p]) for p in parts)
            for key in ("cmd_us", "cpu_us", "calls"):
                cells.append(med([sum(results[e][p][i][key] for p in parts) for i in range(reps)]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    w6 = [e for e in engines if results[e].get("W1b")]
    if w6:
        lines += ["", "W6 bytes per pending task (after W1b):", ""]
        for e in w6:
            runs = results[e]["W1b"]
            lines.append(
                f"- {e}: used_memory delta {med([r['W6_used_memory'] for r in runs])}, "
                f"MEMORY USAGE sum {med([r['W6_memory_usage'] for r in runs])}"
            )
    for wl in workloads:
        lines += [
            "",
            f"{wl}: what each task costs, per command clients send (scripts by name) and,"
            " indented, the commands the scripts ran (already inside their script's µs);"
            " median of repeats",
            "",
            "| engine | command | calls/task | µs/task | µs/call |",
            "|---|---|---|---|---|",
        ]
        for e in engines:
            runs = results[e].get(wl, [])
            for part, indent in (("top", ""), ("inner", "↳ ")):
                names = {c for r in runs for c in r[part]}
                rows = []
                for c in names:
                    calls = statistics.median([r[part].get(c, (0, 0))[0] for r in runs])
                    usec = statistics.median([r[part].get(c, (0, 0))[1] for r in runs])
                    rows.append((usec, c, calls))
                for usec, c, calls in sorted(rows, reverse=True):
                    if usec < 0.05:
                        continue
                    per_call = usec / calls if calls else 0.0
                    lines.append(
                        f"| {e} | {indent}{c} | {calls:.3f} | {usec:.2f} | {per_call:.1f} |"
                    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.redis_cpu", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    p.add_argument("-n", type=int, default=20_000, help="tasks for W1, W1b, W2 (20000)")
    p.add_argument("--n-latency", type=int, default=1_000, help="calls for W5 (1000)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default="W1,W1b,W2,W5", help="comma-separated workloads")
    p.add_argument("--no-huey", action="store_true")
    p.add_argument(
        "--no-slowlog",
        action="store_true",
        help="leave the slow log off (its per-command work is not in `cpu`); no breakdown",
    )
    p.add_argument("--json", type=Path, help="also write every measurement here")
    p.add_argument("--markdown", type=Path, help="also write the report here")
    args = p.parse_args(argv)
    if args.smoke:
        args.n, args.n_latency, args.repeats = 300, 30, 1
    wanted = set(args.only.split(","))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with RedisServer() as server, tempfile.TemporaryDirectory() as tmp:
        client = server.client()
        ours = Ours(server.url, client)
        engines: list[tuple[Adapter, Adapter]] = [(ours, ours)]  # (W1/W1b/W2, W5)
        if huey_installed() and not args.no_huey:
            engines.append((Huey(server.url, client), Huey(server.url, client, notify=True)))
        logdir = Path(tmp)
        # The slow log at threshold 0 keeps every command clients send (a private server).
        Window.slowlog = not args.no_slowlog
        client.config_set("slowlog-log-slower-than", -1 if args.no_slowlog else 0)
        client.config_set("slowlog-max-len", SLOWLOG_LEN)
        for rep in range(args.repeats):
            idle = idle_rate(client)
            log(f"--- repeat {rep + 1}/{args.repeats}: idle server {idle * 1e6:.0f} µs/s")
            order = engines if rep % 2 == 0 else engines[::-1]
            for wl, job in jobs_for(client, idle, args.n, args.n_latency, logdir):
                if wl not in wanted:
                    continue
                for a, b in order:
                    who = b if wl == "W5" else a
                    out = job(a, b)
                    results.setdefault(who.name, {}).setdefault(wl, []).append(out)
                    log(
                        f"{wl:3} {who.name:11} cmd {out['cmd_us']:6.1f} µs/task  "
                        f"cpu {out['cpu_us']:6.1f} µs/task  {out['calls']:.2f} calls/task"
                    )
    text = report(results)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
