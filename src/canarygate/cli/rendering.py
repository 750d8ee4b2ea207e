"""Render a Decision as the stable JSON document (see DESIGN "CLI contract") or a table.

The table is for a terminal: every text in it that came from a spec or from Prometheus
(names, reasons, findings) goes through `printable`, so none can forge a line or an escape
sequence. JSON escapes control characters by itself.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from canarygate.api.memory import checks_status, freeze_status
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.sanitising import printable
from canarygate.core.decisions import Decision
from canarygate.core.durations import Duration
from canarygate.core.explaining import describe_freshness
from canarygate.core.exposure import ExposureAssessment
from canarygate.core.guardrails import GuardrailAssessment
from canarygate.core.health import JourneyAssessment
from canarygate.core.segments import SegmentAssessment
from canarygate.core.success import SuccessAssessment
from canarygate.core.vocabulary import Lift, Verdict
from canarygate.core.windows import WindowJudged

# Worst segments shown under a journey or guardrail in the table (JSON lists them all).
TABLE_SEGMENTS = 3


def _number(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def decision_document(gate: CanaryGate, decision: Decision) -> dict[str, Any]:
    """The JSON contract. Keys listed in DESIGN.md are stable; extra keys may be added."""
    return {
        "gate": f"{gate.namespace}/{gate.name}",
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


def freshness_lines(decision: Decision) -> list[str]:
    """`Data:    checkout 12s old, login stale 7m05s (maxSampleAge 5m)`."""
    ages = [f"{f.journey} {describe_freshness(f)}" for f in decision.freshness if f.measured]
    if not ages:
        return []
    bound = decision.freshness[0].max_age
    return [printable(f"Data:    newest samples: {', '.join(ages)} (maxSampleAge {bound})")]


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


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def decision_table(gate: CanaryGate, decision: Decision) -> str:
    """Human view: the answer first, then why, then the evidence."""
    weight = f"{decision.weight_current}% -> {decision.weight_next}%"
    lines = [
        f"Gate:    {gate.namespace}/{gate.name}   at {decision.at.isoformat()}",
        f"Action:  {str(decision.action).upper()}   weight {weight}",
        f"Health:  {decision.health}   Risk: {decision.risk.risk} ({decision.risk.because})"
        f"   Mode: {decision.mode}",
        *(f"Window:  {w.describe()} in force" for w in decision.windows if w.in_force),
        *(
            [f"Exposure: {decision.exposure.state}: {decision.exposure.finding}"]
            if decision.exposure is not None
            else []
        ),
        "",
        "Why:",
        *(f"  - {reason.message}" for reason in decision.reasons),
        "",
    ]
    lines = [printable(line) for line in lines]
    lines += _journey_table(decision)
    lines += freshness_lines(decision)
    if decision.guardrails:
        lines.append("")
        rows = [row for g in decision.guardrails for row in _guardrail_rows(g)]
        headers = [
            "GUARDRAIL",
            "SEVERITY",
            "VERDICT",
            "CANARY",
            "BASELINE",
            "SAMPLES",
            "FAILS",
            "FINDING",
        ]
        lines += _table(headers, rows)
    if decision.success_metrics:
        lines.append("")
        lines += _success_table(decision.success_metrics)
    return "\n".join(printable(line) for line in lines)


BurnRates = tuple[tuple[Duration, float | None], ...]


def _burn_row(
    cells: tuple[str, str, float, str],
    burns: BurnRates,
    budget: float | None,
    windows: list[Duration],
) -> list[str]:
    name, critical, objective, health = cells
    known = dict(burns)
    return [
        name,
        critical,
        f"{objective:g}%",
        health,
        *(_fmt(known.get(w)) for w in windows),
        _fmt(budget, ".1%"),
    ]


def _journey_table(decision: Decision) -> list[str]:
    """One row per journey; under a segmented one, its worst segments, indented."""
    windows = sorted({w for j in decision.journeys for w, _ in j.burn_rates})
    rows: list[list[str]] = []
    for j in decision.journeys:
        health = f"{j.health} ({j.overall} overall)" if j.segmented else str(j.health)
        cells = (j.name, "yes" if j.critical else "no", j.objective_percent, health)
        rows.append(_burn_row(cells, j.burn_rates, j.budget_remaining, windows))
        for s in j.segments[:TABLE_SEGMENTS]:
            cells = (f"  {s.name}", "", s.objective_percent, str(s.health))
            rows.append(_burn_row(cells, s.burn_rates, s.budget_remaining, windows))
        hidden = len(j.segments) - TABLE_SEGMENTS
        if j.segmented and (hidden > 0 or j.segments_ignored):
            notes = [f"+{hidden} more"] * (hidden > 0)
            notes += [f"{j.segments_ignored} too small to judge"] * bool(j.segments_ignored)
            more = "  " + ", ".join(notes)
            rows.append([more, *([""] * (4 + len(windows)))])
    headers = ["JOURNEY", "CRITICAL", "SLO", "HEALTH", *(f"BURN {w}" for w in windows), "BUDGET"]
    return _table(headers, rows)


def _verdict(verdict: Verdict) -> str:
    return str(verdict).upper() if verdict is not Verdict.PASS else "pass"


def _guardrail_rows(g: GuardrailAssessment) -> list[list[str]]:
    rows = [
        [
            g.name,
            str(g.severity),
            _verdict(g.verdict),
            _fmt(g.canary, ".4g"),
            _fmt(g.baseline, ".4g"),
            _fmt(g.samples, ".4g"),
            f"{g.consecutive_failures}/{g.failure_limit}",
            g.finding,
        ]
    ]
    for s in g.segments[:TABLE_SEGMENTS]:
        rows.append(
            [
                f"  {s.name}",
                "",
                _verdict(s.verdict),
                _fmt(s.canary, ".4g"),
                _fmt(s.baseline, ".4g"),
                _fmt(s.samples, ".4g"),
                "",
                s.finding,
            ]
        )
    return rows


def _success_table(metrics: tuple[SuccessAssessment, ...]) -> list[str]:
    rows = [
        [
            m.name,
            f"{m.direction} is better",
            str(m.verdict).upper() if m.verdict is Lift.WORSE else str(m.verdict),
            "-" if m.lift is None else f"{m.lift:+.1%}",
            _fmt(m.canary, ".4g"),
            _fmt(m.baseline, ".4g"),
            f"{_fmt(m.samples, '.6g')}/{_fmt(m.baseline_samples, '.6g')}",
            "yes" if m.allows_promotion else "no",
        ]
        for m in metrics
    ]
    headers = [
        "SUCCESS METRIC",
        "DIRECTION",
        "VERDICT",
        "LIFT",
        "CANARY",
        "BASELINE",
        "SAMPLES",
        "PROMOTES",
    ]
    return _table(headers, rows)
