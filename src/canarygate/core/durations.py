"""Prometheus-style durations (`5m`, `1h30m`, `30d`): parsing, canonical text, and ordering."""

from __future__ import annotations

import re
from dataclasses import dataclass

from canarygate.core.errors import SpecError

_UNIT_MILLISECONDS: dict[str, int] = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1_000,
    "ms": 1,
}
# `ms` must be tried before `m`; Prometheus also requires units in decreasing order.
_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
_FULL = re.compile(DURATION_PATTERN)


@dataclass(frozen=True, order=True)
class Duration:
    """A positive span of time with millisecond resolution, printed in canonical form."""

    milliseconds: int

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000

    @property
    def text(self) -> str:
        """Canonical Prometheus form: `3600000` ms -> `1h`, `90000` ms -> `1m30s`.

        Weeks and years are not used in the canonical form because `1w` reads worse than `7d`
        in burn-rate tables and both mean the same thing to Prometheus.
        """
        remaining = self.milliseconds
        parts: list[str] = []
        for unit in ("d", "h", "m", "s", "ms"):
            size = _UNIT_MILLISECONDS[unit]
            count, remaining = divmod(remaining, size)
            if count:
                parts.append(f"{count}{unit}")
        return "".join(parts) or "0s"

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str, *, field: str = "duration") -> Duration:
    """Parse `1h30m`-style text. Raises SpecError naming `field` when the text is not valid."""
    candidate = text.strip() if isinstance(text, str) else ""
    if not _FULL.match(candidate):
        raise SpecError(field, f"{text!r} is not a duration such as 30s, 5m, 1h30m or 30d")
    total = 0
    last_size: int | None = None
    for count, unit in _PART.findall(candidate):
        size = _UNIT_MILLISECONDS[unit]
        if last_size is not None and size >= last_size:
            raise SpecError(field, f"{text!r}: units must go from largest to smallest")
        last_size = size
        total += int(count) * size
    if total <= 0:
        raise SpecError(field, f"{text!r} must be longer than zero")
    return Duration(total)
