"""Freshness: the selectors a journey reads, the age query planned for it, and stale data
counted as silence (unknown, hold), with its burn rates still reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from canarygate.core import (
    Action,
    Decision,
    Duration,
    GateState,
    Health,
    JourneySpec,
    Missing,
    MissingKind,
    Role,
    SliQueries,
    decide,
    plan_queries,
)
from canarygate.core.decisions import ReasonCode
from canarygate.core.freshness import LOOKBACK, freshness_key, freshness_query
from canarygate.core.selectors import window_selectors
from canarygate.core.specs import DEFAULT_HEALTH_POLICY

from .builders import gate, healthy

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('sum(rate(http_requests_total{journey="checkout"}[{{window}}]))',
         ('http_requests_total{journey="checkout"}',)),
        ("sum(rate(requests[{{ window }}]))", ("requests",)),
        ('sum(rate({__name__="requests", job="a"}[{{window}}]))',
         ('{__name__="requests", job="a"}',)),
        ("sum(rate(a[{{window}}])) + sum(rate(b{x='1'}[{{window}}])) + sum(rate(a[{{window}}]))",
         ("a", "b{x='1'}")),
        ('slo:sli_error:ratio_rate{{window}}{sloth_id="shop-checkout"} * 0 + 1',
         ('slo:sli_error:ratio_rate5m{sloth_id="shop-checkout"}',)),
        # A brace or a placeholder inside a string or a comment is not syntax.
        ('sum(rate(a{path="}{x"}[{{window}}]))  # b{c}[{{window}}]', ('a{path="}{x"}',)),
        # Subqueries over an expression, and windows elsewhere, name no selector of ours.
        ("sum(rate(x[5m])[{{window}}:1m])", ()),
        ("sum by (job) (rate(x[{{window}}] offset 1h))", ("x",)),
    ],
)  # fmt: skip
def test_window_selectors(template: str, expected: tuple[str, ...]) -> None:
    assert window_selectors(template, "5m", "1m") == expected


def test_the_freshness_query_asks_for_the_age_of_the_newest_sample() -> None:
    spec = gate()
    query = freshness_query(spec.journeys[0], spec)
    assert query == (
        "time() - max(timestamp(total{j}) or max_over_time(timestamp(total{j})[1h:1m]))"
    )
    planned = {q.key: q.promql for q in plan_queries(spec)}
    assert planned[freshness_key(spec.journeys[0])] == query
    # Keyed with a window, so it travels with the journey's own queries.
    assert freshness_key(spec.journeys[0]).window == LOOKBACK


def test_several_selectors_report_the_stalest() -> None:
    sli = SliQueries(
        good="g[{{window}}]", total="sum(rate(a[{{window}}])) + sum(rate(b[{{window}}]))"
    )
    spec = gate(JourneySpec("checkout", 99.9, sli))
    query = freshness_query(spec.journeys[0], spec)
    assert query is not None
    assert query.startswith("time() - min(")
    assert query.count("label_replace(") == 2


def test_no_selector_no_freshness_query() -> None:
    spec = gate(JourneySpec("checkout", 99.9, SliQueries("g", "vector(1) * {{window}}")))
    assert freshness_query(spec.journeys[0], spec) is None
    assert not any(q.key.role is Role.FRESHNESS for q in plan_queries(spec))


def _decide(age: float | Missing | None, max_age: Duration | None = None) -> Decision:
    spec = gate()
    if max_age is not None:
        spec = replace(spec, health=replace(DEFAULT_HEALTH_POLICY, max_sample_age=max_age))
    observed = healthy(spec)
    if age is not None:
        observed[freshness_key(spec.journeys[0])] = age
    return decide(spec, GateState(weight=25), observed, NOW)


def test_fresh_data_decides_as_before() -> None:
    decision = _decide(12.0)
    assert decision.health is Health.GREEN
    assert decision.action is Action.ADVANCE
    (found,) = decision.freshness
    assert (found.age_seconds, found.stale, found.detail) == (12.0, False, "newest sample 12s old")


def test_stale_data_is_silence_and_says_how_old() -> None:
    decision = _decide(7 * 60 + 5.0)
    assert decision.health is Health.UNKNOWN
    assert decision.action is Action.HOLD
    assert decision.weight_next == 25
    codes = [r.code for r in decision.reasons]
    assert ReasonCode.STALE_DATA in codes
    stale = next(r.message for r in decision.reasons if r.code is ReasonCode.STALE_DATA)
    assert "newest sample 7m05s old" in stale
    assert "maxSampleAge 5m" in stale
    (assessed,) = decision.journeys
    assert assessed.burn_rate_map()["5m"] == 0.0  # the old numbers are still shown
    assert assessed.findings[0].startswith("stale data")


def test_no_sample_within_the_lookback_is_stale() -> None:
    decision = _decide(Missing(MissingKind.NO_DATA, "query returned no series"))
    assert decision.health is Health.UNKNOWN
    assert "no sample in the last 1h" in decision.freshness[0].detail


def test_the_bound_is_the_gates() -> None:
    lenient = _decide(7 * 60.0, max_age=Duration(10 * 60_000))
    assert lenient.health is Health.GREEN


@pytest.mark.parametrize("age", [-1.0, float("nan"), float("inf")])
def test_an_impossible_age_is_invalid_evidence(age: float) -> None:
    decision = _decide(age)
    assert decision.health is Health.UNKNOWN
    assert ReasonCode.INVALID_EVIDENCE in [r.code for r in decision.reasons]


def test_unmeasured_freshness_never_makes_data_stale() -> None:
    decision = _decide(None)  # no selector to ask about: not measured, not stale
    assert decision.health is Health.GREEN
    assert not decision.freshness[0].stale


@pytest.mark.parametrize(
    ("age", "code"),
    [
        (Missing(MissingKind.UNREACHABLE, "down"), ReasonCode.PROMETHEUS_UNAVAILABLE),
        (Missing(MissingKind.QUERY_ERROR, "2 series"), ReasonCode.QUERY_ERROR),
    ],
)
def test_an_unanswered_age_is_silence(age: Missing, code: ReasonCode) -> None:
    # The windows answered, but nothing says they are current: never a pass.
    decision = _decide(age)
    assert decision.health is Health.UNKNOWN
    assert decision.action is not Action.ADVANCE
    assert code in [r.code for r in decision.reasons]
    assert not decision.freshness[0].stale
