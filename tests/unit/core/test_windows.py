"""Peak and freeze windows in the core: whether a window applies to a wall-clock reading, until
when, and what a window in force does to a decision. Readings here are naive local times, as
the shell passes them (tests/unit/api/test_zones.py reads real zones across DST changes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    Action,
    GateSpec,
    GateState,
    GuardrailSpec,
    Mode,
    Risk,
    RiskLevel,
    RiskSpec,
    decide,
)
from canarygate.core.decisions import ReasonCode
from canarygate.core.explaining import explain
from canarygate.core.vocabulary import ACTION_PERMISSIVENESS, WindowEffect
from canarygate.core.windows import TimeWindow, WallClocks, judge_windows

from .builders import gate, guardrail_observations, healthy, journey
from .test_properties import Observed, bare, scenarios

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # a Friday
PEAK = TimeWindow(
    "evening-peak", WindowEffect.HIGH_RISK, "Europe/Paris", 18 * 60, 22 * 60, frozenset(range(5))
)
NIGHT = TimeWindow("night", WindowEffect.FREEZE, "UTC", 22 * 60, 6 * 60)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-27T17:59:59", False),
        ("2026-11-27T18:00:00", True),  # Friday
        ("2026-11-27T21:59:59", True),
        ("2026-11-27T22:00:00", False),
        ("2026-11-28T19:00:00", False),  # Saturday
        ("2026-11-30T19:00:00", True),  # Monday
    ],
)
def test_a_weekday_evening_window(local: str, expected: bool) -> None:
    assert PEAK.applies(at(local)) is expected


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-27T21:59:00", False),
        ("2026-11-27T22:00:00", True),
        ("2026-11-28T00:00:00", True),
        ("2026-11-28T05:59:59", True),
        ("2026-11-28T06:00:00", False),
    ],
)
def test_an_overnight_window_runs_past_midnight(local: str, expected: bool) -> None:
    assert NIGHT.applies(at(local)) is expected


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    friday_night = replace(NIGHT, days=frozenset({4}))
    assert friday_night.applies(at("2026-11-28T03:00:00"))  # Saturday morning: Friday's night
    assert not friday_night.applies(at("2026-11-27T03:00:00"))  # Friday morning: Thursday's
    assert friday_night.until(at("2026-11-27T23:00:00")) == at("2026-11-28T06:00:00")


def test_one_off_dates_and_until_follows_contiguous_days() -> None:
    black_friday = TimeWindow(
        "black-friday",
        WindowEffect.FREEZE,
        "America/New_York",
        dates=frozenset({date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 30)}),
    )
    assert black_friday.applies(at("2026-11-27T00:00:00"))
    assert not black_friday.applies(at("2026-11-29T12:00:00"))
    # Friday and Saturday are one run: it ends on Sunday at midnight, not Saturday.
    assert black_friday.until(at("2026-11-27T10:00:00")) == at("2026-11-29T00:00:00")
    always = TimeWindow("always", WindowEffect.FREEZE, "UTC")
    assert always.until(at("2026-11-27T10:00:00")) is None
    assert black_friday.describe() == (
        "2026-11-27, 2026-11-28, 2026-11-30 00:00-24:00 America/New_York"
    )
    assert PEAK.describe() == "weekdays 18:00-22:00 Europe/Paris"


def _occurrences(window: TimeWindow, local: datetime) -> bool:
    """An independent reading of a window: its occurrences are intervals of local time
    starting on each day it names; is `local` in one of them?"""
    length = (window.end - window.start) % (24 * 60) or 24 * 60
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        if window.dates:
            named = day in window.dates
        else:
            named = not window.days or day.weekday() in window.days
        begin = datetime(day.year, day.month, day.day) + timedelta(minutes=window.start)
        if named and begin <= local < begin + timedelta(minutes=length):
            return True
    return False


minutes = st.integers(0, 24 * 60 - 1)


@st.composite
def time_windows(draw: st.DrawFn) -> TimeWindow:
    start = draw(minutes)
    end = draw(st.integers(1, 24 * 60).filter(lambda m: m != start))
    shape = draw(st.sampled_from(["days", "dates", "every"]))
    days = (
        frozenset(draw(st.sets(st.integers(0, 6), min_size=1))) if shape == "days" else frozenset()
    )
    dates = (
        frozenset(draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 1, 20)), min_size=1)))
        if shape == "dates"
        else frozenset()
    )
    effect = draw(st.sampled_from(list(WindowEffect)))
    return TimeWindow("w", effect, "UTC", start, end, days, dates)


@settings(max_examples=500, deadline=None)
@given(
    window=time_windows(),
    local=st.datetimes(datetime(2025, 12, 30), datetime(2026, 1, 22)),
)
def test_applies_agrees_with_the_windows_occurrences(window: TimeWindow, local: datetime) -> None:
    local = local.replace(microsecond=0)
    assert window.applies(local) is _occurrences(window, local)
    if window.applies(local):
        until = window.until(local)
        if until is not None:
            assert until > local
            assert not window.applies(until)
            # Every minute from now to the end is inside (a run has no gap).
            probe = local.replace(second=0) + timedelta(minutes=1)
            while probe < until:
                assert window.applies(probe), probe
                probe += timedelta(minutes=37)


# -- what a window in force does to a decision ---------------------------------------------


def clocks(*readings: tuple[str, str], at_: datetime = NOW) -> WallClocks:
    return WallClocks(at_, {zone: at(local) for zone, local in readings})


def with_windows(spec: GateSpec, *windows: TimeWindow) -> GateSpec:
    return replace(spec, policy=replace(spec.policy, windows=windows))


LOW = RiskSpec(RiskLevel.LOW)


def test_a_freeze_window_holds_a_gate_that_would_advance() -> None:
    spec = with_windows(gate(journey(), risk=LOW), NIGHT)
    decision = decide(
        spec, GateState(weight=10), healthy(spec), NOW, clocks(("UTC", "2026-11-27T23:00"))
    )
    assert decision.action is Action.HOLD
    assert decision.mode is Mode.FREEZE
    assert decision.reasons[0].code is ReasonCode.WINDOW
    assert decision.reasons[0].message == (
        "hold: freeze window night (every day 22:00-06:00 UTC; local 23:00, until "
        "2026-11-28 06:00) applies; steps are frozen"
    )
    lines = explain(spec, decision)
    assert lines[0] == (
        "decided hold (10% -> 10%) by precedence rule 6 (a freeze window is in force: the mode "
        "does not advance)"
    )
    assert any(line.endswith("-> APPLIES") for line in lines)
    mode = next(r.message for r in decision.reasons if r.code is ReasonCode.MODE)
    assert mode.startswith("mode freeze (freeze window night; green x low would be proceed)")
    # Outside the window the same gate advances.
    outside = decide(
        spec, GateState(weight=10), healthy(spec), NOW, clocks(("UTC", "2026-11-27T21:00"))
    )
    assert outside.action is Action.ADVANCE
    assert [w.applies for w in outside.windows] == [False]


def test_a_freeze_window_still_rolls_back_a_failing_guardrail() -> None:
    guardrail = GuardrailSpec("errors", "c", max=0.01)
    spec = with_windows(gate(journey(), risk=LOW, guardrails=(guardrail,)), NIGHT)
    observed = {**healthy(spec), **guardrail_observations("errors", 0.2)}
    decision = decide(
        spec, GateState(weight=10), observed, NOW, clocks(("UTC", "2026-11-27T23:00"))
    )
    assert decision.action is Action.ROLLBACK


def test_a_high_risk_window_makes_the_release_guarded() -> None:
    spec = with_windows(gate(journey(), risk=LOW), PEAK)
    reading = clocks(("Europe/Paris", "2026-11-27T19:00"))
    decision = decide(spec, GateState(weight=10), healthy(spec), NOW, reading)
    assert decision.risk.risk is Risk.HIGH
    assert decision.mode is Mode.GUARDED
    assert decision.action is Action.HOLD  # the first of two passes
    assert decision.risk.because == "high-risk window evening-peak in force; otherwise declared low"
    assert any(
        r.code is ReasonCode.WINDOW and "release risk is raised to high" in r.message
        for r in decision.reasons
    )


@pytest.mark.parametrize(
    "reading",
    [
        None,
        WallClocks(NOW, {}, {"UTC": "no such zone"}),
        clocks(("UTC", "2026-11-27T12:00"), at_=NOW - timedelta(minutes=1)),
    ],
    ids=["no-readings", "zone-unreadable", "read-for-another-instant"],
)
def test_a_window_whose_local_time_is_unknown_counts_as_in_force(
    reading: WallClocks | None,
) -> None:
    spec = with_windows(gate(journey(), risk=LOW), NIGHT)
    decision = decide(spec, GateState(weight=10), healthy(spec), NOW, reading)
    assert decision.action is Action.HOLD
    assert decision.mode is Mode.FREEZE
    assert "counted as in force" in decision.reasons[0].message
    (judged,) = judge_windows(spec.policy.windows, reading, NOW)
    assert judged.in_force
    assert not judged.applies


@settings(max_examples=300, deadline=None)
@given(
    scenario=scenarios(),
    window=time_windows(),
    local=st.datetimes(datetime(2026, 1, 1), datetime(2026, 1, 21)),
)
def test_a_window_never_makes_a_decision_more_permissive(
    scenario: tuple[GateSpec, GateState, Observed], window: TimeWindow, local: datetime
) -> None:
    spec, state, observed = bare(*scenario)
    without = decide(spec, state, observed, NOW)
    windowed = with_windows(spec, window)
    reading = WallClocks(NOW, {"UTC": local})
    decision = decide(windowed, state, observed, NOW, reading)
    # (A window may turn a hold into a rollback: minor guardrails count as critical while it
    # freezes or raises the risk. That is less permissive, as it must be.)
    assert ACTION_PERMISSIVENESS[decision.action] <= ACTION_PERMISSIVENESS[without.action]
    if window.applies(local) and window.effect is WindowEffect.FREEZE:
        assert decision.action in (Action.HOLD, Action.ROLLBACK)
    if window.applies(local) and window.effect is WindowEffect.HIGH_RISK:
        assert decision.risk.risk is Risk.HIGH
    if not window.applies(local):
        assert decision.action is without.action
        assert decision.weight_next == without.weight_next
