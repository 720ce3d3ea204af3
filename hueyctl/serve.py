"""``hueyctl top --serve``: the same dashboard in a browser, through textual-serve.

textual-serve (the ``serve`` extra) runs one ``python -m hueyctl top`` per browser
tab and relays its screen and keys over a websocket. It has no TLS and no
authentication of its own (1.1), so this module adds both:

* a token: off loopback every page, websocket and download needs it, as
  ``?token=...`` once (it becomes an HttpOnly, SameSite=Strict cookie and the
  page reloads without it in the address bar), compared in constant time;
* TLS: ``--certfile/--keyfile`` serve https and wss; or a TLS proxy in front,
  whose ``https://`` address is given as ``--public-url``.

Off loopback neither may be missing: the checks live in :func:`check_exposure`.
The served app reads its queue from the environment (``HUEYCTL_APP``,
``HUEYCTL_URL``, ``HUEYCTL_QUEUE``, set here for the children): a password never
goes on a command line that ``ps`` shows.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import shlex
import ssl
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import EXIT_USAGE, CommandError

SERVE_MISSING = "textual-serve is not installed: pip install 'hueyctl[serve]'"
COOKIE = "hueyctl_top_token"
# Set for the apps `top --serve` starts: marks them served (no terminal needed) and lists
# which of --url/--queue the parent was given (they override an app's own store there too).
SERVED_ENV = "HUEYCTL_TOP_SERVED"
TOKEN_ENV = "HUEYCTL_TOP_TOKEN"
SHUTDOWN = 2.0  # seconds open browser sessions get when the server is stopped


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(
    host: str,
    token: str | None,
    certfile: str | None,
    keyfile: str | None,
    public_url: str | None,
) -> None:
    """Refuse, in one line, to serve off loopback without a token and TLS."""
    if bool(certfile) != bool(keyfile):
        raise CommandError("give --certfile and --keyfile together", EXIT_USAGE)
    if public_url and not public_url.startswith(("http://", "https://")):
        raise CommandError("--public-url must start with https:// (or http://)", EXIT_USAGE)
    if is_loopback(host):
        return
    if not token:
        raise CommandError(
            f"top --serve on {host} (not loopback) needs --token (or ${TOKEN_ENV}) and TLS: "
            "refused",
            EXIT_USAGE,
        )
    behind_tls_proxy = bool(public_url and public_url.startswith("https://"))
    if not certfile and not behind_tls_proxy:
        raise CommandError(
            f"top --serve on {host} (not loopback) needs TLS: --certfile/--keyfile, or put a "
            "TLS proxy in front and give its address as --public-url https://...",
            EXIT_USAGE,
        )


def child_command(read_only: bool, interval: float) -> str:
    """The command textual-serve runs per browser tab: no connection option on it."""
    args = [sys.executable, "-m", "hueyctl", "top", "--interval", repr(interval)]
    if read_only:
        args.append("--read-only")
    return " ".join(shlex.quote(a) for a in args)


def child_environment(
    app: str | None, url: str | None, queue: str | None, given: frozenset[str]
) -> dict[str, str]:
    """What the children need to find the queue, as environment variables."""
    env = {"HUEYCTL_APP": app, "HUEYCTL_URL": url, "HUEYCTL_QUEUE": queue}
    out = {k: v for k, v in env.items() if v}
    out[SERVED_ENV] = json.dumps(sorted(given))
    return out


def given_by_parent() -> frozenset[str] | None:
    """In a served child: which of --url/--queue ``top --serve`` was given (so they
    override an app's own store, as on the parent's command line); None elsewhere."""
    raw = os.environ.get(SERVED_ENV)
    if raw is None:
        return None
    try:
        return frozenset(str(g) for g in json.loads(raw))
    except ValueError:
        return frozenset()


Handler = Callable[[Any], Awaitable[Any]]


def token_middleware(token: str, secure: bool) -> Any:
    """aiohttp middleware: every path but /static needs the token (cookie or query)."""
    from aiohttp import web

    expected = token.encode()

    def ok(value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), expected)

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> Any:
        if request.path.startswith("/static/"):
            return await handler(request)
        if ok(request.cookies.get(COOKIE)):
            return await handler(request)
        if ok(request.query.get("token")):
            if request.path == "/":  # keep the token out of the address bar and history
                response = web.HTTPFound("/")
                response.set_cookie(
                    COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/"
                )
                raise response
            return await handler(request)
        raise web.HTTPUnauthorized(text="hueyctl top: open this page with ?token=...\n")

    return check


def serve(
    command: str,
    host: str,
    port: int,
    title: str,
    token: str | None,
    certfile: str | None,
    keyfile: str | None,
    public_url: str | None,
) -> None:
    """Serve ``command`` per browser tab until Ctrl-C or SIGTERM."""
    try:
        from aiohttp import web
        from textual_serve.server import Server
    except ImportError:
        raise CommandError(SERVE_MISSING, EXIT_USAGE) from None
    context: ssl.SSLContext | None = None
    if certfile and keyfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise CommandError(f"cannot load --certfile/--keyfile: {exc}", EXIT_USAGE) from None
    scheme = "https" if context else "http"
    url = public_url or f"{scheme}://{host}:{port}"
    secure = url.startswith("https://")

    class TopServer(Server):
        """textual-serve's server with the token check and, with a certificate, TLS."""

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if token:
                app.middlewares.append(token_middleware(token, secure))
            return app

        def serve(self, debug: bool = False) -> None:
            self.debug = debug
            self.initialize_logging()
            # On SIGTERM, open websockets are cut after SHUTDOWN seconds: each one's app
            # is then told to quit (aiohttp would otherwise wait a minute for them).
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                ssl_context=context,
                print=None,
                shutdown_timeout=SHUTDOWN,
            )

    server = TopServer(command, host=host, port=port, title=title, public_url=url)
    try:
        server.serve()
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}", EXIT_USAGE) from None
