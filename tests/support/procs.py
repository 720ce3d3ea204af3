"""Real processes for delivery tests: worker subprocesses and a private redis-server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    """Poll with a deadline (real time is involved)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    import random

    for _ in range(200):
        port = random.randint(20000, 40000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisServer:
    """A redis-server of our own (tests that restart Redis must not touch the shared one)."""

    def __init__(self, workdir: Path, appendonly: bool = True, extra: tuple[str, ...] = ()) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.dir, self.port, self.appendonly = workdir, free_port(), appendonly
        self.extra = extra  # more redis-server options, e.g. ("--maxmemory", "4mb")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
            except redis.RedisError:
                return False

        wait_for(up, 10, "redis-server to start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
            self.proc = None


class App:
    """A small application module in a temp dir, and worker processes running it.

    Each task execution appends "<i> <pid>" to ``executions.log`` (O_APPEND lines
    are atomic across processes), so tests can count executions per task.
    """

    def __init__(self, root: Path, config: str, tasks: str = "") -> None:
        self.root = root
        self.log = root / "executions.log"
        (root / "app.py").write_text(
            textwrap.dedent(config)
            + textwrap.dedent(f"""
            import os, time
            LOG = {str(self.log)!r}

            def record(i):
                with open(LOG, "a") as f:
                    f.write(f"{{i}} {{os.getpid()}}\\n")
        """)
            + textwrap.dedent(tasks)
        )
        # The caller's PYTHONPATH stays after the app's (a checkout run with
        # PYTHONPATH=. gives its workers the same engine as the test).
        path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))
        self.env = dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED="1")
        self.workers: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start_worker(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``hueyctl worker app.huey ARGS`` (``env``: more environment variables)."""
        out = self.root / f"worker{len(self.workers)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "hueyctl", "worker", "app.huey", *args],
            cwd=self.root,
            env=dict(self.env, **(env or {})),
            stdout=out.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.workers.append((proc, out))
        wait_for(
            lambda: "hueyctl worker" in out.read_text() or proc.poll() is not None,
            15,
            "worker banner",
        )
        assert proc.poll() is None, out.read_text()
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        return next(path.read_text() for p, path in self.workers if p is proc)

    def executions(self) -> list[int]:
        if not self.log.exists():
            return []
        return [int(line.split()[0]) for line in self.log.read_text().splitlines() if line]

    def stop_all(self) -> None:
        for proc, _ in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc, _ in self.workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
