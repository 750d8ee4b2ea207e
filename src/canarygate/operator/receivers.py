"""Where notifications go: a webhook receiver as a Secret describes it.

`canarygate run --notify-secret NAMESPACE/NAME` names a Secret holding `url` (http or
https), an optional `token` (sent as `Authorization: Bearer`) and an optional `format`
(`json`, the default, or `slack`). Its content is a credential: a `Receiver` never shows its
URL's path or query (a Slack hook URL is its own secret) or its token in a repr, a log line
or a metric label; `where` (scheme://host[:port]) is what may be shown.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class Format(StrEnum):
    JSON = "json"
    SLACK = "slack"


@dataclass(frozen=True)
class SecretRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Receiver:
    url: str = field(repr=False)
    token: str | None = field(repr=False)
    format: Format

    @property
    def where(self) -> str:
        return redacted(self.url)

    def __repr__(self) -> str:
        return f"Receiver({self.where}, {self.format}{', token' if self.token else ''})"


class ReceiverError(ValueError):
    """The Secret exists but does not describe a usable receiver (the message names the key,
    never its value)."""


def redacted(url: str) -> str:
    """`scheme://host[:port]` of `url`: what a log line may show of a webhook address."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "(an unparsable URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{f':{port}' if port else ''}"


def receiver_from_secret(secret: Mapping[str, Any]) -> Receiver:
    """The receiver a Secret (as the API server returns it: base64 `data`) describes."""
    data = secret.get("data") or {}
    if not isinstance(data, Mapping):
        raise ReceiverError("its data is not a map")
    url = _value(data, "url")
    if url is None:
        raise ReceiverError("it has no `url` key")
    _check_url(url)
    text = _value(data, "format") or str(Format.JSON)
    try:
        chosen = Format(text.lower())
    except ValueError:
        raise ReceiverError(
            f"its `format` is not one of {', '.join(str(f) for f in Format)}"
        ) from None
    return Receiver(url=url, token=_value(data, "token") or None, format=chosen)


def _value(data: Mapping[str, Any], key: str) -> str | None:
    encoded = data.get(key)
    if encoded is None:
        return None
    try:
        # Values written from files usually end with a newline: never part of a URL or token.
        return base64.b64decode(str(encoded), validate=True).decode("utf-8").strip()
    except (binascii.Error, ValueError):
        raise ReceiverError(f"its `{key}` is not base64-encoded UTF-8 text") from None


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise ReceiverError("its `url` is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReceiverError("its `url` is not an http:// or https:// URL with a host")
    if any(c.isspace() for c in url):
        raise ReceiverError("its `url` contains whitespace")
