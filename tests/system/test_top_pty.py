"""The real ``hueyctl top`` in a pseudo-terminal, against Redis and a running worker.

A worker process with two threads is kept busy by two long tasks, then twelve
short tasks and two scheduled ones are added; once the counts stop moving, the
dashboard must show exactly those counts, the worker's row and the ready tasks.
The screen is read through a terminal emulator (pyte) and compared with what
``engine.inspect`` says about the same queue.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import RedisHuey
from engine.inspect import Inspector

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

pytestmark = pytest.mark.slow

COLS, ROWS = 132, 40
APP = """
import os
import time

from engine import RedisHuey

huey = RedisHuey(os.environ["TOP_TEST_QUEUE"], url=os.environ["TOP_TEST_URL"])


@huey.task()
def hold(seconds):
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(0.05)


@huey.task()
def add(a, b):
    return a + b
"""


@pytest.fixture
def queue(redis_url: str, tmp_path: Path) -> Iterator[tuple[RedisHuey, dict[str, str]]]:
    name = f"top-pty-{uuid.uuid4().hex[:8]}"
    (tmp_path / "app.py").write_text(APP)
    env = dict(os.environ, TOP_TEST_QUEUE=name, TOP_TEST_URL=redis_url, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    huey = RedisHuey(name, url=redis_url)
    try:
        yield huey, env
    finally:
        huey.flush()
        huey.storage.close()


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Terminal:
    """A pexpect child whose output is fed to a pyte screen."""

    def __init__(
        self, argv: list[str], cwd: Path, env: dict[str, str], cols: int = COLS, rows: int = ROWS
    ) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()  # everything written, for sequences pyte drops (OSC 52)
        self.child = pexpect.spawn(
            argv[0], argv[1:], cwd=str(cwd), env=env, dimensions=(rows, cols), timeout=10
        )

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def read_until(self, predicate: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.2)
                self.raw += chunk
                self.stream.feed(chunk)
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                break
            if predicate(self.text()):
                return self.text()
        raise AssertionError(f"the screen never showed what was expected:\n{self.text()}")

    def close(self) -> None:
        if self.child.isalive():
            self.child.send("q")
            try:
                self.child.expect(pexpect.EOF, timeout=10)
            finally:
                self.child.close(force=True)


def _stable(inspector: Inspector) -> tuple[int, ...]:
    """The queue's counts once they stop moving (read 5 times, 0.2 s apart)."""
    seen: list[tuple[int, ...]] = []
    deadline = time.monotonic() + 20
    while len(seen) < 5 or len(set(seen[-5:])) > 1:
        if time.monotonic() > deadline:
            raise AssertionError(f"the queue never settled: {seen[-5:]}")
        o = inspector.overview()
        seen.append((o.ready, o.scheduled, o.started, o.claimed_ahead, o.dead, o.workers))
        time.sleep(0.2)
    return seen[-1]


def _counts(text: str) -> tuple[int, ...] | None:
    found = re.search(
        r"pending ([\d,]+) .* scheduled ([\d,]+) .* running ([\d,]+) .* ahead ([\d,]+)"
        r" .* failed ([\d,]+)"
        r" .* workers ([\d,]+)",
        text,
    )
    return None if found is None else tuple(int(n.replace(",", "")) for n in found.groups())


