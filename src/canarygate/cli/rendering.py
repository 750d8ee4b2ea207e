"""Render a Decision as the stable JSON document (see DESIGN "CLI contract") or a table.

The table is for a terminal: every text in it that came from a spec or from Prometheus
(names, reasons, findings) goes through `printable`, so none can forge a line or an escape
sequence. JSON escapes control characters by itself.
"""

from __future__ import annotations

import math
from typing import Any

from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.sanitising import printable
from canarygate.core.decisions import Decision
from canarygate.core.health import JourneyAssessment
from canarygate.core.vocabulary import Verdict


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
        "journeys": [_journey(j) for j in decision.journeys],
        "guardrails": [
            {
                "name": g.name,
                "verdict": str(g.verdict),
                "canary": _number(g.canary),
                "baseline": _number(g.baseline),
                "samples": _number(g.samples),
                "severity": str(g.severity),
                "consecutiveFailures": g.consecutive_failures,
                "finding": g.finding,
            }
            for g in decision.guardrails
        ],
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
    }


def _journey(journey: JourneyAssessment) -> dict[str, Any]:
    return {
        "name": journey.name,
        "health": str(journey.health),
        "critical": journey.critical,
        "objective": journey.objective_percent,
        "burnRates": {w: _number(r) for w, r in journey.burn_rate_map().items()},
        "budgetRemaining": _number(journey.budget_remaining),
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
        "",
        "Why:",
        *(f"  - {reason.message}" for reason in decision.reasons),
        "",
    ]
    lines = [printable(line) for line in lines]
    windows = sorted({w for j in decision.journeys for w, _ in j.burn_rates})
    rows = [
        [
            j.name,
            "yes" if j.critical else "no",
            f"{j.objective_percent:g}%",
            str(j.health),
            *(_fmt(dict(j.burn_rates).get(w)) for w in windows),
            _fmt(j.budget_remaining, ".1%"),
        ]
        for j in decision.journeys
    ]
    headers = ["JOURNEY", "CRITICAL", "SLO", "HEALTH", *(f"BURN {w}" for w in windows), "BUDGET"]
    lines += _table(headers, rows)
    if decision.guardrails:
        lines.append("")
        rows = [
            [
                g.name,
                str(g.severity),
                str(g.verdict).upper() if g.verdict is not Verdict.PASS else "pass",
                _fmt(g.canary, ".4g"),
                _fmt(g.baseline, ".4g"),
                _fmt(g.samples, ".4g"),
                f"{g.consecutive_failures}/{g.failure_limit}",
                g.finding,
            ]
            for g in decision.guardrails
        ]
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
    return "\n".join(printable(line) for line in lines)
