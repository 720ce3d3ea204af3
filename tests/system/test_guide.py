"""The getting-started guide, walked block by block, with a real ``hueyctl worker``.

Each test is one section of ``getting-started.rst``: the guide's files are written
to a temporary project (``from engine import ...`` instead of ``from huey``), the
worker runs as a subprocess (``hueyctl worker main.huey``), and the guide's
interpreter snippets run in a separate Python process, as a user would run them.
Runs against Redis and the embedded SQLite store.

Where the guide waits for real time (delay=60, retry_delay=10, a minute of
crontab) the test keeps the guide's call and checks what it stored, then uses a
shorter time to see it run; the exact periodic firing is tested with an injected
clock in ``test_scheduler.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import pythonpath

pytestmark = pytest.mark.slow

HUEYCTL = [sys.executable, "-m", "hueyctl"]

TASKS_V1 = """
from config import huey # import the huey we instantiated in config.py


@huey.task()
def count_beans(num):
    print('-- counted %s beans --' % num)
"""

TASKS_V2 = """
from config import huey


@huey.task()
def count_beans(num):
    print('-- counted %s beans --' % num)
    return 'Counted %s beans' % num
"""

TASKS_RETRY = (
    TASKS_V2
    + """
@huey.task(retries=3, retry_delay=RETRY_DELAY)
def try_thrice():
    print('trying....%s' % datetime.now(), flush=True)
    raise Exception('nope')
"""
)

TASKS_FULL = """
from datetime import datetime
from engine import crontab

from config import huey


@huey.task()
def count_beans(num):
    print('-- counted %s beans --' % num)
    return 'Counted %s beans' % num


@huey.periodic_task(crontab(minute='*'))
def print_time():
    print(datetime.now())


@huey.task()
def add(a, b):
    return a + b


@huey.task()
def fib(a, b=1):
    a, b = a + b, a
    return (a, b)  # returns tuple, which is passed as *args


@huey.task()
def stateful(v1=None, v2=None, v3=None):
    state = {
        'v1': v1 + 1 if v1 is not None else 0,
        'v2': v2 + 2 if v2 is not None else 0,
        'v3': v3 + 3 if v3 is not None else 0}
    return state


def run_report():
    print('report generated', flush=True)


@huey.periodic_task(crontab(minute='*/5'))
@huey.lock_task('reports-lock')
def generate_report():
    # If a report takes longer than 5 minutes to generate, we do
    # not want to kick off another until the previous invocation
    # has finished.
    run_report()


def do_code_backup():
    pass


def do_db_backup():
    print('db backup done', flush=True)


@huey.periodic_task(crontab(minute='0'))
def backup():
    do_code_backup()
    with huey.lock_task('db-backup'):
        do_db_backup()
"""

MAIN = """
from config import huey  # import our "huey" object
from tasks import count_beans  # import our task


if __name__ == '__main__':
    beans = input('How many beans? ')
    count_beans(int(beans))
    print('Enqueued job to count %s beans' % beans)
"""


class Project:
    """A user's project directory with the guide's files and a worker process."""

    def __init__(self, root: Path, config: str) -> None:
        self.root = root
        self.worker: subprocess.Popen[bytes] | None = None
        self.log = root / "worker.log"
        self.write("config.py", config)
        self.write("main.py", MAIN)
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath(root))

    def write(self, name: str, text: str) -> None:
        (self.root / name).write_text(textwrap.dedent(text))

    def start(self, workers: int = 2, periodic: bool = True) -> None:
        self.stop()
        self._log_file = self.log.open("ab")
        self.worker = subprocess.Popen(
            [*HUEYCTL, "worker", "main.huey", "-w", str(workers), *([] if periodic else ["-n"])],
            cwd=self.root,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_for_log("hueyctl worker")

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            assert self.worker.wait(timeout=20) == 0, self.output()
            self.worker = None
            self._log_file.close()

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output()
            if out.count(text) >= count:
                return out
            if self.worker is not None and self.worker.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} x{count} not in worker output:\n{self.output()}")

    def python(self, code: str, stdin: str = "", timeout: float = 30.0) -> str:
        """Run a snippet as the guide's interpreter session; return its stdout."""
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=self.root,
            env=self.env,
            input=stdin.encode(),
            capture_output=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()
        return proc.stdout.decode()