def test_top_shows_the_counts_and_workers_of_a_live_redis_queue(
    queue: tuple[RedisHuey, dict[str, str]], tmp_path: Path
) -> None:
    huey, env = queue
    inspector = Inspector(huey)
    worker = subprocess.Popen(
        [sys.executable, "-m", "hueyctl", "worker", "app.huey", "-w", "2", "-q", "-t", "1"],
        cwd=tmp_path,
        env=env,
    )
    term: Terminal | None = None
    try:
        # Two long tasks keep both worker threads busy, so what follows stays put.
        for _ in range(2):
            huey.enqueue_by_name("app.hold", (120,))
        _wait(
            lambda: any(len(w.running) == 2 for w in inspector.workers()),
            20,
            "the worker to run both long tasks",
        )
        for i in range(12):  # the worker claims a few ahead; the rest stay ready
            huey.enqueue_by_name("app.add", (i, i))
        for i in range(2):
            huey.enqueue_by_name("app.add", (i, i), delay=3600)
        expected = _stable(inspector)
        # Both threads run a long task; what the worker claimed beyond them is "ahead".
        assert expected[1] == 2 and expected[2] == 2 and expected[5] == 1 and expected[0] >= 1

        (info,) = inspector.workers()

        argv = [sys.executable, "-m", "hueyctl", "top", "--app", "app.huey", "-i", "0.5"]
        term = Terminal(argv, tmp_path, env)
        text = term.read_until(
            lambda t: "● connected" in t and _counts(t) == expected and info.id in t, 20
        )
        assert f"queue {huey.name}" in text
        row = next(line for line in text.splitlines() if info.id in line)
        assert info.host in row and str(info.pid) in row and " ok" in row
        assert f"{len(info.running)}/{info.concurrency}" in row and "app.hold" in row

        ids = [i.id for i in inspector.pending(0, 50)]
        assert len(ids) == expected[0]
        term.child.send("2")  # the Pending tab lists the ready tasks
        noun = "pending task" if expected[0] == 1 else "pending tasks"
        # The footer's count can be drawn a frame before the rows: wait for both.
        text = term.read_until(
            lambda t: f"{expected[0]} {noun}" in t and all(i in t for i in ids), 10
        )
        assert all(task_id in text for task_id in ids), text
    finally:
        if term is not None:
            term.close()
        worker.terminate()
        worker.wait(timeout=30)


def test_top_at_80x24_keeps_ten_rows_and_the_key_bar_and_quits_on_ctrl_c(
    queue: tuple[RedisHuey, dict[str, str]], tmp_path: Path
) -> None:
    huey, env = queue
    ids = [huey.enqueue_by_name("app.add", (i, i)).id for i in range(15)]
    argv = [sys.executable, "-m", "hueyctl", "top", "--app", "app.huey", "-i", "0.5"]
    term = Terminal(argv, tmp_path, env, cols=80, rows=24)
    try:
        term.read_until(lambda t: "● connected" in t and "pending 15" in t, 20)
        term.child.send("2")
        text = term.read_until(lambda t: sum(i in t for i in ids) >= 10, 10)
        footer = text.splitlines()[-1]
        assert "q Quit" in footer and "? Help" in footer, text
        assert "7 Evt" in text, text
        term.child.send("\x03")  # Ctrl-C
        term.child.expect(pexpect.EOF, timeout=10)
        term.child.close()
        assert term.child.exitstatus == 0
    finally:
        term.close()


def test_top_refuses_to_draw_into_a_pipe(
    queue: tuple[RedisHuey, dict[str, str]], tmp_path: Path
) -> None:
    _, env = queue
    done = subprocess.run(
        ["bash", "-c", "set -o pipefail; python -m hueyctl top --app app.huey | cat"],
        cwd=tmp_path,
        env=dict(env, PATH=f"{Path(sys.executable).parent}:{env['PATH']}"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "needs a terminal" in done.stderr, done.stderr


def test_top_at_200x60_pages_copies_and_labels_its_clock_utc(
    queue: tuple[RedisHuey, dict[str, str]], tmp_path: Path
) -> None:
    """--utc before the command labels the header clock; > shows rows 201-250; y
    writes the selected id to the terminal's clipboard (OSC 52)."""
    huey, env = queue
    for i in range(250):
        huey.enqueue_by_name("app.add", (i, i))
    second_page = [i.id for i in Inspector(huey).pending(200, 50)]
    argv = [sys.executable, "-m", "hueyctl", "--utc", "top", "--app", "app.huey", "-i", "0.5"]
    term = Terminal(argv, tmp_path, env, cols=200, rows=60)
    try:
        text = term.read_until(lambda t: "● connected" in t and "pending 250" in t, 20)
        assert re.search(r"\d\d:\d\d:\d\d UTC", text.splitlines()[0]), text
        term.child.send("2")
        term.read_until(lambda t: "showing the first 200 of 250" in t, 10)
        term.child.send(">")
        text = term.read_until(lambda t: "rows 201–250 of 250" in t, 10)
        assert second_page[0] in text
        term.child.send("y")
        osc = b"\x1b]52;c;" + base64.b64encode(second_page[0].encode())
        term.read_until(lambda t: osc in term.raw, 10)
    finally:
        term.close()
