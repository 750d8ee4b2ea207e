"""From a Decision to the CanaryGate status, and what counts as a change worth writing.

Pure: the operator passes the clock in. The status holds what a restarted operator needs to
resume exactly (weight, phase, passes, failure counts, revision, a pending intent) and what a
person needs to understand the rollout (evidence, conditions, a bounded history).

Writing only on change: `significant()` reduces a status to the fields whose change must be
written at once. Evidence that moves on every tick (burn rates, guardrail values, reasons
with numbers) is refreshed whenever something significant changes, and otherwise only by a
bounded heartbeat.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from canarygate.api.memory import checks_status, freeze_status, significant_checks
from canarygate.core.decisions import Decision
from canarygate.core.exposure import ExposureAssessment
from canarygate.core.guardrails import GuardrailAssessment
from canarygate.core.health import JourneyAssessment
from canarygate.core.success import SuccessAssessment
from canarygate.core.vocabulary import Action
from canarygate.core.windows import WindowJudged

HISTORY_LIMIT: Final = 50
MESSAGE_LIMIT: Final = 1024
REASONS_LIMIT: Final = 20
# Worst segments named per journey or guardrail in status (`evaluate -o json` lists them all).
STATUS_SEGMENTS: Final = 3


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)


def _clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def evidence(decision: Decision) -> dict[str, Any]:
    """The decision's findings as status fields (camelCase, JSON-ready)."""
    return {
        "health": str(decision.health),
        "risk": str(decision.risk.risk),
        "mode": str(decision.mode),
        "action": str(decision.action),
        "score": _number(decision.score),
        "message": _clip(decision.reasons[0].message) if decision.reasons else "",
        "reasons": [_clip(r.message) for r in decision.reasons[:REASONS_LIMIT]],
        "reasonCodes": [str(r.code) for r in decision.reasons[:REASONS_LIMIT]],
        "journeys": [_journey(j) for j in decision.journeys],
        "guardrails": [_guardrail(g) for g in decision.guardrails],
        "successMetrics": [_success_metric(m) for m in decision.success_metrics],
        "windows": [_window(w) for w in decision.windows if w.in_force],
        "exposure": _exposure(decision.exposure),
        # Memory the next evaluation decides from (core.state): written with the evidence.
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
        "window": exposure.window.text,
        "finding": _clip(exposure.finding),
    }


def _window(judged: WindowJudged) -> dict[str, Any]:
    def local(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat(timespec="minutes")

    return {
        "name": judged.window.name,
        "effect": str(judged.window.effect),
        "timeZone": judged.window.time_zone,
        "localTime": local(judged.local),
        "until": local(judged.until),
        "detail": _clip(judged.describe()),
    }


def _journey(j: JourneyAssessment) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": j.name,
        "health": str(j.health),
        "burnRates": {w: _number(r) for w, r in j.burn_rate_map().items()},
        "budgetRemaining": _number(j.budget_remaining),
    }
    if j.rules_fired:
        found["rulesFired"] = list(j.rules_fired)
    if j.segmented:
        found |= {
            "overall": str(j.overall),
            "segmentBy": list(j.segment_labels),
            "segments": [
                {
                    "segment": s.labelled(),
                    "health": str(s.health),
                    "objective": s.objective_percent,
                    "share": _number(s.share),
                    "burnRates": {w: _number(r) for w, r in s.burn_rate_map().items()},
                    "budgetRemaining": _number(s.budget_remaining),
                }
                for s in j.segments[:STATUS_SEGMENTS]
            ],
            "segmentsJudged": len(j.segments),
            "segmentsIgnored": j.segments_ignored,
        }
    return found


def _guardrail(g: GuardrailAssessment) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": g.name,
        "verdict": str(g.verdict),
        "canary": _number(g.canary),
        "baseline": _number(g.baseline),
        "samples": _number(g.samples),
        "consecutiveFailures": g.consecutive_failures,
    }
    if g.segment_labels:
        found["segments"] = [
            {
                "segment": s.labelled(),
                "verdict": str(s.verdict),
                "canary": _number(s.canary),
                "baseline": _number(s.baseline),
                "samples": _number(s.samples),
            }
            for s in g.segments[:STATUS_SEGMENTS]
        ]
        found["segmentsIgnored"] = g.segments_ignored
    return found


