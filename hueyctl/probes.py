"""Health probes and the metrics endpoint, served by a small stdlib HTTP server.

``hueyctl worker --health-port N`` serves, from a thread of the worker (of the
supervising process with ``-k process``, which reflects its children):

* ``/healthz``: 200 while the worker's loop and heartbeat run, else 503 and one
  line saying why (Kubernetes' liveness probe: restart it);
* ``/readyz``: 200 while the store answers, else 503 and one line (readiness);
* ``/metrics``: what ``hueyctl metrics`` serves, when prometheus-client is
  installed (the ``metrics`` extra), else 404 saying so.

``hueyctl metrics`` serves ``/metrics`` (and ``/readyz``) with the same server.
Nothing here imports prometheus_client unless metrics are asked for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engine.inspect import Inspector

from .errors import EXIT_USAGE, CommandError

log = logging.getLogger("hueyctl.probes")

# A route answers (status, content type, body).
Reply = tuple[int, str, bytes]
Route = Callable[[], Reply]
TEXT = "text/plain; charset=utf-8"
METRICS_MISSING = "prometheus-client is not installed: pip install 'hueyctl[metrics]'"


def text(status: int, line: str) -> Reply:
    return status, TEXT, (line + "\n").encode()


def liveness_route(check: Callable[[], str | None]) -> Route:
    """/healthz: ``check`` says why the worker is not alive (None: it is)."""

    def route() -> Reply:
        why = check()
        return text(200, "ok") if why is None else text(503, why)

    return route


def readiness_route(insp: Inspector) -> Route:
    """/readyz: one read of the store (the lease table)."""

    def route() -> Reply:
        try:
            alive = insp.live_workers()
        except Exception as exc:
            return text(503, f"the store does not answer: {type(exc).__name__}: {exc}")
        return text(200, f"ok: the store answers ({alive} live worker(s))")

    return route


def metrics_route(insp: Inspector, required: bool) -> Route | None:
    """/metrics of ``insp``'s queue; without prometheus-client: a CommandError when
    ``required`` (``hueyctl metrics``), else a route that answers 404 saying so."""
    try:
        from . import metrics
    except ImportError:
        if required:
            raise CommandError(METRICS_MISSING, EXIT_USAGE) from None
        return lambda: text(404, METRICS_MISSING)
    reg = metrics.registry(insp)
    return lambda: (200, metrics.CONTENT_TYPE, metrics.exposition(reg))


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        route = self.routes.get(self.path.split("?", 1)[0])
        try:
            status, ctype, body = route() if route else text(404, "not found")
        except Exception as exc:  # a probe answers, it never drops the connection
            status, ctype, body = text(500, f"{type(exc).__name__}: {exc}")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def make_server(host: str, port: int, routes: dict[str, Route]) -> ThreadingHTTPServer:
    """A threaded HTTP server answering ``routes``; a port that cannot be bound is a
    one-line usage error."""
    handler = type("Handler", (_Handler,), {"routes": dict(routes)})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}", EXIT_USAGE) from None
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Serve from a daemon thread (it ends with the process)."""
    thread = threading.Thread(target=server.serve_forever, name="probes", daemon=True)
    thread.start()
    return thread
