"""Combined health rules (`spec.health.rules`): all conditions at once, named in the findings,
the reasons and the assessment; the presets; silence never fires one and never hides one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    DEFAULT_HEALTH_POLICY,
    GateState,
    Health,
    Missing,
    MissingKind,
    decide,
    parse_duration,
)
from canarygate.core.classifying import fires
from canarygate.core.decisions import ReasonCode
from canarygate.core.explaining import explain
from canarygate.core.health import assess_journey
from canarygate.core.presets import PRESETS, preset_rule
from canarygate.core.queries import journey_windows, plan_queries
from canarygate.core.specs import BurnCondition, CombinedRule, HealthPolicy
from canarygate.core.vocabulary import HEALTH_ORDER, RuleSeverity

from .builders import gate, journey, journey_observations

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
H1, M5, H6 = parse_duration("1h"), parse_duration("5m"), parse_duration("6h")


def policy_with(*rules: CombinedRule) -> HealthPolicy:
    return replace(DEFAULT_HEALTH_POLICY, rules=rules)


def page(name: str = "fast-burn", **kwargs: object) -> CombinedRule:
    return CombinedRule(
        name,
        RuleSeverity.PAGE,
        burn_rates=(BurnCondition(H1, 4.0),),
        budget_remaining_below=0.25,
        **kwargs,  # type: ignore[arg-type]
    )


def ratios(burn: float, remaining: float, *, short: float | None = None) -> dict[str, float]:
    """Error ratios of a 99.9 % journey: `burn` over 1h (and `short`, default the same, over
    5m), quiet elsewhere, `remaining` of the 30-day budget left."""
    budget = 0.001
    return {
        "1h": burn * budget,
        "5m": (burn if short is None else short) * budget,
        "30d": (1 - remaining) * budget,
    }


def assess(policy: HealthPolicy, error_ratio: dict[str, float], name: str = "checkout"):  # type: ignore[no-untyped-def]
    spec = gate(journey(name), health=policy)
    target = spec.journeys[0]
    observed = journey_observations(spec, name, error_ratio)
    return assess_journey(target, journey_windows(target, spec), spec.health, observed)


def test_a_page_rule_fires_only_when_every_condition_holds() -> None:
    policy = policy_with(page())
    fired = assess(policy, ratios(burn=5, remaining=0.2))
    assert fired.health is Health.RED
    assert fired.rules_fired == ("fast-burn",)
    assert fired.findings == (
        "rule fast-burn (page): burn rate 5 over 1h (at least 4) and budget remaining 20.0% "
        "(below 25%)",
    )
    # Either condition alone is not enough: yellow by the default budget bound, or green.
    budget_only = assess(policy, ratios(burn=2, remaining=0.2))
    assert budget_only.health is Health.YELLOW
    assert budget_only.rules_fired == ()
    assert assess(policy, ratios(burn=5, remaining=0.3)).health is Health.GREEN


def test_a_ticket_rule_makes_the_journey_yellow_and_says_so() -> None:
    ticket = CombinedRule(
        "slow-bleed", RuleSeverity.TICKET, burn_rates=(BurnCondition(H6, 1.0),),
        budget_remaining_below=0.5,
    )  # fmt: skip
    found = assess(policy_with(ticket), {"6h": 0.0015, "30d": 0.0006})
    assert found.health is Health.YELLOW
    assert found.rules_fired == ("slow-bleed",)
    assert found.findings[-1].startswith("rule slow-bleed (ticket): burn rate 1.5 over 6h")


def test_a_rule_scoped_to_another_journey_does_not_judge_this_one() -> None:
    scoped = page(journeys=("payments",))
    assert assess(policy_with(scoped), ratios(burn=5, remaining=0.2)).health is Health.YELLOW
    assert assess(policy_with(scoped), ratios(5, 0.2), name="payments").health is Health.RED


def test_a_silent_window_never_fires_a_rule_nor_lets_the_journey_look_green() -> None:
    spec = gate(journey(), health=policy_with(page()))
    target = spec.journeys[0]
    observed = journey_observations(spec, "checkout", ratios(burn=5, remaining=0.5))
    observed[next(k for k in observed if k.window == H1 and k.role == "total")] = Missing(
        MissingKind.NO_DATA, "no series"
    )
    found = assess_journey(target, journey_windows(target, spec), spec.health, observed)
    assert found.health is Health.UNKNOWN
    assert found.rules_fired == ()


def test_the_rule_windows_are_queried() -> None:
    rule = CombinedRule(
        "odd-window", RuleSeverity.PAGE, burn_rates=(BurnCondition(parse_duration("10m"), 2),)
    )
    spec = gate(journey(), health=policy_with(rule))
    windows = {q.key.window.text for q in plan_queries(spec) if q.key.window is not None}
    assert "10m" in windows
    # A rule scoped to one journey adds its window to that journey's queries only.
    scoped = replace(rule, journeys=("checkout",))
    spec = gate(journey(), journey("login"), health=policy_with(scoped))
    by_journey = {j.name: {w.text for w in journey_windows(j, spec)} for j in spec.journeys}
    assert "10m" in by_journey["checkout"]
    assert "10m" not in by_journey["login"]


@pytest.mark.parametrize(
    ("preset", "burn", "remaining", "expected"),
    [
        ("burn4x-budget25", 4.0, 0.24, True),
        ("burn4x-budget25", 3.9, 0.1, False),
        ("burn4x-budget25", 10.0, 0.25, False),  # below 25 %, not at 25 %
        ("burn3x-budget50", 3.0, 0.49, True),
        ("burn3x-budget50", 2.9, 0.1, False),
        ("burn3x-budget50", 5.0, 0.5, False),
    ],
)
def test_the_presets_are_the_paging_rules(
    preset: str, burn: float, remaining: float, expected: bool
) -> None:
    rule = preset_rule(preset, name="paging")
    burns = {H1: burn, M5: burn}
    assert fires(rule, burns, remaining) is expected
    assert rule.severity is RuleSeverity.PAGE
    assert {c.window.text for c in rule.burn_rates} == {"1h", "5m"}
    # Both windows must burn: an hour-long window alone (a blip that ended) does not page.
    assert not fires(rule, {H1: burn, M5: 0.0}, remaining)


def test_decide_names_the_rule_in_the_reasons_and_explain_shows_every_condition() -> None:
    rule = preset_rule("burn4x-budget25", name="page-checkout")
    spec = gate(journey(), health=policy_with(rule))
    observed = journey_observations(spec, "checkout", ratios(burn=6, remaining=0.1))
    decision = decide(spec, GateState(weight=10), observed, NOW)
    assert decision.health is Health.RED
    journeys = [r.message for r in decision.reasons if r.code is ReasonCode.JOURNEY]
    assert any("rule page-checkout (page): burn rate 6 over 1h" in m for m in journeys), journeys
    lines = explain(spec, decision)
    line = next(x for x in lines if "rule page-checkout" in x)
    assert line == (
        "  red if rule page-checkout (page, preset burn4x-budget25), all at once: burn >= 4 "
        "over 1h: 6; burn >= 4 over 5m: 6; budget remaining < 25%: 10.0% -> YES"
    )


# -- properties ---------------------------------------------------------------------------

burn_values = st.one_of(st.none(), st.floats(0, 50, allow_nan=False))
remaining_values = st.one_of(st.none(), st.floats(-2, 1, allow_nan=False))


@st.composite
def rules(draw: st.DrawFn) -> CombinedRule:
    windows = draw(st.lists(st.sampled_from([H1, M5, H6]), min_size=0, max_size=3, unique=True))
    below = draw(st.one_of(st.none(), st.floats(-1, 1, allow_nan=False)))
    if not windows and below is None:
        below = 0.25
    return CombinedRule(
        "r",
        draw(st.sampled_from(list(RuleSeverity))),
        burn_rates=tuple(BurnCondition(w, draw(st.floats(0.1, 20))) for w in windows),
        budget_remaining_below=below,
    )


@settings(max_examples=500, deadline=None)
@given(
    rule=rules(),
    burns=st.fixed_dictionaries({H1: burn_values, M5: burn_values, H6: burn_values}),
    remaining=remaining_values,
)
def test_a_rule_fires_exactly_when_all_its_conditions_hold_on_known_values(
    rule: CombinedRule, burns: dict[object, float | None], remaining: float | None
) -> None:
    expected = all(
        burns[c.window] is not None and burns[c.window] >= c.at_least  # type: ignore[operator]
        for c in rule.burn_rates
    ) and (
        rule.budget_remaining_below is None
        or (remaining is not None and remaining < rule.budget_remaining_below)
    )
    assert fires(rule, burns, remaining) is expected  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    rule=rules(),
    burn=st.floats(0, 30),
    short=st.floats(0, 30),
    remaining=st.floats(-1, 1),
    silent=st.sampled_from([None, "1h", "5m", "30d"]),
)
def test_a_combined_rule_only_ever_makes_a_journey_worse_and_silence_never_green(
    rule: CombinedRule, burn: float, short: float, remaining: float, silent: str | None
) -> None:
    spec = gate(journey())
    target = spec.journeys[0]
    observed = journey_observations(spec, "checkout", ratios(burn, remaining, short=short))
    with_rule = gate(journey(), health=policy_with(rule))
    observed.update(
        {
            k: v
            for k, v in journey_observations(
                with_rule, "checkout", ratios(burn, remaining, short=short)
            ).items()
            if k not in observed
        }
    )
    if silent is not None:
        for key in [k for k in observed if k.window is not None and k.window.text == silent]:
            observed[key] = Missing(MissingKind.NO_DATA, "generated")
    before = assess_journey(target, journey_windows(target, spec), spec.health, observed)
    after = assess_journey(target, journey_windows(target, with_rule), with_rule.health, observed)
    if before.health is Health.UNKNOWN:
        # Silence stays silence unless the new rule found red on the values it had.
        assert after.health in (Health.UNKNOWN, Health.RED)
        assert after.health is Health.UNKNOWN or after.rules_fired == ("r",)
    elif after.health is not Health.UNKNOWN:
        assert HEALTH_ORDER.index(after.health) >= HEALTH_ORDER.index(before.health)
    if after.rules_fired:
        assert after.health is rule.level or after.health is Health.RED
    if silent is not None:
        assert after.health is not Health.GREEN


def test_the_presets_are_the_documented_ones() -> None:
    described = {name: rule.describe() for name, rule in PRESETS.items()}
    assert described == {
        "burn4x-budget25": "burn >= 4 over 1h and burn >= 4 over 5m and budget remaining < 25%",
        "burn3x-budget50": "burn >= 3 over 1h and burn >= 3 over 5m and budget remaining < 50%",
    }