def _success_metric(m: SuccessAssessment) -> dict[str, Any]:
    return {
        "name": m.name,
        "verdict": str(m.verdict),
        "lift": _number(m.lift),
        "canary": _number(m.canary),
        "baseline": _number(m.baseline),
        "samples": _number(m.samples),
        "baselineSamples": _number(m.baseline_samples),
    }


def counters(decision: Decision) -> dict[str, Any]:
    """The core state after the decision, except the weight (written once traffic moved)."""
    return {
        "phase": str(decision.state.phase),
        "consecutivePasses": decision.state.consecutive_passes,
    }


@dataclass(frozen=True)
class ConditionUpdate:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def merge_conditions(
    current: Sequence[Mapping[str, Any]] | None,
    updates: Sequence[ConditionUpdate],
    *,
    now: datetime,
    generation: int | None,
) -> list[dict[str, Any]]:
    """Apply `updates` to `current`; lastTransitionTime moves only when the status changes."""
    merged: dict[str, dict[str, Any]] = {str(c["type"]): dict(c) for c in current or []}
    for update in updates:
        before = merged.get(update.type)
        moved = before is None or before.get("status") != update.status
        merged[update.type] = {
            "type": str(update.type),
            "status": str(update.status),
            "reason": str(update.reason),
            "message": _clip(update.message),
            "lastTransitionTime": rfc3339(now) if moved else before["lastTransitionTime"],  # type: ignore[index]
            **({"observedGeneration": generation} if generation is not None else {}),
        }
    return sorted(merged.values(), key=lambda c: str(c["type"]))


def history_entry(
    decision: Decision, *, weight_from: int, weight_to: int, now: datetime
) -> dict[str, Any]:
    return {
        "time": rfc3339(now),
        "action": str(decision.action),
        "health": str(decision.health),
        "risk": str(decision.risk.risk),
        "mode": str(decision.mode),
        "weightFrom": weight_from,
        "weightTo": weight_to,
        "reason": _clip(decision.reasons[0].message, 512) if decision.reasons else "",
    }


def appended(
    history: Sequence[Mapping[str, Any]] | None, entry: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """History with `entry` last, the oldest dropped beyond the limit."""
    return [*(dict(h) for h in history or []), dict(entry)][-HISTORY_LIMIT:]


# Fields whose change is written at once; the rest waits for the heartbeat.
SIGNIFICANT_FIELDS: Final = (
    "phase",
    "health",
    "risk",
    "mode",
    "action",
    "weight",
    "revision",
    "consecutivePasses",
    "intent",
    "reasonCodes",
    "freeze",
    "verdict",  # judge-only gates: the verdict and each caller's answer (not when it was asked)
)


def significant(status: Mapping[str, Any]) -> str:
    """A digest of what must be written when it changes: the fields above, each guardrail's
    verdict and failure count, each journey's health (and its worst segment's), each success
    metric's verdict, and each condition's status and reason."""
    # A null in a merge patch deletes its key, so the status read back has no key where the
    # one written said null: both must digest alike, or the gate is written every evaluation.
    view = {name: _without_nulls(status.get(name)) for name in SIGNIFICANT_FIELDS}
    view["guardrails"] = [
        (g.get("name"), g.get("verdict"), g.get("consecutiveFailures"))
        for g in status.get("guardrails") or []
    ]
    view["journeys"] = [
        (j.get("name"), j.get("health"), _worst_segment(j)) for j in status.get("journeys") or []
    ]
    view["exposure"] = (status.get("exposure") or {}).get("state")
    view["windows"] = [(w.get("name"), w.get("effect")) for w in status.get("windows") or []]
    view["successMetrics"] = [
        (m.get("name"), m.get("verdict")) for m in status.get("successMetrics") or []
    ]
    view["checks"] = significant_checks(status.get("checks"))
    view["conditions"] = [
        (c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or []
    ]
    encoded = json.dumps(view, sort_keys=True, default=str).encode()
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _worst_segment(journey: Mapping[str, Any]) -> Any:
    """Which segment is worst and how: a new one going red is news, its numbers are not."""
    segments = journey.get("segments") or []
    return [segments[0].get("segment"), segments[0].get("health")] if segments else None


def moves_traffic(action: Action) -> bool:
    return action in (Action.ADVANCE, Action.PROMOTE, Action.ROLLBACK)
