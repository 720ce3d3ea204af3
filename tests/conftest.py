"""Shared fixtures: one storage per backend, so a test written once runs on all of them.

* ``storage``: a fresh, empty store of each backend (memory, redis, sqlite).
* ``make_storage``: the factory behind it, for tests that need options
  (``make_storage(dead_cap=3)``) or a second store; every store it makes is
  destroyed and closed after the test.
* ``redis_url``: a reachable Redis database for tests (``HUEYCTL_TEST_REDIS_URL``,
  default db 15). Skips when Redis is down, but fails when ``CI`` is set.
  Tests only ever delete their own queue's keys (``destroy``), never FLUSHDB.

Two things keep the suite's real-time budgets honest on a busy machine:

* Per-test timeouts (pytest-timeout) are multiplied by the load per CPU when the
  session starts (1-minute or 5-minute load average, whichever is higher; between 1
  and 8; ``HUEYCTL_TEST_TIMEOUT_SCALE`` sets it). On an idle machine (CI) they are
  as written, so a test that got slower still fails there. The header says the factor.
* Processes the tests start (``python -m hueyctl``, workers) keep their compiled
  bytecode in a cache of the session when ``PYTHONDONTWRITEBYTECODE`` is set: else
  every one of them compiles the project again (~0.3 s of CPU per command).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.storage.base import Storage

REDIS_URL = os.environ.get("HUEYCTL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = ("memory", "redis", "sqlite", "cluster")
MAX_TIMEOUT_SCALE = 8.0
_TIMEOUT_SCALE = pytest.StashKey[float]()


def _timeout_scale() -> float:
    forced = os.environ.get("HUEYCTL_TEST_TIMEOUT_SCALE", "").strip()
    if forced:
        return max(1.0, float(forced))
    try:
        load = max(os.getloadavg()[:2])
    except OSError:  # no load average on this platform
        return 1.0
    return min(MAX_TIMEOUT_SCALE, max(1.0, load / (os.cpu_count() or 1)))


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TIMEOUT_SCALE] = _timeout_scale()


def pytest_report_header(config: pytest.Config) -> str:
    scale = config.stash.get(_TIMEOUT_SCALE, 1.0)
    cpus = os.cpu_count() or 1
    why = (
        "HUEYCTL_TEST_TIMEOUT_SCALE"
        if os.environ.get("HUEYCTL_TEST_TIMEOUT_SCALE")
        else f"load per CPU ({cpus} CPUs)"
    )
    return f"test timeouts x{scale:.1f} ({why})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    scale = config.stash.get(_TIMEOUT_SCALE, 1.0)
    if scale <= 1.0:
        return
    try:
        from pytest_timeout import get_env_settings
    except ImportError:
        return
    default = get_env_settings(config).timeout
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = default
        if marker is not None:
            seconds = marker.args[0] if marker.args else marker.kwargs.get("timeout", default)
        if seconds:  # 0 or None: no timeout, and it stays so
            item.add_marker(pytest.mark.timeout(float(seconds) * scale), append=False)


@pytest.fixture(scope="session", autouse=True)
def _bytecode_cache_for_child_processes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        # The cache is outside the source tree, as not writing bytecode there meant.
        mp.delenv("PYTHONDONTWRITEBYTECODE")
        mp.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.mktemp("pycache")))
        yield


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    from engine.loader import mask_url

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {mask_url(REDIS_URL)}: {exc}"
        if _on_ci():
            pytest.fail(f"{message} (CI is set: the Redis service must be running)")
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-master Redis Cluster of our own, for the whole session."""
    import shutil
    import subprocess
    import time

    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        if _on_ci():
            pytest.fail("redis-server and redis-cli are needed for the cluster tests")
        pytest.skip("redis-server / redis-cli not installed")
    from support.procs import free_cluster_port

    root = tmp_path_factory.mktemp("cluster")
    ports: list[int] = []
    while len(ports) < 3:
        port = free_cluster_port()
        if port not in ports:
            ports.append(port)
    procs = []
    for port in ports:
        d = root / str(port)
        d.mkdir()
        procs.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(d),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        for port in ports:
            deadline = time.monotonic() + 10
            while (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
                ).stdout.strip()
                != "PONG"
            ):
                assert time.monotonic() < deadline, f"cluster node {port} did not start"
                time.sleep(0.05)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        # Every node, not just the first: each reaches state ok on its own (gossip), and
        # a command routed to one that has not yet answers CLUSTERDOWN (seen under load).
        deadline = time.monotonic() + 60
        for port in ports:
            while "cluster_state:ok" not in subprocess.run(
                ["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, text=True
            ).stdout:
                assert time.monotonic() < deadline, f"cluster node {port} did not reach state ok"
                time.sleep(0.1)
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name; skips backends that cannot run here."""
    name: str = request.param
    if name == "sqlite" and importlib.util.find_spec("engine.storage.sqlite") is None:
        pytest.skip("sqlite backend not available")
    return name


@pytest.fixture
def make_storage(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Storage]]:
    url = None
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
    elif backend == "cluster":
        url = request.getfixturevalue("redis_cluster_url")
    created: list[Storage] = []

    def make(**options: object) -> Storage:
        name = f"test-{uuid.uuid4().hex}"
        store: Storage
        if backend == "memory":
            from engine.storage.memory import MemoryStorage

            store = MemoryStorage(name=name, **options)
        elif backend in ("redis", "cluster"):
            from engine.storage.redis import RedisStorage

            # Leases on the injected clock, as memory and SQLite: the contract stays
            # deterministic. The server's clock (the default) is tested on its own.
            options.setdefault("lease_clock", "caller")
            store = RedisStorage(name=name, url=url, **options)  # type: ignore[arg-type]
        else:
            sqlite = importlib.import_module("engine.storage.sqlite")
            path = tmp_path / (f"q{len(created)}.db" if created else "q.db")
            store = sqlite.SqliteStorage(name=name, filename=str(path), **options)
        created.append(store)
        return store

    yield make
    for store in reversed(created):
        try:
            store.destroy()
        finally:
            store.close()


@pytest.fixture
def storage(make_storage: Callable[..., Storage]) -> Storage:
    return make_storage()


# --- Textual snapshots (tests/tui/test_tui.py) live in the top-level snapshots/ -------------
# pytest-textual-snapshot stores them next to the tests (tests/__snapshots__/) and
# syrupy has no option for another place, so its SVG extension is pointed at
# snapshots/<test module>/ here. Unused-snapshot detection follows the same path.
try:
    from pytest_textual_snapshot import SVGImageExtension
except ImportError:  # the plugin is a test extra; without it, test_tui is skipped
    pass
else:

    def _top_level_snapshot_dir(cls: type, *, test_location: object) -> str:
        module = test_location.basename  # type: ignore[attr-defined]
        return str(Path(__file__).resolve().parent.parent / "snapshots" / module)

    SVGImageExtension.dirname = classmethod(_top_level_snapshot_dir)  # type: ignore[assignment,method-assign]
# --- end of the snapshot location override ---------------------------------------------
