"""``hueyctl ping`` and ``hueyctl metrics`` (issue 14): exit codes, the numbers of an
idle queue equal ``status --json``, counters that never go down, ``promtool check
metrics``, and a scrape that costs the same reads on an empty and a 10,000-task queue."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from support.cli import CLEAN_ENV, Queue, one_line_error
from support.procs import RedisServer, wait_for

from engine import RedisHuey, steering
from engine.inspect import Inspector, Minute
from engine.telemetry import Telemetry
from hueyctl.cli import main
from hueyctl.metrics import REREAD_MINUTES, Tally, registry

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by (name, labels)."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def _run_some(q: Queue) -> None:
    telemetry = Telemetry(q.huey, "c1")
    telemetry.attach()
    q.dead()
    q.result()
    q.result(2)
    telemetry.flush()
    telemetry.detach()


# --- ping ----------------------------------------------------------------------------------
def test_ping_exits_1_without_a_live_worker_and_0_with_one(q: Queue) -> None:
    q.add(1)  # a queue the store has seen (else a warning says to check --queue)
    one_line_error(q.cli("ping"), 1, "no live worker", repr(q.huey.name))
    q.huey.storage.heartbeat("c1", time.time(), 30.0)
    r = q.ok("ping")
    assert r.stdout == f"ok: 1 live worker(s) on queue {q.huey.name!r}\n"
    q.huey.storage.heartbeat("c1", time.time(), 0.2)  # a lease that lapses at once
    wait_for(lambda: q.cli("ping").exit_code == 1, 10, "the lease to lapse")
    one_line_error(q.cli("ping"), 1, "no live worker")


def test_ping_exits_69_when_the_store_does_not_answer() -> None:
    r = CliRunner(env=CLEAN_ENV).invoke(
        main, ["ping", "--url", "redis://127.0.0.1:1/0", "--queue", "q"]
    )
    one_line_error(r, 69)


# --- metrics -------------------------------------------------------------------------------
def test_metrics_of_an_idle_queue_equal_status_json(q: Queue) -> None:
    _run_some(q)
    q.add(3)
    q.add(2, delay=600)
    q.huey.storage.heartbeat("c1", time.time(), 30.0)
    status = q.json("status", "--minutes", "120")
    found = samples(q.ok("metrics", "--once").stdout)
    name = q.huey.name
    for state in ("ready", "scheduled", "running", "dead"):
        assert value(found, "hueyctl_queue_tasks", queue=name, state=state) == status[state]
    assert value(found, "hueyctl_queue_claimed_ahead_tasks", queue=name) == status["claimed_ahead"]
    assert value(found, "hueyctl_workers_alive", queue=name) == status["workers"] == 1
    assert value(found, "hueyctl_store_up", queue=name) == 1
    for row in status["tasks"]:
        labels = {"queue": name, "task": row["task"]}
        assert value(found, "hueyctl_task_runs_total", **labels) == row["count"]
        assert value(found, "hueyctl_task_failures_total", **labels) == row["failures"]
        assert value(found, "hueyctl_task_runtime_seconds_count", **labels) == row["count"]
        runtime = value(found, "hueyctl_task_runtime_seconds_sum", **labels)
        assert runtime == pytest.approx(row["avg"] * row["count"])
    age = value(found, "hueyctl_queue_oldest_ready_age_seconds", queue=name)
    assert 0 <= age < 60
    # nothing was written by the scrape: the queue reads the same
    assert q.json("status", "--minutes", "120")["ready"] == 3


def test_metrics_say_whether_the_queue_is_paused(q: Queue) -> None:
    name = q.huey.name
    q.add(1)  # a queue the store has seen, and tasks.add known

    def paused() -> float:
        return value(samples(q.ok("metrics", "--once").stdout), "hueyctl_queue_paused", queue=name)

    assert paused() == 0
    q.ok("pause", "tasks.add")  # a paused task name: the queue's other tasks still run
    assert paused() == 0
    q.ok("pause", "--for", "1h")
    assert paused() == 1
    q.ok("resume")
    assert paused() == 0
    steering.pause(q.huey, seconds=5, now=time.time() - 10)  # lapsed: no longer in force
    assert paused() == 0


def test_oldest_ready_age_counts_from_enqueue_or_eta(q: Queue) -> None:
    insp = Inspector(q.huey, clock=lambda: time.time() + 100)
    assert insp.head_wait() is None
    q.add(1)
    wait = insp.head_wait()
    assert wait is not None and 99 < wait < 160


def test_counters_never_go_down_as_minutes_age_out() -> None:
    tally = Tally()
    t0 = 1_800_000_000 - 1_800_000_000 % 60
    m = t0 - 60 * 10
    tally.update({"a": [Minute(m, 2, 1, 0.5, 0.3)]}, t0)
    assert tally.totals() == {"a": (2, 1, 0.5)}
    # the same minute read again, grown by a late flush, then newer minutes
    tally.update({"a": [Minute(t0, 1, 0, 0.1, 0.1)]}, t0)
    tally.update({"a": [Minute(t0, 3, 0, 0.3, 0.1)]}, t0 + 30)
    assert tally.totals() == {"a": (5, 1, 0.8)}
    later = t0 + 60 * (REREAD_MINUTES + 5)
    # from a few minutes before the last read on: what a late flush may still change
    assert tally.since(later) == t0 - 60 * REREAD_MINUTES
    tally.update({}, later)  # t0 folded into the totals and read no more
    tally.update({"a": [Minute(later, 1, 1, 1.0, 1.0)]}, later)
    assert tally.totals() == {"a": (6, 2, 1.8)}


def test_metrics_without_prometheus_client_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from hueyctl.cli import main\n"
        "main(['metrics', '--once', '--url', 'sqlite:///" + str(tmp_path / "x.db") + "'])\n"
    )
    (tmp_path / "x.db").touch()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "hueyctl: prometheus-client is not installed: pip install 'hueyctl[metrics]'"
    )


def test_metrics_report_a_store_that_does_not_answer_as_down() -> None:
    huey = RedisHuey("down", url="redis://127.0.0.1:1/0")
    from hueyctl.metrics import exposition

    found = samples(exposition(registry(Inspector(huey))).decode())
    assert value(found, "hueyctl_store_up", queue="down") == 0
    assert not any(name == "hueyctl_queue_tasks" for name, _ in found)


def test_promtool_accepts_the_exposition(q: Queue, tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool missing: Debian's prometheus package ships it (scripts/_env.sh)")
    _run_some(q)
    q.add(2)
    text = q.ok("metrics", "--once").stdout
    r = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_metrics_serve_a_scrape_over_http(q: Queue) -> None:
    from hueyctl import probes

    insp = Inspector(q.huey)
    route = probes.metrics_route(insp, required=True)
    assert route is not None
    server = probes.make_server("127.0.0.1", 0, {"/metrics": route})
    probes.serve_in_thread(server)
    try:
        import urllib.request

        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "hueyctl_store_up" in resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()


# --- one scrape, a bounded number of store commands ------------------------------------------
def _commands(admin: redis.Redis) -> int:
    stats: dict[str, Any] = admin.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def _scrape_cost(admin: redis.Redis, huey: RedisHuey) -> int:
    reg = registry(Inspector(huey))
    from hueyctl.metrics import exposition

    before = _commands(admin)
    exposition(reg)
    return _commands(admin) - before


@pytest.mark.slow
def test_a_scrape_costs_the_same_on_an_empty_and_a_10k_queue(tmp_path: Path) -> None:
    srv = RedisServer(tmp_path, appendonly=False)  # commandstats of our own server only
    srv.start()
    admin = redis.Redis(port=srv.port)
    try:
        empty = RedisHuey("empty", url=srv.url)
        full = RedisHuey("full", url=srv.url)
        for q in (empty, full):  # the same per-minute counters on both
            q.storage.heartbeat("c1", time.time(), 30.0)
        for i in range(10_000):
            full.enqueue_by_name("tasks.add", (i, i))
        assert Inspector(full).overview(1).ready == 10_000
        cost_empty = _scrape_cost(admin, empty)
        cost_full = _scrape_cost(admin, full)
        # + an LLEN per priority level in use (counts) and the head: its level's LRANGE and
        # its body (HMGET of its bucket and of m:big), when there is one
        assert cost_empty <= cost_full <= cost_empty + 4
        assert cost_full <= 134  # a handful of reads plus one per minute of counters kept
        again = registry(Inspector(full))
        from hueyctl.metrics import exposition

        exposition(again)  # the first scrape reads two hours of counters; later ones a few
        before = _commands(admin)
        exposition(again)
        # counts (4, + an LLEN for the one level), leases, registry, this minute's
        # throughput, the ready head (levels, LRANGE) and its body (bucket, m:big), the
        # pause record, and the counters of the minutes a late flush may still change
        # (one more when the two scrapes straddle a minute)
        base = 5 + 1 + 1 + 1 + 4 + 1 + (REREAD_MINUTES + 1)
        assert _commands(admin) - before in (base, base + 1)
    finally:
        admin.close()
        srv.stop()


# --- top --serve: refusals (the browser test is tests/system/test_top_serve.py) -------------
@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--host", "0.0.0.0"], "needs --token"),
        (["--host", "192.0.2.1", "--token", "x"], "needs TLS"),
        (["--host", "0.0.0.0", "--token", "x", "--public-url", "http://h"], "TLS proxy"),
        (["--certfile", "c.pem"], "--certfile and --keyfile together"),
        (["--public-url", "ftp://h"], "--public-url must start with https://"),
    ],
)
def test_top_serve_refuses_off_loopback_without_token_and_tls(
    extra: list[str], fragment: str
) -> None:
    r = CliRunner(env=CLEAN_ENV).invoke(
        main, ["top", "--serve", *extra, "--url", "redis://127.0.0.1:1/0", "--queue", "q"]
    )
    one_line_error(r, 2, fragment)


def test_serve_options_without_serve_are_refused() -> None:
    r = CliRunner(env=CLEAN_ENV).invoke(
        main, ["top", "--port", "9000", "--url", "redis://127.0.0.1:1/0", "--queue", "q"]
    )
    one_line_error(r, 2, "--port: only with --serve")


def test_the_served_app_gets_the_connection_from_the_environment() -> None:
    from hueyctl import serve

    command = serve.child_command(read_only=True, interval=2.0)
    assert command.endswith("-m hueyctl top --interval 2.0 --read-only")
    env = serve.child_environment(None, "redis://:pw@h/0", "q", frozenset({"queue"}))
    assert env == {
        "HUEYCTL_URL": "redis://:pw@h/0",
        "HUEYCTL_QUEUE": "q",
        serve.SERVED_ENV: '["queue"]',
    }
    assert "pw" not in command
    assert serve.is_loopback("127.0.0.1") and serve.is_loopback("::1")
    assert serve.is_loopback("localhost") and not serve.is_loopback("0.0.0.0")


def test_core_imports_neither_prometheus_nor_textual_serve() -> None:
    code = (
        "import sys, engine, engine.api, engine.inspect, hueyctl.cli, hueyctl.probes\n"
        "bad = {'prometheus_client', 'textual_serve', 'aiohttp', 'selenium'} & set(sys.modules)\n"
        "print(sorted(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the shipped dashboard and alert rules ---------------------------------------------------
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_dashboard_and_alerts_name_only_metrics_we_serve(q: Queue) -> None:
    import json
    import re

    _run_some(q)
    served = {name for name, _ in samples(q.ok("metrics", "--once").stdout)}
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    alerts = (DOCS / "prometheus-alerts.yml").read_text()
    used = set(re.findall(r"hueyctl_[a-z_]+", " ".join(exprs) + alerts))
    assert used and used <= served, used - served


def test_promtool_accepts_the_alert_rules() -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool missing: Debian's prometheus package ships it (scripts/_env.sh)")
    r = subprocess.run(
        ["promtool", "check", "rules", str(DOCS / "prometheus-alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_worker_without_prometheus_client_answers_404_at_metrics(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from engine import MemoryHuey\n"
        "from engine.inspect import Inspector\n"
        "from hueyctl import probes\n"
        "route = probes.metrics_route(Inspector(MemoryHuey('m')), required=False)\n"
        "print(route())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "404" in r.stdout and "pip install 'hueyctl[metrics]'" in r.stdout
