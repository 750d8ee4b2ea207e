"""Prometheus base URLs: validated once, in one canonical spelling, credentials kept apart.

`http://Prom:80/`, `http://prom` and `http://prom:80` are one Prometheus, so they must be one
client and one batch. Credentials written into a URL (`http://user:pw@host`) are split off
so that no message, reason or status ever prints them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from canarygate.core.errors import SpecError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")
MAX_ADDRESS_LENGTH = 2048


@dataclass(frozen=True)
class Address:
    """A Prometheus base URL in canonical form, without credentials, and the credentials."""

    url: str
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        return self.url


def parse_address(text: str, *, field: str = "spec.prometheus.address") -> Address:
    """Validate and canonicalise `text`; raise SpecError naming `field` when it is unusable.

    Canonical: lowercase scheme and host, no default port, no trailing slash, no query or
    fragment (the API paths are appended to it).
    """
    if not isinstance(text, str) or not text.strip():
        raise SpecError(field, "a Prometheus address is needed, e.g. http://prometheus:9090")
    text = text.strip()
    shown = _redacted(text)
    if len(text) > MAX_ADDRESS_LENGTH or any(c.isspace() or not c.isprintable() for c in text):
        raise SpecError(field, f"{shown} is not a URL (spaces or control characters)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise SpecError(field, f"{shown} is not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise SpecError(field, f"{shown}: the scheme must be http or https")
    host = _host(parts.hostname or "", shown, field)
    if port is not None and not 1 <= port <= 65535:
        raise SpecError(field, f"{shown}: port {port} is outside 1..65535")
    if parts.query or parts.fragment:
        raise SpecError(field, f"{shown}: a base URL takes no query (?) or fragment (#)")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Address(f"{scheme}://{netloc}{quote(path, safe='/%:@')}", username, password)


def _host(host: str, shown: str, field: str) -> str:
    if not host:
        raise SpecError(field, f"{shown}: the URL names no host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.match(host):
            raise SpecError(field, f"{shown}: {host!r} is not a valid host name") from None
        return host
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def _redacted(text: str) -> str:
    """`text` with any `user:password@` replaced, for messages."""
    return re.sub(r"(?<=://)[^/@\s]*@", "***@", text, count=1)
