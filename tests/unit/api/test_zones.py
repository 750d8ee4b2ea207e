"""Peak and freeze windows in real time zones: the shell reads each zone's wall clock from the
time-zone database (api.zones) and the core judges the window on it. Daylight saving changes,
southern-hemisphere zones, half-hour offsets, and a window's length in real time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from canarygate.api.converting import to_gate_spec
from canarygate.api.loading import parse_gate
from canarygate.api.zones import check_time_zone, wall_clocks
from canarygate.core import CanarySpec, GateSpec, MatrixPolicy, SpecError
from canarygate.core.vocabulary import WindowEffect
from canarygate.core.windows import TimeWindow, judge_windows
from tests.fixtures.invalid_gates import example_gate

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",  # southern hemisphere: summer time from October to April
    "Asia/Kolkata",  # +05:30, no DST
    "Australia/Lord_Howe",  # a half-hour DST shift
    "America/Santiago",
    "UTC",
]


def spec_with(*windows: TimeWindow) -> GateSpec:
    return GateSpec(
        journeys=(), canary=CanarySpec(steps=(50,)), policy=MatrixPolicy(windows=windows)
    )


def applies_at(window: TimeWindow, instant: datetime) -> bool:
    spec = spec_with(window)
    (judged,) = judge_windows(spec.policy.windows, wall_clocks(spec, instant), instant)
    assert judged.unknown is None
    return judged.applies


def applied_span(
    window: TimeWindow, begin: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The UTC intervals (minute resolution) in [begin, end) during which the window applies."""
    spans: list[tuple[datetime, datetime]] = []
    moment, opened = begin, None
    while moment < end:
        inside = applies_at(window, moment)
        if inside and opened is None:
            opened = moment
        if not inside and opened is not None:
            spans.append((opened, moment))
            opened = None
        moment += timedelta(minutes=1)
    if opened is not None:
        spans.append((opened, end))
    return spans


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def one_off(
    zone: str, day: date, start: str, end: str, effect: WindowEffect = WindowEffect.FREEZE
) -> TimeWindow:
    def minutes(clock: str) -> int:
        hours, rest = clock.split(":")
        return int(hours) * 60 + int(rest)

    return TimeWindow("w", effect, zone, minutes(start), minutes(end), dates=frozenset({day}))


def test_paris_evening_peak_moves_in_utc_with_summer_time() -> None:
    peak = TimeWindow(
        "peak", WindowEffect.HIGH_RISK, "Europe/Paris", 18 * 60, 22 * 60, frozenset(range(5))
    )
    # Friday before the change (CET, +01:00) and Monday after it (CEST, +02:00).
    assert applied_span(peak, utc("2026-03-27T15:00"), utc("2026-03-27T23:00")) == [
        (utc("2026-03-27T17:00"), utc("2026-03-27T21:00"))
    ]
    assert applied_span(peak, utc("2026-03-30T14:00"), utc("2026-03-30T23:00")) == [
        (utc("2026-03-30T16:00"), utc("2026-03-30T20:00"))
    ]


def test_the_skipped_hour_never_happens_and_a_window_across_it_is_an_hour_shorter() -> None:
    day = date(2026, 3, 29)  # Paris: 02:00 CET -> 03:00 CEST at 01:00 UTC
    assert (
        applied_span(
            one_off("Europe/Paris", day, "02:00", "03:00"),
            utc("2026-03-28T22:00"),
            utc("2026-03-29T04:00"),
        )
        == []
    )
    assert applied_span(
        one_off("Europe/Paris", day, "01:00", "04:00"),
        utc("2026-03-28T22:00"),
        utc("2026-03-29T04:00"),
    ) == [(utc("2026-03-29T00:00"), utc("2026-03-29T02:00"))]


def test_the_repeated_hour_is_inside_the_window_both_times() -> None:
    day = date(2026, 10, 25)  # Paris: 03:00 CEST -> 02:00 CET at 01:00 UTC
    assert applied_span(
        one_off("Europe/Paris", day, "02:00", "03:00"),
        utc("2026-10-24T22:00"),
        utc("2026-10-25T04:00"),
    ) == [(utc("2026-10-25T00:00"), utc("2026-10-25T02:00"))]


def test_an_overnight_window_over_new_yorks_spring_change() -> None:
    saturday = TimeWindow(
        "night", WindowEffect.FREEZE, "America/New_York", 22 * 60, 6 * 60, frozenset({5})
    )
    # 22:00 EST Saturday (03:00 UTC) to 06:00 EDT Sunday (10:00 UTC): seven hours, not eight.
    assert applied_span(saturday, utc("2026-03-08T00:00"), utc("2026-03-08T14:00")) == [
        (utc("2026-03-08T03:00"), utc("2026-03-08T10:00"))
    ]


def test_sydney_falls_back_in_april() -> None:
    day = date(2026, 4, 5)  # Sydney: 03:00 AEDT -> 02:00 AEST at 16:00 UTC on the 4th
    assert applied_span(
        one_off("Australia/Sydney", day, "00:00", "06:00"),
        utc("2026-04-04T10:00"),
        utc("2026-04-04T22:00"),
    ) == [(utc("2026-04-04T13:00"), utc("2026-04-04T20:00"))]


def test_a_half_hour_offset_zone() -> None:
    window = one_off("Asia/Kolkata", date(2026, 1, 15), "09:00", "10:00")
    assert applied_span(window, utc("2026-01-15T02:00"), utc("2026-01-15T06:00")) == [
        (utc("2026-01-15T03:30"), utc("2026-01-15T04:30"))
    ]


