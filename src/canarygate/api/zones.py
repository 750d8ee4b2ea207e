"""Time zones: the one place canarygate reads the time-zone database (zoneinfo: the system's
IANA database, else the `tzdata` package).

The core decides whether a peak or freeze window applies from what each zone's wall clock
shows (core.windows); reading that is the shell's part, here: the database is data outside
the program, updated with the system, so the core never touches it. `wall_clocks` is called
by every caller of `decide` (evaluate, replay, the operator) with the instant it decides at.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canarygate.core.specs import GateSpec
from canarygate.core.windows import WallClocks

ZONE_HINT = "an IANA time zone name such as Europe/Paris, America/New_York or UTC"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise LookupError(f"unknown time zone {name!r} ({type(error).__name__})") from None


def check_time_zone(name: str) -> str:
    """A pydantic validator: the zone is in the time-zone database of this machine."""
    try:
        _zone(name)
    except LookupError:
        raise ValueError(f"unknown time zone {name!r}: give {ZONE_HINT}") from None
    return name


def wall_clocks(spec: GateSpec, at: datetime) -> WallClocks | None:
    """What the wall clock of each zone the gate's windows name shows at `at` (aware), as
    naive local times; None when the gate has no windows."""
    zones = sorted({window.time_zone for window in spec.policy.windows})
    if not zones:
        return None
    readings: dict[str, datetime] = {}
    problems: dict[str, str] = {}
    for name in zones:
        try:
            readings[name] = at.astimezone(_zone(name)).replace(tzinfo=None)
        except (LookupError, OverflowError) as error:
            problems[name] = str(error)
    return WallClocks(at, readings, problems)
