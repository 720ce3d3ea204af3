"""Run a module (``python -m benchmarks._traced hueyctl worker ...``) counting Redis round trips.

Every command sent alone counts as one round trip named after the command
(``EVALSHA <sha>`` keeps the script's sha so :mod:`benchmarks.profile` can name the
script); every pipeline counts as one round trip named ``pipeline[CMD+CMD...]``.
Each process (forked workers included) writes its running totals to
``$BENCH_TRACE_DIR/<pid>.json`` every 0.2 s.
"""

from __future__ import annotations

import collections
import json
import os
import runpy
import sys
import threading
from typing import Any

import redis.client
import redis.connection

_counts: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()


def _label(args: tuple[Any, ...]) -> str:
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    name = name.upper()
    if name == "EVALSHA" and len(args) > 1:
        return f"EVALSHA {args[1]}"
    return name


def _count(label: str) -> None:
    with _lock:
        _counts[label] += 1


def _patch() -> None:
    send_command = redis.connection.AbstractConnection.send_command

    def counted_send_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        _count(_label(args))
        return send_command(self, *args, **kwargs)

    redis.connection.AbstractConnection.send_command = counted_send_command  # type: ignore[method-assign]

    for method in ("_execute_pipeline", "_execute_transaction"):
        original = getattr(redis.client.Pipeline, method)

        def counted(
            self: Any, connection: Any, commands: Any, *rest: Any, _o: Any = original
        ) -> Any:
            names = "+".join(_label(c.args if hasattr(c, "args") else c[0]) for c in commands)
            _count(f"pipeline[{names}]")
            # The commands go out in one send_packed_command, not via send_command.
            return _o(self, connection, commands, *rest)

        setattr(redis.client.Pipeline, method, counted)


def _dumper() -> None:
    out = os.environ["BENCH_TRACE_DIR"]
    path = os.path.join(out, f"{os.getpid()}.json")
    stop = threading.Event()
    while not stop.wait(0.2):
        with _lock:
            data = dict(_counts)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)


def _start_dumper() -> None:
    with _lock:
        _counts.clear()  # a forked child counts its own round trips only
    threading.Thread(target=_dumper, name="trace-dump", daemon=True).start()


def main() -> None:
    _patch()
    _start_dumper()
    os.register_at_fork(after_in_child=_start_dumper)
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
