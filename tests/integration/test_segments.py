"""Segments and success metrics with `canarygate evaluate` against the real fixture Prometheus
(synthetic histories in lab/segment_histories.py), read from the CLI's JSON output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.gates import conversion_metric, gate, segmented_journey, tier_guardrail

from .running import Evaluate

pytestmark = pytest.mark.integration


def journey(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(j for j in document["journeys"] if j["name"] == name)
    return found


def run(evaluate: Evaluate, document: dict[str, Any], weight: int = 25) -> dict[str, Any]:
    result = evaluate(document, "--weight", str(weight))
    assert result.code == 0, result.stderr
    return result.document


def test_one_region_at_5_percent_errors_is_red_while_the_whole_is_green(
    evaluate: Evaluate,
) -> None:
    answer = run(evaluate, gate(segmented_journey("regional", "region")))
    regional = journey(answer, "regional")
    assert regional["overall"] == "green"
    assert regional["burnRates"]["1h"] == pytest.approx(2.6, rel=0.03)
    assert (answer["health"], answer["mode"], answer["action"]) == ("red", "freeze", "hold")
    assert answer["weight"] == {"current": 25, "next": 25}
    worst = regional["segments"][0]
    assert (worst["segment"], worst["health"]) == ({"region": "eu-west"}, "red")
    assert worst["burnRates"]["1h"] == pytest.approx(50, rel=0.03)
    assert worst["share"] == pytest.approx(0.05, rel=0.03)
    assert [s["health"] for s in regional["segments"][1:]] == ["green", "green"]
    segment_reasons = [
        reason
        for reason, code in zip(answer["reasons"], answer["reasonCodes"], strict=True)
        if code == "Segment"
    ]
    assert len(segment_reasons) == 1
    assert segment_reasons[0].startswith(
        "journey regional red in region eu-west (burn 50 over 1h), green overall: "
    )


def test_the_same_journey_unsegmented_is_green(evaluate: Evaluate) -> None:
    """What a gate on the aggregate alone sees: nothing wrong."""
    answer = run(evaluate, gate("regional"))
    assert (answer["health"], answer["action"]) == ("green", "advance")


def test_a_tiny_segment_with_a_few_errors_is_not_red(evaluate: Evaluate) -> None:
    answer = run(evaluate, gate(segmented_journey("tinyregion", "region")))
    tiny = journey(answer, "tinyregion")
    assert (answer["health"], answer["action"]) == ("green", "advance")
    assert [s["segment"] for s in tiny["segments"]] == [{"region": "us-east"}]
    assert tiny["segmentsIgnored"] == 1
    # Judged anyway (a lower minimum share), the same segment is red: the minimum decided it.
    judged = run(evaluate, gate(segmented_journey("tinyregion", "region", minSegmentShare=0.0001)))
    assert judged["health"] == "red"
    assert journey(judged, "tinyregion")["segments"][0]["segment"] == {"region": "ap-south"}


def test_a_segment_objective_stricter_than_the_journeys(evaluate: Evaluate) -> None:
    lenient = run(evaluate, gate(segmented_journey("tenants", "tier")))
    assert lenient["health"] == "green"
    strict = run(
        evaluate,
        gate(segmented_journey("tenants", "tier", segments={"enterprise": {"objective": 99.99}})),
    )
    tenants = journey(strict, "tenants")
    assert (strict["health"], tenants["overall"]) == ("red", "green")
    enterprise = tenants["segments"][0]
    assert (enterprise["segment"], enterprise["objective"]) == ({"tier": "enterprise"}, 99.99)
    assert enterprise["budgetRemaining"] == pytest.approx(-3, rel=0.05)
    assert any("red in tier enterprise" in r and "objective 99.99%" in r for r in strict["reasons"])


def test_a_segmented_guardrail_catches_a_canary_failing_for_one_tier(evaluate: Evaluate) -> None:
    answer = run(evaluate, gate("healthy", guardrails=[tier_guardrail("tiered")]))
    (guardrail,) = answer["guardrails"]
    assert guardrail["verdict"] == "fail"
    worst = guardrail["segments"][0]
    assert worst["segment"] == {"tier": "enterprise"}
    assert worst["canary"] == pytest.approx(0.08, rel=0.02)
    assert worst["samples"] == pytest.approx(120, rel=0.05)
    assert (answer["action"], answer["weight"]["next"]) == ("rollback", 0)
    assert "in tier enterprise: canary 0.08" in answer["reasons"][0]


def test_over_all_tiers_the_same_canary_passes(evaluate: Evaluate) -> None:
    whole = tier_guardrail("tiered")
    for role in ("canary", "baseline", "samples"):
        whole[role] = whole[role].replace("sum by (tier) ", "sum")
    del whole["segmentBy"]
    answer = run(evaluate, gate("healthy", guardrails=[whole]))
    (guardrail,) = answer["guardrails"]
    assert guardrail["verdict"] == "pass"
    assert guardrail["canary"] == pytest.approx(0.0089, rel=0.03)
    assert answer["action"] == "advance"


@pytest.mark.parametrize(
    ("app", "verdict", "lift", "action"),
    [
        ("lift-better", "better", 0.10, "promote"),
        ("lift-flat", "flat", 0.004, "promote"),
        ("lift-worse", "worse", -0.10, "hold"),
    ],
)
def test_a_success_metric_at_the_last_step(
    evaluate: Evaluate, app: str, verdict: str, lift: float, action: str
) -> None:
    answer = run(evaluate, gate("healthy", success_metrics=[conversion_metric(app)]), weight=100)
    (metric,) = answer["successMetrics"]
    assert (metric["verdict"], metric["lift"]) == (verdict, pytest.approx(lift, abs=0.002))
    assert metric["samples"] == pytest.approx(72_000, rel=0.01)
    assert metric["baselineSamples"] == pytest.approx(360_000, rel=0.01)
    assert answer["action"] == action
    # Worse at the last step: the promotion waits for a person's approval, without any
    # approval policy in the spec; better or flat promotes without one.
    assert answer["awaitsApproval"] == ("promote" if action == "hold" else None)
    if action == "hold":
        assert answer["weight"] == {"current": 100, "next": 100}
        assert answer["reasonCodes"][0] == "SuccessMetricHold"
        assert "worse than the baseline beyond the margin of 1.0%" in answer["reasons"][0]
        assert "lift -10.0%" in answer["reasons"][0]
        assert "over 72000 samples" in answer["reasons"][0]
        assert "a person may approve the promotion (canarygate approve" in answer["reasons"][0]


def test_a_manifest_carrying_the_promotions_approval_promotes(evaluate: Evaluate) -> None:
    """`canarygate evaluate` reads the approval from the manifest's annotation, as the operator
    does: the one for this revision's promotion lets worse conversion promote, another's not."""
    document = gate("healthy", success_metrics=[conversion_metric("lift-worse")])
    document["spec"]["canary"]["revision"] = "v7"
    document["metadata"]["annotations"] = {"canarygate.io/approve": "v6/promote, v7/50"}
    waiting = run(evaluate, document, weight=100)
    assert (waiting["action"], waiting["awaitsApproval"]) == ("hold", "promote")
    document["metadata"]["annotations"] = {"canarygate.io/approve": "v6/promote,v7/promote"}
    approved = run(evaluate, document, weight=100)
    assert (approved["action"], approved["weight"]["next"]) == ("promote", 100)
    assert approved["awaitsApproval"] is None
    assert approved["reasons"][0] == (
        "promote: the last step (100%) passed; success metric(s) conversion worse than the "
        "baseline, and a person approved the promotion"
    )


def test_a_failing_guardrail_is_never_for_a_person_to_approve(evaluate: Evaluate) -> None:
    """Worse conversion and a guardrail failing for one tier at the last step: the guardrail
    decides, and no approval is asked for."""
    document = gate(
        "healthy",
        guardrails=[tier_guardrail("tiered")],
        success_metrics=[conversion_metric("lift-worse")],
    )
    answer = run(evaluate, document, weight=100)
    assert answer["successMetrics"][0]["verdict"] == "worse"
    assert answer["action"] == "rollback"
    assert answer["awaitsApproval"] is None
    assert not any("a person may approve" in reason for reason in answer["reasons"])


def test_a_worse_success_metric_never_holds_a_ramp(evaluate: Evaluate) -> None:
    answer = run(
        evaluate, gate("healthy", success_metrics=[conversion_metric("lift-worse")]), weight=50
    )
    assert (answer["action"], answer["weight"]["next"]) == ("advance", 100)
    assert answer["successMetrics"][0]["verdict"] == "worse"
    assert answer["awaitsApproval"] is None


def test_an_immature_success_metric_holds_only_the_last_step(evaluate: Evaluate) -> None:
    document = gate("healthy", success_metrics=[conversion_metric("lift-sparse")])
    assert run(evaluate, document, weight=25)["action"] == "advance"
    last = run(evaluate, document, weight=100)
    assert last["action"] == "hold"
    assert last["successMetrics"][0]["verdict"] == "inconclusive"
    assert "immature: 360 canary samples (need 1000)" in last["reasons"][0]
    assert last["awaitsApproval"] is None  # immature evidence waits for evidence, not a person


def test_invalid_evidence_inside_one_segment_is_silence(evaluate: Evaluate) -> None:
    """Enterprise's good events read 0.08 % above its events (a differently filtered query):
    impossible, so that segment is unknown; the journey as a whole stays valid and green."""
    name, entry = segmented_journey("tenants", "tier")
    good = (
        'sum by (tier) (rate(http_requests_total{journey="tenants",code!~"5..",TIER}[{{window}}]))'
    )
    entry["sli"]["good"] = (
        good.replace("TIER", 'tier!="enterprise"')
        + " or 1.0008 * "
        + good.replace("TIER", 'tier="enterprise"')
    )
    answer = run(evaluate, gate((name, entry), factors={"customerNeutral": True}))
    tenants = journey(answer, "tenants")
    assert tenants["overall"] == "green"
    assert (answer["health"], answer["action"]) == ("unknown", "hold")
    enterprise = next(s for s in tenants["segments"] if s["segment"] == {"tier": "enterprise"})
    assert enterprise["health"] == "unknown"
    invalid = [
        reason
        for reason, code in zip(answer["reasons"], answer["reasonCodes"], strict=True)
        if code == "InvalidEvidence"
    ]
    assert invalid
    assert all("journey tenants in tier enterprise over" in r for r in invalid)


def test_a_judged_segment_gone_silent_holds_while_the_whole_still_answers(
    evaluate: Evaluate,
) -> None:
    """eu-west's exporter stopped 20 minutes ago: its short windows are silent. The journey as
    a whole still answers (us-east goes on) and is green; the segment is unknown, so the gate
    holds, as it would for a silent journey, and never rolls back on that silence."""
    answer = run(evaluate, gate(segmented_journey("quietregion", "region")))
    quiet = journey(answer, "quietregion")
    assert quiet["overall"] == "green"
    assert (answer["health"], answer["mode"], answer["action"]) == ("unknown", "hold", "hold")
    assert answer["weight"] == {"current": 25, "next": 25}
    silent = quiet["segments"][0]
    assert (silent["segment"], silent["health"]) == ({"region": "eu-west"}, "unknown")
    assert silent["burnRates"]["5m"] is None
    assert silent["burnRates"]["1h"] == pytest.approx(0.1, rel=0.05)  # the hour still has data
    assert silent["share"] == pytest.approx(0.3, rel=0.05)
    assert any(
        code == "Segment" and "journey quietregion unknown in region eu-west" in reason
        for reason, code in zip(answer["reasons"], answer["reasonCodes"], strict=True)
    )
    # A gate on the aggregate alone does not see it: the region went quiet, not the whole.
    whole = run(evaluate, gate("quietregion"))
    assert (whole["health"], whole["action"]) == ("green", "advance")


def test_more_segments_than_the_cap_is_refused_clearly(evaluate: Evaluate) -> None:
    answer = run(evaluate, gate(segmented_journey("regional", "region", maxSegments=2)))
    assert answer["action"] == "hold"
    assert answer["reasonCodes"][0] == "QueryError"
    assert answer["errors"]
    assert all(
        "3 segments by region, more than maxSegments 2" in e["message"] for e in answer["errors"]
    )


SIGNUP = Path(__file__).resolve().parents[2] / "examples" / "signup-gate.yaml"


def test_the_signup_example_freezes_on_one_region_and_promotes_on_conversion(
    evaluate: Evaluate,
) -> None:
    """examples/signup-gate.yaml on its fixture history, as the README shows it."""
    example: dict[str, Any] = yaml.safe_load(SIGNUP.read_text())
    now = run(evaluate, example, weight=50)
    assert (now["health"], now["mode"], now["action"]) == ("red", "freeze", "hold")
    signup = journey(now, "signup")
    assert signup["overall"] == "green"
    assert [s["segment"]["region"] for s in signup["segments"]] == ["eu-west", "us-east", "us-west"]
    assert signup["segmentsIgnored"] == 1  # ap-south: 0.02 % of signups, failing 30 %
    assert now["reasons"][2].startswith(
        "journey signup red in region eu-west (burn 50 over 1h), green overall: "
    )
    billing = journey(now, "billing")
    enterprise = next(s for s in billing["segments"] if s["segment"] == {"tier": "enterprise"})
    assert (enterprise["objective"], enterprise["health"]) == (99.95, "green")
    assert enterprise["burnRates"]["1h"] == pytest.approx(0.4, rel=0.02)
    (guardrail,) = now["guardrails"]
    assert guardrail["verdict"] == "pass"
    assert len(guardrail["segments"]) == 2
    (metric,) = now["successMetrics"]
    assert (metric["verdict"], metric["lift"]) == ("better", pytest.approx(0.04, abs=0.002))
    # Two hours earlier eu-west was fine: the last step (50 %) promotes on conversion.
    earlier = evaluate(example, "--weight", "50", at="2026-01-15T10:00:00Z")
    assert earlier.code == 0, earlier.stderr
    assert (earlier.document["action"], earlier.document["weight"]["next"]) == ("promote", 100)