def test_what_the_operator_reports_until() -> None:
    window = TimeWindow("peak", WindowEffect.FREEZE, "Europe/Paris", 18 * 60, 22 * 60)
    instant = utc("2026-07-01T17:30")
    spec = spec_with(window)
    (judged,) = judge_windows(spec.policy.windows, wall_clocks(spec, instant), instant)
    assert judged.applies
    assert judged.local == datetime(2026, 7, 1, 19, 30)
    assert judged.until == datetime(2026, 7, 1, 22, 0)
    assert judged.describe() == (
        "freeze window peak (every day 18:00-22:00 Europe/Paris; local 19:30, until 22:00)"
    )


def test_unknown_zones_are_refused_by_the_spec_and_unreadable_ones_count_as_in_force() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus_Mons'"):
        check_time_zone("Mars/Olympus_Mons")
    assert check_time_zone("America/Argentina/Buenos_Aires") == "America/Argentina/Buenos_Aires"
    document = example_gate()
    document["spec"]["policy"] = {
        "windows": [{"name": "peak", "effect": "freeze", "timeZone": "Europe/Parris"}]
    }
    with pytest.raises(SpecError) as refused:
        parse_gate(document)
    assert refused.value.field == "spec.policy.windows[0].timeZone"
    assert "unknown time zone 'Europe/Parris'" in refused.value.message
    # A zone the database lost after the spec was accepted: read as a problem, in force.
    ghost = TimeWindow("ghost", WindowEffect.FREEZE, "Nowhere/Ghost_Town")
    spec = spec_with(ghost)
    instant = utc("2026-07-01T12:00")
    clocks = wall_clocks(spec, instant)
    assert clocks is not None
    assert "Nowhere/Ghost_Town" in clocks.problems
    (judged,) = judge_windows(spec.policy.windows, clocks, instant)
    assert judged.in_force
    assert wall_clocks(spec_with(), instant) is None


def test_the_spec_converts_windows_to_minutes_weekdays_and_dates() -> None:
    document = example_gate()
    document["spec"]["policy"] = {
        "windows": [
            {"name": "peak", "effect": "high-risk", "timeZone": "Europe/Paris",
             "days": ["mon", "fri"], "start": "18:30", "end": "22:00"},
            {"name": "sale", "effect": "freeze", "timeZone": "UTC", "dates": ["2026-11-27"]},
        ]
    }  # fmt: skip
    peak, sale = to_gate_spec(parse_gate(document)).policy.windows
    assert (peak.start, peak.end, peak.days) == (18 * 60 + 30, 22 * 60, frozenset({0, 4}))
    assert peak.effect is WindowEffect.HIGH_RISK
    assert (sale.start, sale.end, sale.dates) == (0, 24 * 60, frozenset({date(2026, 11, 27)}))


# -- properties ------------------------------------------------------------------------------


def _offset_minutes(zone: ZoneInfo, instant: datetime) -> int:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


def _unambiguous_instant(zone: ZoneInfo, local: datetime) -> datetime | None:
    """The one UTC instant whose wall clock reads `local`, or None when the clocks skip it
    or show it twice."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first != second:
        return None
    if first.astimezone(zone).replace(tzinfo=None) != local:
        return None
    return first


# Each zone on the days its clocks change in 2026 (and an ordinary day), and the day before.
CHANGES = [
    ("Europe/Paris", date(2026, 3, 29)), ("Europe/Paris", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)), ("America/New_York", date(2026, 11, 1)),
    ("Australia/Sydney", date(2026, 4, 5)), ("Australia/Sydney", date(2026, 10, 4)),
    ("Australia/Lord_Howe", date(2026, 4, 5)), ("Australia/Lord_Howe", date(2026, 10, 4)),
    ("America/Santiago", date(2026, 4, 5)), ("America/Santiago", date(2026, 9, 6)),
    ("Asia/Kolkata", date(2026, 3, 29)), ("UTC", date(2026, 10, 25)),
]  # fmt: skip
quarter_hours = st.integers(0, 24 * 4 - 1).map(lambda q: q * 15)
# Mostly starts around midnight, where the changes are.
starts = st.one_of(st.integers(0, 4 * 4).map(lambda q: q * 15), quarter_hours)


@settings(max_examples=80, deadline=None)
@given(
    change=st.sampled_from(CHANGES),
    day_before=st.booleans(),
    start=starts,
    length=st.integers(1, 24 * 4).map(lambda q: q * 15),
)
def test_a_window_lasts_its_local_length_corrected_by_the_clock_change_inside_it(
    change: tuple[str, date], day_before: bool, start: int, length: int
) -> None:
    """Real time spent inside = local length - (UTC offset at the end - at the start), when
    neither end is a local time the clocks skip or repeat."""
    zone, day = change
    if day_before:
        day -= timedelta(days=1)
    end = (start + length) % (24 * 60) or 24 * 60
    assume(end != start)
    window = TimeWindow("w", WindowEffect.FREEZE, zone, start, end, dates=frozenset({day}))
    tz = ZoneInfo(zone)
    begin_local = datetime(day.year, day.month, day.day) + timedelta(minutes=start)
    finish_local = begin_local + timedelta(minutes=length)
    begin, finish = _unambiguous_instant(tz, begin_local), _unambiguous_instant(tz, finish_local)
    assume(begin is not None and finish is not None)
    assert begin is not None
    assert finish is not None
    spans = applied_span(window, begin - timedelta(hours=3), finish + timedelta(hours=3))
    shift = _offset_minutes(tz, finish) - _offset_minutes(tz, begin)
    event("the clocks change inside the window" if shift else "no clock change inside")
    expected = length - shift
    total = sum(int((b - a).total_seconds() // 60) for a, b in spans)
    assert total == expected
    assert spans[0][0] == begin
    assert spans[-1][1] == finish
