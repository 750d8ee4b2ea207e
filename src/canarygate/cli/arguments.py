"""The values of `canarygate evaluate`'s options, each checked before anything is evaluated.

Every problem is a UsageError naming the option (or variable) and why, printed as one line;
none of them may surface later as a traceback, or as a setting that holds for ever
(`--timeout 300y`) or never ends (`--retries 1000000`).
"""

from __future__ import annotations

import argparse
import math
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from canarygate.api.fields import TIMEOUT_BOUNDS
from canarygate.core.addresses import parse_address
from canarygate.core.durations import Duration, parse_duration
from canarygate.core.errors import SpecError

MAX_RETRIES: Final = 10
MAX_SECRET_BYTES: Final = 64 * 1024
MAX_CA_BYTES: Final = 4 * 1024 * 1024
PEM_CERTIFICATE: Final = "-----BEGIN CERTIFICATE-----"


class UsageError(Exception):
    """Bad command-line input; reported like an invalid spec (exit 2)."""


def parse_time(text: str, *, option: str = "--at") -> datetime:
    """RFC 3339 (`2026-01-15T12:00:00Z`, offsets allowed; none means UTC) or unix seconds
    (`1768478400.5`, negative before 1970), as a UTC instant within the years 1 to 9999."""
    try:
        seconds = float(text)
    except ValueError:
        return _rfc3339(text, option)
    if not math.isfinite(seconds):
        raise UsageError(f"{option}: {text!r} is not a finite number of seconds")
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise UsageError(f"{option}: {text!r} seconds is outside the years 1 to 9999") from None


def _rfc3339(text: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is neither RFC 3339 (2026-01-15T12:00:00Z) nor unix seconds"
        ) from None
    # RFC 3339 always carries an offset; a bare local time is read as UTC, not machine time.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise UsageError(f"{option}: {text!r} is outside the years 1 to 9999 in UTC") from None


def parse_timeout(text: str, *, option: str = "--timeout") -> Duration:
    """A duration within the bounds of `spec.prometheus.timeout`."""
    try:
        duration = parse_duration(text, field=option)
        TIMEOUT_BOUNDS.check(text)
    except SpecError as error:
        raise UsageError(f"{option}: {error.message}") from None
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None
    return duration


def check_address(text: str, *, source: str) -> str:
    """`text` when it is a usable Prometheus base URL; `source` names the flag or variable."""
    try:
        parse_address(text, field=source)
    except SpecError as error:
        raise UsageError(f"{source}: {error.message}") from None
    return text


def whole_number(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse `type` for an integer within low..high."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def read_text_file(path: Path, option: str, limit: int) -> str:
    """The UTF-8 text of a small file, or a UsageError that says what is wrong with it."""
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except IsADirectoryError:
        raise UsageError(f"{option}: {path} is a directory") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(f"{option}: cannot read {path}: {reason}") from None
    except ValueError as error:  # a NUL byte in the path
        raise UsageError(f"{option}: cannot read {path}: {error}") from None
    if len(data) > limit:
        raise UsageError(f"{option}: {path} is larger than {limit // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{option}: {path} is not UTF-8 text (byte 0x{data[error.start]:02x} "
            f"at offset {error.start})"
        ) from None


def read_bearer_token(path: Path) -> str:
    """A token HTTP can carry in a header: visible ASCII, no spaces (RFC 6750's b64token
    and every JWT fit); surrounding whitespace and the final newline are dropped."""
    option = "--bearer-token-file"
    token = read_text_file(path, option, MAX_SECRET_BYTES).strip()
    if not token:
        raise UsageError(f"{option}: {path} is empty")
    for offset, character in enumerate(token):
        if not "!" <= character <= "~":
            raise UsageError(
                f"{option}: {path} holds {_named(character)} at offset {offset}; "
                "a bearer token is visible ASCII without spaces"
            )
    return token


def read_basic_auth(path: Path) -> tuple[str, str]:
    """`user:password` on one line of printable ASCII (what the Prometheus client sends);
    the password may hold colons and spaces, the user may not hold a colon."""
    option = "--basic-auth-file"
    text = read_text_file(path, option, MAX_SECRET_BYTES).strip()
    user, colon, password = text.partition(":")
    if not colon:
        raise UsageError(f"{option}: {path} must hold user:password (no colon found)")
    if not user:
        raise UsageError(f"{option}: {path} names no user before the colon")
    for offset, character in enumerate(text):
        if not " " <= character <= "~":
            raise UsageError(
                f"{option}: {path} holds {_named(character)} at offset {offset}; "
                "user:password must be one line of printable ASCII"
            )
    return user, password


def check_ca_file(path: Path) -> str:
    """A readable PEM bundle with at least one certificate Python's TLS accepts."""
    option = "--ca-file"
    text = read_text_file(path, option, MAX_CA_BYTES)
    if PEM_CERTIFICATE not in text:
        raise UsageError(f"{option}: {path} holds no PEM certificate ({PEM_CERTIFICATE})")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as error:
        reason = getattr(error, "reason", None) or str(error)
        raise UsageError(f"{option}: {path} is not a usable CA bundle: {reason}") from None
    return str(path)


def _named(character: str) -> str:
    return f"U+{ord(character):04X}"
