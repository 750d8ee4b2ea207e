"""Slow windows reused across ticks: which queries qualify, the bound on how far a window can
have moved since it was read, and that a settled bound leaves health unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    Duration,
    JourneySegments,
    JourneySpec,
    QueryKey,
    Role,
    Segmentation,
    SliQueries,
)
from canarygate.core.health import assess_journey
from canarygate.core.queries import journey_windows, plan_queries
from canarygate.core.selectors import additive_unit
from canarygate.core.slow_windows import (
    EVENTS,
    PER_SECOND,
    Reading,
    SlowWindow,
    max_age,
    plan_slow_windows,
    ratio_bounds,
    settled,
)
from canarygate.core.specs import (
    DEFAULT_HEALTH_POLICY,
    BurnCondition,
    CombinedRule,
    HealthPolicy,
)
from canarygate.core.vocabulary import RuleSeverity

from .builders import SLI, gate


def journey(
    name: str = "checkout", objective: float = 99.9, sli: SliQueries | None = None, **more: object
) -> JourneySpec:
    return JourneySpec(name, objective, sli or SLI, **more)  # type: ignore[arg-type]


MINUTE = 60_000
RATE = SliQueries(
    good='sum(rate(requests_total{journey="checkout",code!~"5.."}[{{window}}]))',
    total='sum(rate(requests_total{journey="checkout"}[{{ window }}]))',
)
INCREASE = SliQueries(
    good='sum(increase(requests_total{code!~"5.."}[{{window}}]))',
    total="sum(increase(requests_total[{{window}}]))",
)


@pytest.mark.parametrize(
    ("template", "unit"),
    [
        ('sum(rate(m{j="x",code!~"5.."}[{{window}}]))', PER_SECOND),
        ("rate(m[{{ window }}])", PER_SECOND),
        ('sum(rate({__name__="m"}[{{window}}]))', PER_SECOND),
        ('sum(rate(a[{{window}}])) + sum(rate(b{x="}"}[{{window}}]))', PER_SECOND),
        ("sum(increase(m[{{window}}]))", EVENTS),
        ("sum(rate(m[{{window}}])) # a comment", PER_SECOND),
    ],
)
def test_sums_of_rate_or_increase_are_additive(template: str, unit: str) -> None:
    assert additive_unit(template) == unit


@pytest.mark.parametrize(
    "template",
    [
        "sum(rate(a[{{window}}])) - sum(rate(b[{{window}}]))",  # not a count of events
        "sum(rate(a[{{window}}])) / sum(rate(b[{{window}}]))",
        "sum(rate(a[{{window}}])) * 2",
        "sum(rate(a[{{window}}])) + 1",
        "sum by (region) (rate(a[{{window}}]))",
        "sum(rate(a[{{window}}] offset 1h))",
        "sum(rate(a[{{window}}:1m]))",
        "sum(rate(a[{{window}}])) + sum(increase(a[{{window}}]))",  # units mixed
        "sum(avg_over_time(a[{{window}}]))",
        "slo:sli_error:ratio_rate{{window}}",
        "sum(rate(a[{{interval}}]))",
        "sum(rate([{{window}}]))",
        "sum()",
    ],
)
def test_anything_else_is_never_reused(template: str) -> None:
    assert additive_unit(template) is None


def test_max_age_is_a_288th_of_the_window() -> None:
    assert [max_age(Duration(d * 86_400_000)).text for d in (1, 3, 30)] == ["5m", "15m", "2h30m"]


def test_the_slow_windows_of_the_default_policy() -> None:
    spec = gate(journey(sli=RATE))
    found = plan_slow_windows(spec)
    assert [(s.window.text, s.inner.text) for s in found] == [
        ("1d", "23h55m"),
        ("3d", "2d23h45m"),
        ("30d", "29d21h30m"),
    ]
    planned = {q.key: q for q in plan_queries(spec)}
    for slow in found:
        # The same queries as the gate's own plan, and the inner window rendered alike.
        assert planned[slow.good.key] is slow.good
        assert planned[slow.total.key] is slow.total
        assert slow.inner_total.promql == RATE.total.replace("{{ window }}", slow.inner.text)
        assert [w.text for w in slow.fresh] == ["5m", "30m", "1h", "2h", "6h"]
        assert slow.unit == PER_SECOND


def test_journeys_that_cannot_be_bounded_have_no_slow_windows() -> None:
    segmented = journey(
        "regional",
        sli=SliQueries(
            good="sum by (region) (rate(g[{{window}}]))",
            total="sum by (region) (rate(t[{{window}}]))",
        ),
        segments=JourneySegments(by=Segmentation(("region",))),
    )
    mixed = journey("mixed", sli=SliQueries(good=RATE.good, total=INCREASE.total))
    other = journey("other")  # good{j}[{{window}}]: no rate() or increase()
    assert plan_slow_windows(gate(segmented, mixed, other)) == ()


def test_a_fresh_window_must_cover_the_age_and_the_scrape_before_it() -> None:
    (slow, *_) = plan_slow_windows(gate(journey(sli=RATE)))
    assert slow.fresh_window(0).text == "5m"
    assert slow.fresh_window(200).text == "5m"
    assert slow.fresh_window(201).text == "30m"
    assert slow.fresh_window(6 * 3600) is None


def _slow(
    window_days: int = 1,
    objective: float = 99.9,
    unit: str = PER_SECOND,
    health: HealthPolicy = DEFAULT_HEALTH_POLICY,
) -> SlowWindow:
    sli = RATE if unit == PER_SECOND else INCREASE
    spec = gate(journey(objective=objective, sli=sli), health=health)
    return next(s for s in plan_slow_windows(spec) if s.window.text == f"{window_days}d")


# A history of good and bad events per minute, and readings of it as Prometheus gives them.
History = tuple[list[float], list[float]]


def _count(history: History, start: int, end: int) -> tuple[float, float]:
    good, bad = history
    return sum(good[start:end]), sum(bad[start:end])


def _reading(history: History, start: int, end: int, unit: str) -> Reading:
    good, bad = _count(history, start, end)
    seconds = (end - start) * 60 if unit == PER_SECOND else 1
    return Reading(good / seconds, (good + bad) / seconds)


@st.composite
def histories(draw: st.DrawFn, minutes: int, near: tuple[int, ...]) -> History:
    """Steady traffic with a few episodes of other traffic and other error ratios, anywhere
    or starting within ten minutes of the minutes in `near`."""
    rate = draw(st.floats(1, 1000))
    ratio = draw(st.floats(0, 0.01))
    good, bad = [rate * (1 - ratio)] * minutes, [rate * ratio] * minutes
    anywhere = st.integers(0, minutes - 1)
    close = st.sampled_from(near).flatmap(lambda m: st.integers(max(0, m - 10), m + 10))
    for _ in range(draw(st.integers(0, 4))):
        start = min(minutes - 1, draw(st.one_of(anywhere, close)))
        length = draw(st.integers(1, 30))
        burst = draw(st.floats(0, 50)) * rate
        burst_ratio = draw(st.floats(0, 1))
        for minute in range(start, min(minutes, start + length)):
            good[minute], bad[minute] = burst * (1 - burst_ratio), burst * burst_ratio
    return good, bad


@settings(max_examples=300, deadline=None)
@given(data=st.data(), unit=st.sampled_from([PER_SECOND, EVENTS]))
def test_the_window_now_lies_within_the_bound(data: st.DataObject, unit: str) -> None:
    """Whatever the traffic did since the reading (and did a window's length before it), the
    window's error ratio now is within the bound computed from the readings and this tick's
    fresh window."""
    slow = _slow(unit=unit)
    length, allowed = slow.window.milliseconds // MINUTE, slow.max_age.milliseconds // MINUTE
    t0 = length + data.draw(st.integers(0, 59))  # minutes since the history began
    age = data.draw(st.integers(0, allowed))
    history = data.draw(histories(length + allowed + 60, near=(t0 - length, t0)))
    now = t0 + age
    fresh_window = slow.fresh_window(age * 60)
    assert fresh_window is not None
    fresh_minutes = fresh_window.milliseconds // MINUTE
    whole = _reading(history, t0 - length, t0, unit)
    inner = _reading(history, t0 - length + allowed, t0, unit)
    fresh = _reading(history, now - fresh_minutes, now, unit)
    bounds = ratio_bounds(slow, whole, inner, fresh, fresh_window)
    good, bad = _count(history, now - length, now)
    if bounds is None:
        return  # a reading without events: no bound is claimed, the window is read again
    low, high = bounds
    truth = bad / (good + bad)
    assert low - 1e-12 <= truth <= high + 1e-12


def test_steady_traffic_gives_a_tight_bound() -> None:
    slow = _slow()
    steady = Reading(good=99.9, total=100.0)  # 0.1 % errors: burn 1, per second
    low, high = ratio_bounds(slow, steady, steady, steady, Duration(5 * MINUTE)) or (0, 1)
    assert 0.00099 < low <= 0.001 <= high < 0.00102
    assert settled(slow, low, high)  # the 1d rule's threshold is burn 3: far away


def test_an_outage_in_the_fresh_window_unsettles_the_day() -> None:
    """Every request of the last five minutes failing: the day may have crossed burn 3, so
    the 1d window is read again (and red is on its way through the 1h and 5m windows)."""
    slow = _slow()
    steady = Reading(good=99.9, total=100.0)
    outage = Reading(good=0.0, total=100.0)
    low, high = ratio_bounds(slow, steady, steady, outage, Duration(5 * MINUTE)) or (0, 1)
    assert high / slow.journey.error_budget > 3
    assert not settled(slow, low, high)


def test_no_bound_from_readings_without_events_or_impossible_ones() -> None:
    slow = _slow()
    steady = Reading(good=99.9, total=100.0)
    five = Duration(5 * MINUTE)
    assert ratio_bounds(slow, steady, Reading(0.0, 0.0), steady, five) is None
    assert ratio_bounds(slow, steady, steady, Reading(0.0, 0.0), five) is None
    assert ratio_bounds(slow, Reading(200.0, 100.0), steady, steady, five) is None


@pytest.mark.parametrize(
    ("days", "low_burn", "high_burn", "expected"),
    [
        (1, 2.9, 2.99, True),  # both under burn 3
        (1, 2.9, 3.0, False),  # straddles burn 3 (>= counts)
        (1, 3.0, 40.0, True),
        (3, 0.5, 0.99, True),  # the 3d rule is at burn 1
        (3, 0.99, 1.01, False),
        (30, 0.2, 0.7, True),  # budget remaining 80 %..30 %: above 25 % throughout
        (30, 0.7, 0.8, False),  # 30 %..20 %: crosses 25 %
        (30, 0.8, 0.99, True),  # 20 %..1 %: below 25 %, above 0
        (30, 0.99, 1.0, False),  # reaches 0: red
    ],
)
def test_settled_means_every_comparison_agrees(
    days: int, low_burn: float, high_burn: float, expected: bool
) -> None:
    slow = _slow(days)
    budget = slow.journey.error_budget
    assert settled(slow, low_burn * budget, high_burn * budget) is expected


# Combined rules reading the slow windows at bounds the tiers do not use (1.7 over 1d, 0.6 over
# 3d, 60 % of the 30d budget left): a bound the tiers settle may straddle these.
COMBINED = HealthPolicy(
    red=DEFAULT_HEALTH_POLICY.red,
    yellow=DEFAULT_HEALTH_POLICY.yellow,
    rules=(
        CombinedRule(
            "day-and-budget",
            RuleSeverity.PAGE,
            burn_rates=(BurnCondition(Duration(86_400_000), 1.7),),
            budget_remaining_below=0.6,
        ),
        CombinedRule(
            "three-days",
            RuleSeverity.TICKET,
            burn_rates=(BurnCondition(Duration(3 * 86_400_000), 0.6),),
        ),
    ),
)


def test_combined_rules_on_a_slow_window_are_compared_too() -> None:
    """A bound on the 1d window between burn 1.5 and 1.9 settles every tier (3.0 is far) but
    not the combined rule at 1.7: the window is read again."""
    budget = _slow(1).journey.error_budget
    assert settled(_slow(1), 1.5 * budget, 1.9 * budget)
    assert not settled(_slow(1, health=COMBINED), 1.5 * budget, 1.9 * budget)


@settings(max_examples=300, deadline=None)
@given(
    days=st.sampled_from([1, 3, 30]),
    burns=st.lists(st.floats(0, 50), min_size=8, max_size=8),
    ends=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    inside=st.floats(0, 1),
)
@pytest.mark.parametrize("policy", [DEFAULT_HEALTH_POLICY, COMBINED], ids=["tiers", "combined"])
def test_a_settled_bound_leaves_the_journeys_health_unchanged(
    policy: HealthPolicy, days: int, burns: list[float], ends: tuple[float, float], inside: float
) -> None:
    """Where `settled` says so, the journey's health is the same whichever ratio in the bound
    the slow window has (core.health computes it, with every other window as measured), also
    under combined rules that read the slow windows."""
    slow = _slow(days, health=policy)
    budget = slow.journey.error_budget
    low, high = sorted(min(1.0, e * 60 * budget) for e in ends)
    if not settled(slow, low, high):
        return
    spec = gate(slow.journey, health=policy)
    windows = journey_windows(slow.journey, spec)

    def health(ratio: float) -> str:
        observed: dict[QueryKey, float] = {}
        for window, burn in zip(windows, burns, strict=True):
            value = ratio if window == slow.window else min(1.0, burn * budget)
            observed[QueryKey(slow.journey.name, Role.GOOD, window)] = 1000 * (1 - value)
            observed[QueryKey(slow.journey.name, Role.TOTAL, window)] = 1000.0
        return str(assess_journey(slow.journey, windows, policy, observed).health)

    assert health(low) == health(high) == health(low + inside * (high - low))
