"""Redis CPU per task, per workload, for our engine and huey 3.5, with a per-command
breakdown (which commands and scripts cost what per task).

    python -m benchmarks.redis_cpu                 # n = 20,000 (W5: 1,000), 3 repeats
    python -m benchmarks.redis_cpu --smoke         # tiny sizes, one repeat
    python -m benchmarks.redis_cpu -n 20000 --n-latency 1000 --repeats 3 --json out.json

Starts its own redis-server (benchmarks.redis_server) and measures, for each engine, each
workload and each repeat (ours and huey alternate who goes first):

* ``cmd``: server CPU per task from ``INFO commandstats`` (``usec`` summed over every
  command, after ``CONFIG RESETSTAT``): only the time Redis spends executing commands,
  so it moves little with the machine's load;
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
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .redis_server import RedisServer
from .suite import Adapter, Huey, Ours, huey_installed, log

Stats = dict[str, tuple[int, float]]  # command -> (calls, usec)


def server_cpu(client: redis.Redis) -> float:
    """Seconds of CPU the server process has used (sys + user)."""
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def commandstats(client: redis.Redis) -> Stats:
    out: Stats = {}
    for name, row in client.info("commandstats").items():
        cmd = name.removeprefix("cmdstat_")
        if cmd in ("info", "config|resetstat", "config"):  # the measurement's own calls
            continue
        out[cmd] = (int(row["calls"]), float(row["usec"]))
    return out


class ScriptShare:
    """Which commands a workload sends from Lua scripts: MONITOR over a small unmeasured
    run gives, per command, the share of its calls made inside a script. Redis counts a
    script's inner commands in commandstats and *also* inside the EVALSHA's own usec, so
    the total per task sums client-sent commands only (inner ones are shown, not added)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.calls: dict[str, list[int]] = {}  # command -> [from lua, from clients]
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.ready = threading.Event()

    def _listen(self) -> None:
        with self.client.monitor() as m:
            self.ready.set()
            for cmd in m.listen():
                words = str(cmd["command"]).split(" ", 2)
                if words[0] == "ECHO" and words[1:2] == ["__stop_monitor__"]:
                    return
                name = words[0].lower()
                if name in ("script", "config", "client") and len(words) > 1:
                    name += "|" + words[1].lower()
                self.calls.setdefault(name, [0, 0])[cmd["client_type"] != "lua"] += 1

    def __enter__(self) -> ScriptShare:
        self.thread.start()
        self.ready.wait(5)
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.echo("__stop_monitor__")
        self.thread.join(10)

    def share(self) -> dict[str, float]:
        return {k: lua / (lua + tcp) for k, (lua, tcp) in self.calls.items() if lua + tcp}


def idle_rate(client: redis.Redis, seconds: float = 1.0) -> float:
    """CPU seconds per second the idle server burns (its cron, INFO itself)."""
    c0, t0 = server_cpu(client), time.monotonic()
    time.sleep(seconds)
    return (server_cpu(client) - c0) / (time.monotonic() - t0)


class Window:
    """One measured stretch: commandstats reset at the start, CPU and wall time deltas."""

    def __init__(self, client: redis.Redis, idle: float) -> None:
        self.client, self.idle = client, idle
        client.config_resetstat()
        self.cpu0, self.t0 = server_cpu(client), time.monotonic()

    def close(self, n: int) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        cpu = server_cpu(self.client) - self.cpu0
        stats = commandstats(self.client)
        return {
            "n": n,
            "wall": wall,
            "cpu_us": max(0.0, cpu - self.idle * wall) / n * 1e6,
            "cmd_us_all": sum(u for _, u in stats.values()) / n,
            "calls_all": sum(c for c, _ in stats.values()) / n,
            "breakdown": {k: (c / n, u / n) for k, (c, u) in stats.items()},
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
    mem0 = int(client.info("memory")["used_memory"])
    w = Window(client, idle)
    a.enqueue_bulk(n)
    out = w.close(n)
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


def top_level(out: dict[str, Any], share: dict[str, float]) -> None:
    """Add ``cmd_us`` / ``calls``: commands sent by clients only (a script's inner
    commands are already inside its EVAL/EVALSHA usec), and mark each command's
    share of calls made from scripts."""
    cmd = calls = 0.0
    for name, (c, u) in out["breakdown"].items():
        lua = share.get(name, 0.0)
        cmd += u * (1 - lua)
        calls += c * (1 - lua)
        out["breakdown"][name] = (c, u, lua)
    out["cmd_us"], out["calls"] = cmd, calls


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
        "Redis server CPU per task, µs: median (min–max) of the repeats. `cmd` = INFO "
        "commandstats usec of the commands clients sent (a script's inner commands are in "
        "its EVALSHA's usec); `cpu` = INFO cpu delta minus the idle rate; `calls` = "
        "commands clients sent per task.",
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
        lines += ["", f"{wl}: per-command breakdown (per task: calls, µs; median of repeats)", ""]
        lines.append("| engine | command | calls/task | µs/task | µs/call | sent from |")
        lines.append("|---|---|---|---|---|---|")
        for e in engines:
            runs = results[e].get(wl, [])
            cmds = sorted({c for r in runs for c in r["breakdown"]})
            rows = []
            for c in cmds:
                calls = statistics.median([r["breakdown"].get(c, (0, 0, 0))[0] for r in runs])
                usec = statistics.median([r["breakdown"].get(c, (0, 0, 0))[1] for r in runs])
                lua = max(r["breakdown"].get(c, (0, 0, 0))[2] for r in runs)
                rows.append((usec, c, calls, lua))
            for usec, c, calls, lua in sorted(rows, reverse=True):
                if usec < 0.01:
                    continue
                per_call = usec / calls if calls else 0.0
                where = "client" if lua < 0.01 else "script" if lua > 0.99 else f"{lua:.0%} script"
                lines.append(f"| {e} | {c} | {calls:.3f} | {usec:.2f} | {per_call:.1f} | {where} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.redis_cpu", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat")
    p.add_argument("-n", type=int, default=20_000, help="tasks for W1, W1b, W2 (20000)")
    p.add_argument("--n-latency", type=int, default=1_000, help="calls for W5 (1000)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default="W1,W1b,W2,W5", help="comma-separated workloads")
    p.add_argument("--no-huey", action="store_true")
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
        shares: dict[str, dict[str, dict[str, float]]] = {}  # engine -> workload -> share
        for wl, job in jobs_for(client, 0.0, 200, 20, logdir):
            if wl not in wanted:
                continue
            for a, b in engines:
                who = b if wl == "W5" else a
                with ScriptShare(server.client()) as mon:
                    job(a, b)
                shares.setdefault(who.name, {})[wl] = mon.share()
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
                    top_level(out, shares[who.name][wl])
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
