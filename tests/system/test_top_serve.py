"""``hueyctl top --serve`` (issue 14) in a real headless browser: Debian's chromium
driven by Selenium through chromium-driver. The page loads, the dashboard shows the
queue, a key press switches tabs; ``--read-only`` hides the actions; with a token,
nothing but the static files is served without it. The connection reaches the
served app through the environment, never its command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.procs import free_port, wait_for

from engine.api import Huey
from engine.executor import Executor
from engine.loader import connect

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
# Every websocket frame the page receives, decoded: the terminal draws on a canvas,
# so the test reads what the served app sent instead of the pixels.
CAPTURE = """
window.__frames = [];
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
  ws.addEventListener('message', (ev) => {
    window.__frames.push(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""


def _served(
    url: str, queue: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"top-serve-{port}.log"
    environment = dict(os.environ, HUEYCTL_URL=url, HUEYCTL_QUEUE=queue, **(env or {}))
    environment.pop("HUEYCTL_APP", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hueyctl", "top", "--serve", "--port", str(port), *extra],
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for(lambda: _status(port, "/static/css/xterm.css") == 200, 30, "top --serve to listen")
    return proc, port, log


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:
        return 0


@pytest.fixture
def queue(redis_url: str) -> Iterator[Huey]:
    huey = connect(redis_url, f"serve-{os.getpid()}-{time.monotonic_ns() % 10**8}")
    huey.enqueue_by_name("tasks.canary_dead_letter", priority=1)
    Executor(huey, "c1").step(time.time())  # unknown to this queue: a dead letter
    huey.enqueue_by_name("tasks.add", (1, 2))
    yield huey
    huey.flush()


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("chromium and chromium-driver (Debian) are needed: see scripts/_env.sh")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless --no-sandbox --disable-gpu --disable-background-networking"
        " --disable-component-update --disable-sync --no-first-run --window-size=1400,1000"
    ).split():
        opts.add_argument(arg)
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"chromium-{os.getpid()}-{time.time_ns()}"
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _screen(driver: Any) -> str:
    return "".join(driver.execute_script("return window.__frames || []"))


def _stop(proc: subprocess.Popen[bytes], browser: Any = None) -> None:
    if browser is not None:
        browser.get("about:blank")  # close the websocket: the server stops at once
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_the_dashboard_in_a_browser_shows_the_queue_and_takes_keys(
    redis_url: str, queue: Huey, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    proc, port, log = _served(redis_url, queue.name)
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        wait_for(lambda: queue.name in _screen(browser), 30, "the queue's name on the page")
        assert "canary_dead_letter" not in _screen(browser)  # the Failed tab is not shown
        seen = len(_screen(browser))
        browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("6")
        wait_for(
            lambda: "canary_dead_letter" in _screen(browser)[seen:], 30, "the Failed tab's rows"
        )
        assert "Retry" in _screen(browser)  # the actions are offered
        # the served app got its connection from the environment, not its command line
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        served = [line for line in ps.splitlines() if "hueyctl top --interval" in line]
        assert served and not any(redis_url in line for line in served), served
    finally:
        _stop(proc, browser)
    assert "Traceback" not in log.read_text()


def test_read_only_hides_every_action(redis_url: str, queue: Huey, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    proc, port, _ = _served(redis_url, queue.name, "--read-only")
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        wait_for(lambda: queue.name in _screen(browser), 30, "the queue's name on the page")
        browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("6")
        wait_for(lambda: "canary_dead_letter" in _screen(browser), 30, "the Failed tab's rows")
        text = _screen(browser)
        for action in ("Revoke", "Restore", "Retry", "Delete"):
            assert action not in text, action
    finally:
        _stop(proc, browser)


def test_a_token_guards_every_page_but_the_static_files(redis_url: str, queue: Huey) -> None:
    proc, port, _ = _served(redis_url, queue.name, env={"HUEYCTL_TOP_TOKEN": "t0ken"})
    try:
        assert _status(port, "/") == 401
        assert _status(port, "/?token=wrong") == 401
        assert _status(port, "/ws") == 401
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(f"http://127.0.0.1:{port}/?token=t0ken", timeout=10) as resp:
            # redirected to / without the token, which now rides in a cookie
            assert resp.status == 200 and resp.url == f"http://127.0.0.1:{port}/"
            assert b"xterm" in resp.read()
    finally:
        _stop(proc)


def test_off_loopback_with_a_token_and_a_certificate_it_serves_https(
    redis_url: str, queue: Huey, tmp_path: Path
) -> None:
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    environment = dict(os.environ, HUEYCTL_URL=redis_url, HUEYCTL_QUEUE=queue.name)
    environment["HUEYCTL_TOP_TOKEN"] = "t0ken"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hueyctl", "top", "--serve", "--host", "0.0.0.0",
         "--port", str(port), "--certfile", str(cert), "--keyfile", str(key)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False

    def fetch(path: str) -> int:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}{path}", context=context, timeout=5
            ) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, ConnectionError):
            return 0

    try:
        wait_for(lambda: fetch("/static/css/xterm.css") == 200, 30, "https to answer")
        assert fetch("/") == 401
        handler = urllib.request.HTTPSHandler(context=context)
        opener = urllib.request.build_opener(handler, urllib.request.HTTPCookieProcessor())
        with opener.open(f"https://127.0.0.1:{port}/?token=t0ken", timeout=10) as resp:
            page = resp.read()
            assert resp.status == 200 and b"wss://" in page  # the websocket is TLS too
    finally:
        _stop(proc)
