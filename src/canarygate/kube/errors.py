"""Mapping of Kubernetes API failures to canarygate's error tree, at the package boundary.

The classes live in `canarygate.core.errors` (one tree for the whole product); this module
decides which one an HTTP status or a transport failure becomes. Nothing from lightkube or
httpx2 leaves `canarygate.kube`: `_raw` calls these functions on every failure.
"""

from __future__ import annotations

import json
from typing import Any

from canarygate.core.errors import (
    Conflict,
    Forbidden,
    KubeError,
    KubeUnavailable,
    NotFound,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "KubeError",
    "KubeUnavailable",
    "NotFound",
    "error_for_status",
    "status_message",
]

# Servers answer errors with a meta/v1 Status; its message is the useful part.
_MAX_DETAIL = 300


def error_for_status(status: int, message: str, *, verb: str, target: str) -> KubeError:
    """The error for an HTTP error status. 410 (Gone) stays a plain KubeError with
    `status == 410`: the informer relists on it, other callers treat it as a refusal."""
    kind: type[KubeError]
    if status == 409:
        kind = Conflict
    elif status == 404:
        kind = NotFound
    elif status in (401, 403):
        kind = Forbidden
    elif status == 429 or status >= 500:
        kind = KubeUnavailable
    else:
        kind = KubeError
    return kind(f"{status} {message}", verb=verb, target=target, status=status)


def status_message(body: bytes, reason: str) -> str:
    """The message of a meta/v1 Status body, else the start of the body, else the reason."""
    try:
        decoded: Any = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        message = decoded.get("message")
        if isinstance(message, str) and message:
            return _shorten(message)
    text = body.decode("utf-8", "replace").strip()
    return _shorten(" ".join(text.split())) if text else reason


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
