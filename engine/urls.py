"""Store URLs: the schemes the engine accepts, parsing them, and masking secrets.

Ground floor (imports nothing from the engine): the loader picks a store from a
URL, the Redis store parses and describes it, and hueyctl prints it in banners
and errors. A URL shown anywhere goes through :func:`mask_url`, the one masker,
which hides both the user-info password and secret-bearing query parameters;
:func:`url_secrets` names the same secrets for text that quotes them alone.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDIS_SCHEMES = ("redis", "rediss", "unix")
REDIS_SUFFIXES = ("+cluster", "+sentinel")
SQLITE_PREFIX = "sqlite:///"
SCHEMES_HELP = (
    "redis://, rediss://, unix://, redis+cluster://, redis+sentinel://, sqlite:/// or memory://"
)
# Query parameters whose value is a secret (compared lower-case).
SECRET_PARAMS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "sentinel_password",
        "ssl_password",
        "sentinel_ssl_password",
        "auth",
    }
)
MASK = "***"


def scheme(url: str) -> str:
    """The URL's scheme, lower-case ('' when there is none)."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def store_kind(url: str) -> str | None:
    """'redis', 'sqlite' or 'memory' for a URL the engine can open, else None."""
    s = scheme(url)
    if s in REDIS_SCHEMES or s.endswith(REDIS_SUFFIXES):
        return "redis"
    if s in ("sqlite", "memory"):
        return s
    return None


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs.db`` -> ``/abs.db``; '' if not one."""
    return url[len(SQLITE_PREFIX) :] if url.startswith(SQLITE_PREFIX) else ""


def url_secrets(url: str) -> list[str]:
    """The secrets of a URL: its user-info password and the value of each secret query
    parameter, so that text quoting one alone (a driver's error, say) can be scrubbed
    too. Empty for a URL without any, or one that does not parse."""
    if "://" not in url:
        return []
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
    except ValueError:
        return []
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    return found + [v for k, v in pairs if v and k.lower() in SECRET_PARAMS]


def mask_url(url: str) -> str:
    """The URL with its password and secret query parameters replaced by ``***``:
    ``redis://user:secret@host/0?password=x`` -> ``redis://user:***@host/0?password=***``.
    A URL with nothing to hide comes back unchanged."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # unparseable: keep only what follows the user-info
        return url.split("@")[-1]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret_query = any(k.lower() in SECRET_PARAMS for k, _ in pairs)
    if password is None and not secret_query:
        return url
    if password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}")
    if secret_query:
        masked = [(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs]
        parts = parts._replace(query=urlencode(masked, safe="*"))
    return urlunsplit(parts)
