"""Release risk: declared, or derived from the risk factors when the level is `auto`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from canarygate.core.specs import RiskSpec
from canarygate.core.vocabulary import Risk, RiskLevel
from canarygate.core.windows import WindowJudged

HIGH_RISK_TIERS = frozenset({"critical"})
HIGH_RISK_CHANGE_TYPES = frozenset({"infra", "schema-migration"})


@dataclass(frozen=True)
class RiskAssessment:
    risk: Risk
    declared: bool
    because: str


def assess_risk(spec: RiskSpec) -> RiskAssessment:
    if spec.level is not RiskLevel.AUTO:
        return RiskAssessment(Risk(spec.level.value), True, f"declared {spec.level}")
    factors = spec.factors
    raised: list[str] = []
    if factors.tier in HIGH_RISK_TIERS:
        raised.append(f"tier is {factors.tier}")
    if factors.change_type in HIGH_RISK_CHANGE_TYPES:
        raised.append(f"change type is {factors.change_type}")
    if raised:
        return RiskAssessment(Risk.HIGH, False, "auto: " + " and ".join(raised))
    shown = ", ".join(
        f"{name}={value}"
        for name, value in (("tier", factors.tier), ("changeType", factors.change_type))
        if value is not None
    )
    return RiskAssessment(Risk.LOW, False, f"auto: no high-risk factor ({shown or 'none given'})")


def raised_by_windows(risk: RiskAssessment, raising: Sequence[WindowJudged]) -> RiskAssessment:
    """A high-risk window in force makes the release's risk high, whatever it was."""
    if not raising:
        return risk
    names = ", ".join(j.window.name for j in raising)
    if risk.risk is Risk.HIGH:
        return RiskAssessment(Risk.HIGH, risk.declared, f"{risk.because}; window {names} too")
    return RiskAssessment(
        Risk.HIGH, risk.declared, f"high-risk window {names} in force; otherwise {risk.because}"
    )
