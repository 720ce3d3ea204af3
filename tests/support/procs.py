"""Real processes for delivery tests: worker subprocesses and a private redis-server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def pythonpath(root: Path | str) -> str:
    """A child process's PYTHONPATH: ``root`` (its app) first, then the caller's own, so a
    child imports the tree under test (as the test run does) rather than whichever tree
    the environment has installed."""
    return os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))


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


class PortHolder:
    """Listens on a stopped server's port and closes every connection at once (as a dead
    server's port refuses them), so that no other process takes the port before the server
    restarts: free ports are shared with every process on the machine, and a replica still
    reconnecting to its killed master would copy (full resync) whatever server listened
    there next."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._refuse, daemon=True)
        self.thread.start()

    def _refuse(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    def release(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        self.sock.close()


class RedisServer:
    """A redis-server of our own (tests that restart Redis must not touch the shared one)."""

    def __init__(self, workdir: Path, appendonly: bool = True, extra: tuple[str, ...] = ()) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.dir, self.port, self.appendonly = workdir, free_port(), appendonly
        self.extra = extra  # more redis-server options, e.g. ("--maxmemory", "4mb")
        self.proc: subprocess.Popen[bytes] | None = None
        self.holder: PortHolder | None = None  # the port, held while the server is down

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def logfile(self) -> Path:
        """The server's log (each start appends): what a failing test prints."""
        return self.dir / f"redis-{self.port}.log"

    def start(self) -> None:
        self.release_port()
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
                "--logfile",
                str(self.logfile),
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        proc, answered = self.proc, []

        def up() -> bool:
            if proc.poll() is not None:
                return True  # exited (e.g. the port was taken): said below
            try:
                answered[:] = [redis.Redis(port=self.port, socket_timeout=0.5).info("server")]
                return True
            except redis.RedisError:
                return False

        wait_for(up, 10, "redis-server to start")
        # The server that answers must be this one, not another process that took the port.
        if proc.poll() is not None or int(answered[0]["process_id"]) != proc.pid:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise AssertionError(f"redis-server did not start on port {self.port}:\n{log}")

    def kill9(self, hold_port: bool = True) -> None:
        """SIGKILL; ``hold_port``: keep the port for the next start (PortHolder)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None
        if hold_port:
            self.holder = PortHolder(self.port)

    def release_port(self) -> None:
        if self.holder is not None:
            self.holder.release()
            self.holder = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
            self.proc = None
        self.release_port()


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
        self.env = dict(os.environ, PYTHONPATH=pythonpath(root), PYTHONUNBUFFERED="1")
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
