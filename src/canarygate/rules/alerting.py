"""Multi-window, multi-burn-rate alerts for a journey, from the gate's own health policy: its
red burn-rate rules page, its yellow ones open a ticket (the SRE workbook's and Sloth's two
severities). A rule fires when both of its windows burn at or above its threshold, as the gate
judges it, so the alert that pages a human and the gate that freezes a rollout read the same
recorded numbers and the same thresholds."""

from __future__ import annotations

from typing import Any

from canarygate.core.specs import BurnRateRule, JourneySpec
from canarygate.rules.naming import SloIdentity


def _condition(rule: BurnRateRule, identity: SloIdentity, budget: float) -> str:
    # 12 significant digits: `0.001`, not the float's `0.00099999999999989` (1 - 0.999).
    bound = f"({rule.threshold:g} * {budget:.12g})"
    return (
        "(\n"
        f"    ({identity.ratio(rule.short)} >= {bound})\n"
        "    and ignoring (sloth_window)\n"
        f"    ({identity.ratio(rule.long)} >= {bound})\n"
        ")"
    )


def burn_alert(
    journey: JourneySpec,
    identity: SloIdentity,
    rules: tuple[BurnRateRule, ...],
    severity: str,
) -> dict[str, Any] | None:
    if not rules:
        return None
    budget = 1 - journey.objective_percent / 100
    expression = "\nor ignoring (sloth_window)\n".join(
        _condition(rule, identity, budget) for rule in rules
    )
    described = "; ".join(rule.label for rule in rules)
    service, slo = "{{$labels.sloth_service}}", "{{$labels.sloth_slo}}"
    return {
        "alert": identity.alert_name,
        "expr": expression + "\n",
        "labels": {"sloth_severity": severity, "severity": severity},
        "annotations": {
            "summary": f"{service} {slo} SLO error budget burn rate is over expected.",
            "title": f"({severity}) {service} {slo} SLO error budget burn rate is too fast.",
            "canarygate_rules": described,
        },
    }


def alert_group(
    journey: JourneySpec,
    identity: SloIdentity,
    red: tuple[BurnRateRule, ...],
    yellow: tuple[BurnRateRule, ...],
) -> dict[str, Any] | None:
    alerts = [
        alert
        for alert in (
            burn_alert(journey, identity, red, "page"),
            burn_alert(journey, identity, yellow, "ticket"),
        )
        if alert is not None
    ]
    if not alerts:
        return None
    return {"name": f"sloth-slo-alerts-{identity.id}", "rules": alerts}
