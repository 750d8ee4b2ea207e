"""Peak and freeze windows (`spec.policy.windows`): named spans of local time, in a time zone,
during which a gate's steps are frozen or its release risk is raised to high.

A window applies while the wall clock of its time zone shows a time inside it: on the days it
names (weekdays, or one-off local dates; every day when it names neither), from `start` up to
`end`, or past midnight into the next day when `end` is not after `start` (an overnight window
belongs to the day it starts). Read on the wall clock, daylight saving needs no rule of its
own: on the night clocks jump forward a window inside the skipped hour does not happen, and
one that spans the jump is an hour shorter; on the night they fall back, the repeated hour is
inside the window both times, so the window is an hour longer.

The core never reads a clock or the time-zone database (both are outside it, and the database
is data that changes with the system): the shell reads what each zone's wall clock shows at
the evaluation instant (`WallClocks`, from zoneinfo) and passes it in. A window whose zone
could not be read, or a decision made without the readings, counts as in force: silence
about the time never lifts a freeze.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from canarygate.core.vocabulary import WindowEffect

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# How many contiguous occurrences are followed to say when a window ends (a window every day
# from 00:00 to 24:00 never does).
_LONGEST_RUN = 400


@dataclass(frozen=True)
class TimeWindow:
    name: str
    effect: WindowEffect
    time_zone: str
    start: int = 0  # minute of the local day, 0..1439
    end: int = MINUTES_PER_DAY  # 1..1440; not after `start`: the window runs past midnight
    # Weekdays, 0 = Monday; with `dates` empty too, every day.
    days: frozenset[int] = frozenset()
    # One-off local dates; when set, the window applies on these days only.
    dates: frozenset[date] = frozenset()

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def on(self, day: date) -> bool:
        """Whether an occurrence of the window starts on this local date."""
        if self.dates:
            return day in self.dates
        return not self.days or day.weekday() in self.days

    def applies(self, local: datetime) -> bool:
        """Whether the wall clock reading `local` (naive, the zone's) is inside the window."""
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        start, end = self.start * 60, self.end * 60
        today = local.date()
        if not self.overnight:
            return self.on(today) and start <= seconds < end
        yesterday = today - timedelta(days=1)
        return (self.on(today) and seconds >= start) or (self.on(yesterday) and seconds < end)

    def until(self, local: datetime) -> datetime | None:
        """The local time the window stops applying, for a `local` inside it: the end of its
        occurrence, or of the run of occurrences that follow on without a gap; None when it
        does not end within a year (every day, all day)."""
        end = self._occurrence_end(local)
        for _ in range(_LONGEST_RUN):
            if not self.applies(end):
                return end
            end = self._occurrence_end(end)
        return None

    def _occurrence_end(self, local: datetime) -> datetime:
        midnight = datetime(local.year, local.month, local.day)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        if self.overnight and seconds >= self.start * 60:
            return midnight + timedelta(days=1, minutes=self.end)
        return midnight + timedelta(minutes=self.end)

    def describe(self) -> str:
        """`weekdays 18:00-22:00 Europe/Paris`, `2026-11-27 00:00-24:00 America/New_York`."""
        return f"{self._days_text()} {_clock(self.start)}-{_clock(self.end)} {self.time_zone}"

    def _days_text(self) -> str:
        if self.dates:
            return ", ".join(sorted(d.isoformat() for d in self.dates))
        if not self.days or len(self.days) == len(WEEKDAYS):
            return "every day"
        if self.days == frozenset(range(5)):
            return "weekdays"
        if self.days == frozenset({5, 6}):
            return "weekends"
        return ", ".join(WEEKDAYS[d] for d in sorted(self.days))


def _clock(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours:02d}:{rest:02d}"


@dataclass(frozen=True)
class WallClocks:
    """What the wall clock of each time zone the gate's windows name showed at `at` (naive
    local times), as the shell read them from the time-zone database; `problems` says why a
    zone could not be read."""

    at: datetime
    readings: Mapping[str, datetime] = field(default_factory=dict)
    problems: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WindowJudged:
    """One window at the evaluation instant: whether it applies, at which local time, until
    when, or why that cannot be told (then it counts as in force)."""

    window: TimeWindow
    applies: bool
    local: datetime | None = None
    until: datetime | None = None
    unknown: str | None = None

    @property
    def in_force(self) -> bool:
        return self.applies or self.unknown is not None

    def describe(self) -> str:
        """`freeze window black-friday (2026-11-27 00:00-24:00 America/New_York; local
        2026-11-27 10:05, until 2026-11-28 00:00)`."""
        head = f"{self.window.effect} window {self.window.name} ({self.window.describe()}"
        if self.unknown is not None:
            return f"{head}; {self.unknown}, counted as in force)"
        if self.local is None:
            return f"{head})"
        shown = f"local {_local(self.local, self.local)}"
        if self.applies:
            end = "no end within a year" if self.until is None else _local(self.until, self.local)
            shown += f", until {end}"
        return f"{head}; {shown})"


def _local(moment: datetime, reference: datetime) -> str:
    """`22:00` on the reference's day, else `2026-11-28 00:00`."""
    clock = moment.strftime("%H:%M")
    return clock if moment.date() == reference.date() else f"{moment.date().isoformat()} {clock}"


def judge_windows(
    windows: Sequence[TimeWindow], clocks: WallClocks | None, now: datetime
) -> tuple[WindowJudged, ...]:
    """Each window at `now`. Readings made for another instant, or none at all, cannot tell."""
    judged: list[WindowJudged] = []
    for window in windows:
        if clocks is None or clocks.at != now:
            why = "the local time was not read for this evaluation"
            judged.append(WindowJudged(window, False, unknown=why))
            continue
        local = clocks.readings.get(window.time_zone)
        if local is None:
            problem = clocks.problems.get(window.time_zone, "not read")
            why = f"the local time in {window.time_zone} is unknown ({problem})"
            judged.append(WindowJudged(window, False, unknown=why))
            continue
        applies = window.applies(local)
        until = window.until(local) if applies else None
        judged.append(WindowJudged(window, applies, local, until))
    return tuple(judged)


def in_force(
    judged: Sequence[WindowJudged], effect: WindowEffect | None = None
) -> tuple[WindowJudged, ...]:
    """The windows in force (applying, or that cannot be told), of one effect if given."""
    return tuple(j for j in judged if j.in_force and (effect is None or j.window.effect is effect))