@pytest.fixture(params=["redis", "sqlite"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        name = f"guide-{uuid.uuid4().hex[:8]}"
        config = f"""
            # config.py
            from engine import RedisHuey

            huey = RedisHuey({name!r}, url={url!r})
        """
    else:
        config = f"""
            # config.py
            from engine import SqliteHuey

            huey = SqliteHuey(filename={str(tmp_path / "huey.db")!r})
        """
    proj = Project(tmp_path, config)
    try:
        yield proj
    finally:
        proj.stop()
        proj.python("from config import huey; huey.flush()")


def test_trying_it_out(project: Project) -> None:
    project.write("tasks.py", TASKS_V1)
    project.start()
    out = project.python("import runpy; runpy.run_path('main.py', run_name='__main__')", "7\n")
    assert "Enqueued job to count 7 beans" in out
    project.wait_for_log("-- counted 7 beans --")


def test_getting_results(project: Project) -> None:
    project.write("tasks.py", TASKS_V2)
    project.start()
    out = project.python("""
        from main import count_beans
        res = count_beans(100)
        print(res)                      # What is "res" ?
        print(repr(res(blocking=True, timeout=10)))
    """)
    first, second = out.splitlines()
    assert first.startswith("<Result tasks.count_beans id=")
    assert second == "'Counted 100 beans'"


def test_executing_tasks_in_the_future(project: Project) -> None:
    project.write("tasks.py", TASKS_V2)
    project.start()
    out = project.python("""
        import datetime, time
        from main import count_beans
        from config import huey

        # The guide's calls, checked by what they stored.
        res = count_beans.schedule(args=(100,), delay=60)
        eta = {t.id: t.due_at for t in huey.scheduled()}[res.id]
        print(round(eta - time.time()))
        in_a_minute = datetime.datetime.now() + datetime.timedelta(seconds=60)
        res2 = count_beans.schedule(args=(100,), eta=in_a_minute)
        eta2 = {t.id: t.due_at for t in huey.scheduled()}[res2.id]
        print(round(eta2 - time.time()))
        res.revoke(); res2.revoke()

        # The same with a shorter wait, to see them run.
        res = count_beans.schedule(args=(100,), delay=1)
        print(res())  # This returns None, no data is ready.
        print(res(blocking=True, timeout=10))
        soon = datetime.datetime.now() + datetime.timedelta(seconds=1)
        res = count_beans.schedule(args=(101,), eta=soon)
        started = time.time()
        print(res(blocking=True, timeout=10))
        print(time.time() - started < 3)
    """)
    assert out.splitlines() == [
        "60",
        "60",
        "None",
        "Counted 100 beans",
        "Counted 101 beans",
        "True",
    ]


def test_retrying_tasks_that_fail(project: Project) -> None:
    project.write(
        "tasks.py", "from datetime import datetime\n" + TASKS_RETRY.replace("RETRY_DELAY", "1")
    )
    project.start()
    out = project.python("""
        import time
        from engine import TaskException
        from tasks import try_thrice, count_beans
        res = try_thrice()
        print(count_beans(5)(blocking=True, timeout=10))  # runs in between retries
        started = time.time()
        try:
            res(blocking=True, timeout=20)
        except TaskException as exc:
            print('failed:', exc.metadata['error'], exc.metadata['retries'])
        print(time.time() - started >= 2.5)
    """)
    assert out.splitlines() == ["Counted 5 beans", "failed: Exception('nope') 0", "True"]
    project.wait_for_log("trying....", count=4)


def test_periodic_task_is_registered(project: Project) -> None:
    project.write("tasks.py", TASKS_FULL)
    project.start()
    assert ", 3 periodic," in project.output()  # print_time, generate_report, backup


def test_canceling_or_pausing_tasks(project: Project) -> None:
    project.write("tasks.py", TASKS_FULL)
    # No worker yet, so the revocations happen before the consumer can run anything.
    out = project.python("""
        import datetime
        from main import count_beans
        from config import huey

        res = count_beans(10000000)
        res.revoke()

        in_the_future = datetime.datetime.now() + datetime.timedelta(seconds=1)
        res2 = count_beans.schedule(args=(100000,), eta=in_the_future)
        res2.revoke()
        res2.restore()

        count_beans.revoke()
        assert count_beans.is_revoked() is True
        res3 = count_beans(100)
        assert res3.is_revoked() is True
        count_beans.restore()
        assert count_beans.is_revoked() is False
        print(res.id, res2.id, res3.id)
    """)
    revoked_id, restored_id, while_revoked_id = out.split()
    project.start()
    out = project.python(f"""
        from config import huey
        from main import count_beans
        print(huey.result({restored_id!r}, blocking=True, timeout=10))
        print(count_beans(1)(blocking=True, timeout=10))  # queue drained past the others
        # restored before it ran, so it runs:
        print(huey.result({while_revoked_id!r}, blocking=True, timeout=10))
        print(huey.result({revoked_id!r}))
    """)
    assert out.splitlines() == [
        "Counted 100000 beans",
        "Counted 1 beans",
        "Counted 100 beans",
        "None",
    ]


def test_canceling_or_pausing_periodic_tasks(project: Project) -> None:
    project.write("tasks.py", TASKS_FULL)
    out = project.python("""
        import datetime
        from tasks import print_time

        # only prevent it from running once
        print_time.revoke(revoke_once=True)
        print(print_time.is_revoked())

        # prevent printing time for 10 minutes
        now = datetime.datetime.utcnow()
        in_10 = now + datetime.timedelta(seconds=600)
        print_time.revoke(revoke_until=in_10)
        print(print_time.is_revoked())
        print(print_time.is_revoked(timestamp=(in_10 + datetime.timedelta(seconds=1))
              .replace(tzinfo=datetime.timezone.utc).timestamp()))

        print_time.revoke()
        assert print_time.is_revoked() is True
        print_time.restore()
        print(print_time.is_revoked())
    """)
    assert out.split() == ["True", "True", "False", "False"]


def test_task_pipelines(project: Project) -> None:
    project.write("tasks.py", TASKS_FULL)
    project.start()
    out = project.python("""
        from config import huey
        from tasks import add, fib, stateful

        result = add(1, 2)
        task = add.s(1, 2)
        result = huey.enqueue(task)
        print(result.get(blocking=True, timeout=10))

        add_task = add.s(1, 2)  # Create QueueTask to represent task invocation.
        pipeline = (add_task
                    .then(add, 3)  # Call add() with previous result and 3.
                    .then(add, 4)  # etc...
                    .then(add, 5))
        results = huey.enqueue(pipeline)
        print([result.get(blocking=True, timeout=10) for result in results])

        pipe = (fib.s(1)
                .then(fib)
                .then(fib))
        results = huey.enqueue(pipe)
        print([result.get(blocking=True, timeout=10) for result in results])

        pipe = (stateful
                .s()
                .then(stateful)
                .then(stateful))
        results = huey.enqueue(pipe)
        print([result.get(True, timeout=10) for result in results])
    """)
    assert out.splitlines() == [
        "3",
        "[3, 6, 10, 15]",
        "[(2, 1), (3, 2), (5, 3)]",
        "[{'v1': 0, 'v2': 0, 'v3': 0}, {'v1': 1, 'v2': 2, 'v3': 3}, {'v1': 2, 'v2': 4, 'v3': 6}]",
    ]


def test_locking_tasks(project: Project) -> None:
    project.write("tasks.py", TASKS_FULL)
    # One worker: tasks run in the order they were enqueued. No periodic runs: generate_report is
    # also periodic (every 5 minutes), and a run on a boundary would print a second report.
    project.start(workers=1, periodic=False)
    out = project.python("""
        from config import huey
        from tasks import generate_report, backup, count_beans

        lock = huey.lock_task('reports-lock')
        assert lock.acquire()
        generate_report()                        # lock held: skipped, not an error
        print(count_beans(1)(blocking=True, timeout=10))
        print(huey.is_locked('reports-lock'))
        lock.release()
        print(huey.is_locked('reports-lock'))
        generate_report()
        backup()
        print(count_beans(2)(blocking=True, timeout=10))
    """)
    assert out.splitlines() == ["Counted 1 beans", "True", "False", "Counted 2 beans"]
    log = project.wait_for_log("report generated")
    assert log.count("report generated") == 1
    project.wait_for_log("db backup done")
    assert "unable to acquire lock 'reports-lock'" in log
