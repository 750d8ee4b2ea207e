"""Slow windows (a day or longer) reused across ticks, only where their age cannot change a
decision.

A journey's windows of a day or more (the default policy's 1d and 3d burn windows and the 30d
compliance window) cost Prometheus most and move least. The operator may answer them from an
earlier reading, at most `max_age` old (1/288 of the window: 5m for 1d, 15m for 3d, 2h30m
for 30d), when this module proves that the decision cannot differ from a fresh reading's.

The bound. A reading of window W taken at t0 is kept with a reading of the *inner* window
W - max_age taken at the same instant. At a later t (t - t0 <= max_age), the window [t-W, t]
is made of three parts:

- [t0-W+max_age, t0], the inner window: known exactly;
- [t-W, t0-W+max_age], a part of the slice [t0-W, t0-W+max_age] that W held and the inner
  window does not: between nothing and all of that slice's good and bad events;
- [t0, t], newer than the reading: between nothing and all the good and bad events of the
  journey's shortest window read fresh this tick that covers it (5m, normally).

So the window's error ratio now lies between the lowest and the highest ratio those parts
allow, and each comparison the health policy makes with this window (burn >= a threshold,
budget remaining <= or < a bound, in the tiers and in the combined rules that judge the
journey) has one outcome over that whole range, or the reading is
not used: the window is read again, in the same tick. Equal outcomes give equal health, and
health is all a journey's windows feed into the decision. A steady journey far from every
threshold is answered from the reading; one moving fast (an outage fills its fresh 5m
window with bad events) or sitting near a threshold is read fresh every tick.

This holds for SLIs whose answer over a window is the sum of their answers over its parts:
sums of `rate()` or of `increase()` of counters over `{{window}}` (`core.selectors.
additive_unit`; any other form is never reused). Prometheus extrapolates `rate()` to a
window's edges; the bound allows it for scrape intervals up to a minute and a half (`EDGE`)
and assumes a journey's good and total series are scraped together (one metric family from
the same targets), so that extrapolation scales both alike. Segmented journeys are never
reused. Nothing here turns silence into data: only readings that gave a value are kept, a
reading is used only in a tick whose fresh window answered, and a stale or silent fresh
window leaves the journey unknown whatever its slow windows say.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.observations import Missing, QueryKey, Role
from canarygate.core.queries import SHARED_PLANS, PlannedQuery, journey_queries, windows_judged
from canarygate.core.selectors import additive_unit
from canarygate.core.slo import error_ratio
from canarygate.core.specs import GateSpec, HealthPolicy, JourneySpec
from canarygate.core.templating import render

# Windows at least this long may be reused across ticks.
SLOW = Duration(86_400_000)
# A reading of a slow window serves for at most this fraction of the window's length.
AGE_FRACTION = 288
# How far Prometheus may extrapolate rate() at each edge of a window (1.1 scrape intervals).
EDGE = Duration(100_000)

PER_SECOND = "per-second"
EVENTS = "events"


def max_age(window: Duration) -> Duration:
    """How long a reading of `window` may serve: 1/288 of it (5m for 1d, 2h30m for 30d)."""
    return Duration(window.milliseconds // AGE_FRACTION)


@dataclass(frozen=True)
class SlowWindow:
    """One slow window of one journey: its queries, and the inner window read along with it."""

    journey: JourneySpec
    policy: HealthPolicy
    window: Duration
    unit: str  # PER_SECOND or EVENTS
    good: PlannedQuery
    total: PlannedQuery
    inner_good: PlannedQuery
    inner_total: PlannedQuery
    # The journey's windows that are read every tick, shortest first.
    fresh: tuple[Duration, ...]

    @property
    def max_age(self) -> Duration:
        return max_age(self.window)

    @property
    def inner(self) -> Duration:
        return Duration(self.window.milliseconds - self.max_age.milliseconds)

    def fresh_window(self, age_seconds: float) -> Duration | None:
        """The shortest fresh window that holds every event newer than a reading of this age
        (and the scrape before it), if any."""
        needed = age_seconds + EDGE.seconds
        return next((w for w in self.fresh if w.seconds >= needed), None)


def plan_slow_windows(spec: GateSpec) -> tuple[SlowWindow, ...]:
    """The gate's slow windows that may be reused: journeys not segmented, whose SLI is a sum of
    `rate()` or of `increase()` (both queries alike), with a shorter window read every tick."""
    interval = spec.canary.interval.text
    return tuple(
        slow
        for journey in spec.journeys
        for slow in journey_slow_windows(journey, spec.health, interval)
    )


@functools.lru_cache(maxsize=SHARED_PLANS)
def journey_slow_windows(
    journey: JourneySpec, health: HealthPolicy, interval: str
) -> tuple[SlowWindow, ...]:
    """One journey's slow windows (shared by every gate with an equal journey, as its queries
    are: `core.queries`)."""
    if journey.segments is not None:
        return ()
    unit = additive_unit(journey.sli.good)
    if unit is None or unit != additive_unit(journey.sli.total):
        return ()
    planned = {q.key: q for q in journey_queries(journey, health, interval)}
    windows = windows_judged(journey, health)
    fresh = tuple(w for w in windows if w < SLOW)
    found: list[SlowWindow] = []
    for window in (w for w in windows if w >= SLOW and fresh):
        inner = Duration(window.milliseconds - max_age(window).milliseconds)
        if inner in windows:
            continue  # its reading would be taken for the policy's own window
        found.append(
            SlowWindow(
                journey=journey,
                policy=health,
                window=window,
                unit=unit,
                good=planned[QueryKey(journey.name, Role.GOOD, window)],
                total=planned[QueryKey(journey.name, Role.TOTAL, window)],
                inner_good=_planned(journey, Role.GOOD, inner, interval),
                inner_total=_planned(journey, Role.TOTAL, inner, interval),
                fresh=fresh,
            )
        )
    return tuple(found)


def _planned(journey: JourneySpec, role: Role, span: Duration, interval: str) -> PlannedQuery:
    """The journey's `role` query over `span`, as `core.queries` plans it."""
    template = journey.sli.good if role is Role.GOOD else journey.sli.total
    values = {"window": span.text, "interval": interval}
    return PlannedQuery(QueryKey(journey.name, role, span), render(template, values))


