"""A Decision as the stable JSON document of the CLI contract (DESIGN.md, `canarygate evaluate
-o json`), shared by the CLI and the verdict API so both say the same thing the same way.
Keys listed in DESIGN.md are stable; extra keys may be added."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from canarygate.api.memory import checks_status, freeze_status
from canarygate.core.decisions import Decision
from canarygate.core.exposure import ExposureAssessment
from canarygate.core.guardrails import GuardrailAssessment
from canarygate.core.health import JourneyAssessment
from canarygate.core.segments import SegmentAssessment
from canarygate.core.success import SuccessAssessment
from canarygate.core.windows import WindowJudged


def _number(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def decision_document(gate: str, decision: Decision) -> dict[str, Any]:
    """The JSON contract for the gate named `gate` (NAMESPACE/NAME)."""
    return {
        "gate": gate,
        "at": decision.at.isoformat().replace("+00:00", "Z"),
        "health": str(decision.health),
        "risk": str(decision.risk.risk),
        "mode": str(decision.mode),
        "action": str(decision.action),
        "weight": {"current": decision.weight_current, "next": decision.weight_next},
        "reasons": [reason.message for reason in decision.reasons],
        "reasonCodes": [str(reason.code) for reason in decision.reasons],
        "score": _number(decision.score),
        "journeys": [_with_freshness(_journey(j), decision) for j in decision.journeys],
        "guardrails": [_guardrail(g) for g in decision.guardrails],
        "successMetrics": [_success_metric(m) for m in decision.success_metrics],
        # Every peak or freeze window of the gate: whether it applies now, and until when.
        "windows": [_window(w) for w in decision.windows],
        # The share of requests the canary served against its route's weight; null when the
        # gate declares no exposure queries.
        "exposure": _exposure(decision.exposure),
        # The Error outcome: queries Prometheus refused. Empty when there were none.
        "errors": [
            {
                "subject": problem.key.subject,
                "role": str(problem.key.role),
                "window": problem.key.window.text if problem.key.window else None,
                "query": problem.query,
                "message": problem.message,
            }
            for problem in decision.errors
        ],
        # Checks that block a step (as status.checks), and a red episode's freeze (as
        # status.freeze; null when none is in progress).
        "checks": checks_status(decision.checks),
        "freeze": freeze_status(decision.state.freeze, decision.cooldown_until),
        # The move this hold makes once a person approves it, whatever the gate's approval
        # policy ("promote": only success metrics worse than the baseline hold the last
        # step); null otherwise.
        "awaitsApproval": (
            None if decision.awaits_approval is None else str(decision.awaits_approval)
        ),
    }


def _exposure(exposure: ExposureAssessment | None) -> dict[str, Any] | None:
    if exposure is None:
        return None
    return {
        "state": str(exposure.state),
        "routeWeight": exposure.route_weight,
        "served": _number(exposure.served),
        "canary": _number(exposure.canary),
        "total": _number(exposure.total),
        "tolerance": exposure.tolerance,
        "window": exposure.window.text,
        "blocks": exposure.blocks,
        "finding": exposure.finding,
    }


def _window(judged: WindowJudged) -> dict[str, Any]:
    def local(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat(timespec="minutes")

    return {
        "name": judged.window.name,
        "effect": str(judged.window.effect),
        "timeZone": judged.window.time_zone,
        "applies": judged.applies,
        "inForce": judged.in_force,
        "localTime": local(judged.local),
        "until": local(judged.until),
        "detail": judged.describe(),
    }


def _journey(journey: JourneyAssessment) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": journey.name,
        "health": str(journey.health),
        "critical": journey.critical,
        "objective": journey.objective_percent,
        "burnRates": {w: _number(r) for w, r in journey.burn_rate_map().items()},
        "budgetRemaining": _number(journey.budget_remaining),
        # The combined rules (spec.health.rules) that put the journey at its health.
        "rulesFired": list(journey.rules_fired),
    }
    if journey.segmented:
        # Additive keys: `health` is the worst of the whole and the segments, `overall` the
        # journey over all of its traffic (what `burnRates` above describe).
        found |= {
            "segmentBy": list(journey.segment_labels),
            "overall": str(journey.overall),
            "segments": [_segment(s) for s in journey.segments],
            "segmentsIgnored": journey.segments_ignored,
        }
    return found


def _with_freshness(document: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """An additive key: how old the journey's newest sample was, and whether that was stale."""
    found = next((f for f in decision.freshness if f.journey == document["name"]), None)
    if found is not None:
        document["freshness"] = {
            "newestSampleAge": _number(found.age_seconds),
            "maxSampleAge": found.max_age.text,
            "stale": found.stale,
            "measured": found.measured,
            "detail": found.detail,
        }
    return document


def _segment(segment: SegmentAssessment) -> dict[str, Any]:
    return {
        "segment": segment.labelled(),
        "health": str(segment.health),
        "objective": segment.objective_percent,
        "share": _number(segment.share),
        "burnRates": {w: _number(r) for w, r in segment.burn_rate_map().items()},
        "budgetRemaining": _number(segment.budget_remaining),
        "findings": list(segment.findings),
    }


def _guardrail(g: GuardrailAssessment) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": g.name,
        "verdict": str(g.verdict),
        "canary": _number(g.canary),
        "baseline": _number(g.baseline),
        "samples": _number(g.samples),
        "severity": str(g.severity),
        "consecutiveFailures": g.consecutive_failures,
        "finding": g.finding,
    }
    if g.segment_labels:
        found |= {
            "segmentBy": list(g.segment_labels),
            "segments": [
                {
                    "segment": s.labelled(),
                    "verdict": str(s.verdict),
                    "canary": _number(s.canary),
                    "baseline": _number(s.baseline),
                    "samples": _number(s.samples),
                    "finding": s.finding,
                }
                for s in g.segments
            ],
            "segmentsIgnored": g.segments_ignored,
        }
    return found


def _success_metric(m: SuccessAssessment) -> dict[str, Any]:
    return {
        "name": m.name,
        "verdict": str(m.verdict),
        "direction": str(m.direction),
        "lift": _number(m.lift),
        "canary": _number(m.canary),
        "baseline": _number(m.baseline),
        "samples": _number(m.samples),
        "baselineSamples": _number(m.baseline_samples),
        "margin": m.margin,
        "minLift": m.min_lift,
        "allowsPromotion": m.allows_promotion,
        "finding": m.finding,
    }
