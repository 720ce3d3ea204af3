"""``hueyctl worker --health-port`` (issue 14): /healthz, /readyz and /metrics of a
real worker, thread and process; a stopped child turns /healthz to 503 and back; a
stopped store turns /readyz to 503 while /healthz stays 200; ``--log-format json``
writes one JSON object per line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.procs import App, RedisServer, free_port, wait_for

pytestmark = pytest.mark.slow

TASKS = """
@huey.task()
def add(a, b):
    record(a)
    return a + b
"""


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError as exc:  # not listening (yet)
        return 0, str(exc)


def _app(tmp_path: Path, url: str, queue: str) -> App:
    config = f"from engine import RedisHuey\nhuey = RedisHuey({queue!r}, url={url!r})\n"
    return App(tmp_path, config, TASKS)


def test_thread_worker_probes_metrics_and_json_logs(tmp_path: Path) -> None:
    srv = RedisServer(tmp_path, appendonly=False)
    srv.start()
    app = _app(tmp_path, srv.url, "probes")
    port = free_port()
    try:
        proc = app.start_worker(
            "--health-port", str(port), "--log-format", "json", "--lease", "3", "--heartbeat", "1"
        )
        wait_for(lambda: get(port, "/healthz")[0] == 200, 15, "healthz 200")
        assert get(port, "/healthz") == (200, "ok\n")
        # The probes answer from before the worker's first heartbeat writes its lease.
        wait_for(lambda: "(1 live" in get(port, "/readyz")[1], 15, "the worker's lease")
        status, body = get(port, "/readyz")
        assert status == 200 and body.startswith("ok: the store answers (1 live worker(s))")
        status, body = get(port, "/metrics")
        assert status == 200 and 'hueyctl_workers_alive{queue="probes"} 1.0' in body
        assert get(port, "/nope")[0] == 404
        # the store goes away: not ready, still alive (a restart would not bring it back)
        srv.stop()
        status, body = get(port, "/readyz")
        assert status == 503 and body.startswith("the store does not answer"), body
        assert len(body.strip().splitlines()) == 1
        assert get(port, "/healthz") == (200, "ok\n")
        srv.start()
        wait_for(lambda: get(port, "/readyz")[0] == 200, 15, "readyz back to 200")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        lines = app.output(proc).strip().splitlines()
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert {"ts", "time", "level", "logger", "process", "pid", "message"} <= set(records[0])
        assert any("hueyctl worker" in r["message"] for r in records)
    finally:
        app.stop_all()
        srv.stop()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_process_worker_supervisor_reflects_its_children(tmp_path: Path) -> None:
    srv = RedisServer(tmp_path, appendonly=False)
    srv.start()
    app = _app(tmp_path, srv.url, "probes-k")
    port = free_port()
    try:
        proc = app.start_worker(
            "-k", "process", "-w", "2", "--health-port", str(port),
            "--lease", "2", "--heartbeat", "0.5",
        )  # fmt: skip
        wait_for(lambda: len(_children(proc.pid)) >= 2, 15, "two worker processes")
        wait_for(lambda: get(port, "/healthz")[0] == 200, 15, "healthz 200")
        status, body = get(port, "/readyz")
        assert status == 200, body
        child = _children(proc.pid)[0]
        os.kill(child, signal.SIGSTOP)  # alive but beating no more
        try:
            wait_for(lambda: get(port, "/healthz")[0] == 503, 15, "healthz 503")
            status, body = get(port, "/healthz")
            assert f"worker process {child}" in body and "has not beaten" in body, body
        finally:
            os.kill(child, signal.SIGCONT)
        wait_for(lambda: get(port, "/healthz")[0] == 200, 15, "healthz back to 200")
    finally:
        app.stop_all()
        srv.stop()


def test_hueyctl_metrics_serves_what_promtool_accepts(tmp_path: Path) -> None:
    import subprocess
    import sys

    srv = RedisServer(tmp_path, appendonly=False)
    srv.start()
    app = _app(tmp_path, srv.url, "exported")
    port = free_port()
    exporter = None
    try:
        app.start_worker("--heartbeat", "0.5")
        from engine.loader import connect

        producer = connect(srv.url, "exported")
        producer.enqueue_by_name("app.add", (1, 2))
        wait_for(lambda: 1 in app.executions(), 15, "the task to run")
        exporter = subprocess.Popen(
            [sys.executable, "-m", "hueyctl", "metrics", "--port", str(port)],
            env=dict(app.env, HUEYCTL_URL=srv.url, HUEYCTL_QUEUE="exported"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for(lambda: get(port, "/readyz")[0] == 200, 15, "the exporter to listen")
        wait_for(lambda: 'task="app.add"' in get(port, "/metrics")[1], 15, "the counters")
        status, body = get(port, "/metrics")
        assert status == 200 and 'hueyctl_workers_alive{queue="exported"} 1.0' in body
        if shutil.which("promtool") is None:
            pytest.skip("promtool missing: Debian's prometheus package ships it (scripts/_env.sh)")
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=body, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        if exporter is not None:
            exporter.terminate()
            exporter.wait(timeout=10)
        app.stop_all()
        srv.stop()
