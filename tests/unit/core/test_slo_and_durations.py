from __future__ import annotations

import pytest

from canarygate.core import Duration, Missing, MissingKind, SpecError, parse_duration
from canarygate.core.slo import budget_remaining, burn_rate, error_ratio
from canarygate.core.templating import check_template, render, variables_in


@pytest.mark.parametrize(
    ("text", "ms", "canonical"),
    [
        ("5m", 300_000, "5m"),
        ("60m", 3_600_000, "1h"),
        ("1h30m", 5_400_000, "1h30m"),
        ("30d", 30 * 86_400_000, "30d"),
        ("1w", 7 * 86_400_000, "7d"),
        ("1500ms", 1_500, "1s500ms"),
    ],
)
def test_durations_parse_and_print_canonically(text: str, ms: int, canonical: str) -> None:
    duration = parse_duration(text)
    assert duration == Duration(ms)
    assert duration.text == canonical


@pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "-1m", "1m1h", "0s", "1.5h", "5M"])
def test_invalid_durations_name_the_field(text: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_duration(text, field="spec.canary.interval")
    assert raised.value.field == "spec.canary.interval"


def test_error_ratio_refuses_zero_total_and_missing_inputs() -> None:
    assert error_ratio(999.0, 1000.0, 0.001) == pytest.approx(0.001)
    zero = error_ratio(0.0, 0.0, 0.001)
    assert isinstance(zero, Missing)
    assert zero.kind is MissingKind.NO_DATA
    gap = Missing(MissingKind.NO_DATA, "gap")
    assert error_ratio(gap, 10.0, 0.001) is gap
    assert error_ratio(10.0, gap, 0.001) is gap


def test_good_a_hair_over_total_is_zero_errors() -> None:
    # Counter extrapolation can make good exceed total by a sliver: zero errors, not negative.
    assert error_ratio(1000.005, 1000.0, 0.001) == 0.0


@pytest.mark.parametrize(
    ("good", "total", "why"),
    [
        (1030.0, 1000.0, "good 1030 > total 1000"),  # swapped queries during a burn-30 incident
        (1000.5, 1000.0, "good 1000.5 > total 1000"),  # would hide a burn rate of 0.5
        (-1.0, 1000.0, "negative count"),
        (10.0, -5.0, "negative count"),
    ],
)
def test_impossible_counts_are_invalid_evidence_not_zero_errors(
    good: float, total: float, why: str
) -> None:
    ratio = error_ratio(good, total, 0.001)
    assert isinstance(ratio, Missing)
    assert ratio.kind is MissingKind.INVALID
    assert why in ratio.detail


def test_burn_rate_and_budget_follow_the_definitions() -> None:
    ratio = 0.0144
    assert burn_rate(ratio, 0.001) == pytest.approx(14.4)
    assert budget_remaining(0.00075, 0.001) == pytest.approx(0.25)
    assert budget_remaining(0.0015, 0.001) == pytest.approx(-0.5)


def test_templates_allow_whitespace_and_refuse_unknown_variables() -> None:
    assert variables_in("a[{{ window }}] b[{{interval}}]") == {"window", "interval"}
    assert render("rate(x[{{ window }}])", {"window": "5m"}) == "rate(x[5m])"
    check_template("x[{{window}}]", field="f", allowed={"window"}, required={"window"})
    with pytest.raises(SpecError, match=r"unknown template variable \{\{windw\}\}"):
        check_template("x[{{windw}}]", field="f", allowed={"window"})
    with pytest.raises(SpecError, match=r"must use \{\{window\}\}"):
        check_template("x[5m]", field="f", allowed={"window"}, required={"window"})
    with pytest.raises(SpecError, match="empty"):
        check_template("  ", field="f", allowed={"window"})