@dataclass(frozen=True)
class Reading:
    """A journey's good and total as Prometheus answered them over one window."""

    good: float
    total: float


def ratio_bounds(
    slow: SlowWindow,
    whole: Reading,
    inner: Reading,
    fresh: Reading,
    fresh_window: Duration,
) -> tuple[float, float] | None:
    """The lowest and highest error ratio the slow window can have now, from its readings at
    t0 (`whole`, `inner`) and this tick's reading of `fresh_window` (see the module's
    docstring); None when a reading is not a usable measurement."""
    budget = slow.journey.error_budget
    for reading in (whole, inner, fresh):
        if isinstance(error_ratio(reading.good, reading.total, budget), Missing):
            return None
    good_w, bad_w = _events(slow.unit, whole, slow.window)
    good_m, bad_m = _events(slow.unit, inner, slow.inner)
    good_f, bad_f = _events(slow.unit, fresh, fresh_window)
    # Extrapolation to the edges makes an answer up to this factor larger than its events.
    stretch = 1 + 2 * EDGE.seconds / max(slow.inner.seconds - 2 * EDGE.seconds, EDGE.seconds)
    # The slice W held beyond the inner window: at most this many good and bad events.
    good_l = max(0.0, good_w - good_m / stretch)
    bad_l = max(0.0, bad_w - bad_m / stretch)
    ratios_high, ratios_low = [], []
    for scale in (1 / stretch, 1.0):
        good, bad = good_m * scale, bad_m * scale
        worst_bad = bad + bad_l + bad_f
        ratios_high.append(worst_bad / (good + worst_bad) if good + worst_bad > 0 else 1.0)
        most = good + bad + good_l + good_f
        ratios_low.append(bad / most if most > 0 else 0.0)
    return min(ratios_low), max(ratios_high)


def _events(unit: str, reading: Reading, span: Duration) -> tuple[float, float]:
    """Good and bad events in `span`, from the answer of a query in `unit`."""
    scale = span.seconds if unit == PER_SECOND else 1.0
    good, total = max(0.0, reading.good * scale), max(0.0, reading.total * scale)
    return good, max(0.0, total - good)


def settled(slow: SlowWindow, low: float, high: float) -> bool:
    """Whether every comparison the health policy makes with this window has the same outcome
    for every error ratio between `low` and `high` (each is monotonic in the ratio, so the
    two ends decide)."""
    return _outcomes(slow, low) == _outcomes(slow, high)


def _outcomes(slow: SlowWindow, ratio: float) -> tuple[bool, ...]:
    """The outcome of each comparison of the policy with this window, computed as
    `core.health` computes it."""
    budget = slow.journey.error_budget
    burn = ratio / budget
    remaining = 1.0 - ratio / budget
    found: list[bool] = []
    for tier in (slow.policy.red, slow.policy.yellow):
        for rule in tier.burn_rates:
            if slow.window in (rule.long, rule.short):
                found.append(burn >= rule.threshold)
        if slow.window == slow.journey.window:
            if tier.budget_remaining_at_most is not None:
                found.append(remaining <= tier.budget_remaining_at_most)
            if tier.budget_remaining_below is not None:
                found.append(remaining < tier.budget_remaining_below)
    # The combined rules that judge this journey compare the same numbers (core.classifying).
    for combined in slow.policy.for_journey(slow.journey.name).rules:
        for condition in combined.burn_rates:
            if condition.window == slow.window:
                found.append(burn >= condition.at_least)
        below = combined.budget_remaining_below
        if below is not None and slow.window == slow.journey.window:
            found.append(remaining < below)
    return tuple(found)
