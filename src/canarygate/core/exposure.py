"""Proof of exposure: did the canary actually serve the share of requests its route gives it?

A controller that moved a route's weight has not proved the canary was exposed: pods that
crash-loop, are not ready, or are pinned away by session affinity may serve 2 % of requests
behind a route that says 25 %, and few requests mean few errors, so a canary that was never
really tried looks clean. Each evaluation therefore measures the share the canary served,
`canary / total` over the exposure window (`spec.canary.exposure`), and compares it with the
route's weight:

- within `tolerance` of the weight (relative: 0.5 accepts 10 % to 30 % for a route at 20 %):
  exposure is **proven**;
- outside it: a **mismatch**, evidence of its own: the gate holds, never promotes and never
  counts a pass, saying `route 25%, canary served 2.1% over 5m`;
- below a tenth of the weight, or no canary series at all while requests flow: the canary's
  telemetry is **silent** (far fewer requests than its weight implies); silence, not health:
  the gate holds the same way;
- nothing to measure with (no requests at all, no answer, impossible numbers): **unknown**,
  silence too. Exposure that is unknown is never a pass.

At 0 % the canary is not meant to serve, so nothing is judged (what it served is reported).
Nor is it judged for a gate that only observes (`spec.enforcement: observe`): canarygate set
no route, so the weight in its status is the one it would have set, not the route's, and a
share measured against it proves nothing either way; what the canary served is reported.
None of these ever rolls back: a measured guardrail failure does that, not exposure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from canarygate.core.durations import Duration
from canarygate.core.observations import Missing, MissingKind, Observations, QueryKey, Role, lookup
from canarygate.core.specs import ExposureSpec

# Below this fraction of the share its weight implies, the canary's telemetry counts as silent.
SILENT_BELOW = 0.1
# Counter rates over one window may disagree by a sliver: canary up to 1 % above total is read
# as all of it, more is impossible (the queries count different things).
_CANARY_OVER_TOTAL = 1.01


class Exposure(StrEnum):
    PROVEN = "proven"
    MISMATCH = "mismatch"
    SILENT = "silent"
    UNKNOWN = "unknown"
    NOT_JUDGED = "not-judged"  # at 0 %: the canary is not meant to serve


def exposure_key(role: Role) -> QueryKey:
    """An exposure query's key: roles of its own, so no guardrail's name can share it."""
    return QueryKey("exposure", role)


@dataclass(frozen=True)
class ExposureAssessment:
    state: Exposure
    route_weight: int  # percent
    served: float | None  # the canary's share of requests, 0..1
    canary: float | None
    total: float | None
    tolerance: float
    window: Duration
    finding: str
    invalid_evidence: bool = False

    @property
    def blocks(self) -> bool:
        """Whether it holds the gate: anything but proven, once the canary has a weight."""
        return self.state in (Exposure.MISMATCH, Exposure.SILENT, Exposure.UNKNOWN)

    @property
    def bounds(self) -> tuple[float, float]:
        """The served share that proves exposure, as fractions."""
        expected = self.route_weight / 100
        return expected * (1 - self.tolerance), expected * (1 + self.tolerance)


def judge_exposure(
    spec: ExposureSpec,
    weight: int,
    window: Duration,
    observations: Observations,
    *,
    observing: bool = False,
) -> ExposureAssessment:
    """The canary's exposure at `weight`; `observing`: the gate only observes (measured and
    reported, never judged)."""
    judged = _judge(spec, weight, window, observations)
    if not observing or judged.state is Exposure.NOT_JUDGED:
        return judged
    return replace(
        judged,
        state=Exposure.NOT_JUDGED,
        finding=f"{judged.finding} (not judged: observe only, canarygate set no route)",
    )


def _judge(
    spec: ExposureSpec, weight: int, window: Duration, observations: Observations
) -> ExposureAssessment:
    canary = lookup(observations, exposure_key(Role.EXPOSURE_CANARY))
    total = lookup(observations, exposure_key(Role.EXPOSURE_TOTAL))
    route = f"route {weight}%"

    def found(
        state: Exposure, finding: str, served: float | None = None, *, invalid: bool = False
    ) -> ExposureAssessment:
        return ExposureAssessment(
            state,
            weight,
            served,
            None if isinstance(canary, Missing) else canary,
            None if isinstance(total, Missing) else total,
            spec.tolerance,
            window,
            finding,
            invalid,
        )

    problem = _impossible(canary, total)
    if problem is not None:
        state = Exposure.UNKNOWN if weight else Exposure.NOT_JUDGED
        return found(state, f"{route}; invalid evidence: {problem}", invalid=True)
    if isinstance(total, Missing):
        what = "no series" if total.kind is MissingKind.NO_DATA else "unknown"
        why = f"{route}; exposure unknown: total requests over {window} {what} ({total.describe()})"
        return found(Exposure.UNKNOWN if weight else Exposure.NOT_JUDGED, why)
    if total == 0:
        why = f"{route}; exposure unknown: no requests at all over {window}"
        return found(Exposure.UNKNOWN if weight else Exposure.NOT_JUDGED, why)
    if isinstance(canary, Missing):
        if weight == 0:
            return found(Exposure.NOT_JUDGED, f"{route}; canary requests unknown at 0%")
        if canary.kind is MissingKind.NO_DATA:
            why = (
                f"{route}, but no canary requests over {window} while {total:.6g} requests "
                "flowed: the canary's telemetry is silent (silence, not health)"
            )
            return found(Exposure.SILENT, why, 0.0)
        why = f"{route}; exposure unknown: canary requests unknown ({canary.describe()})"
        return found(Exposure.UNKNOWN, why)
    served = min(1.0, canary / total)
    measured = f"{route}, canary served {served:.1%} over {window}"
    if weight == 0:
        return found(Exposure.NOT_JUDGED, f"{measured} (not judged at 0%)", served)
    expected = weight / 100
    low, high = expected * (1 - spec.tolerance), expected * (1 + spec.tolerance)
    if served < expected * SILENT_BELOW:
        why = (
            f"{measured}: less than a tenth of what its weight implies; the canary's "
            "telemetry is nearly silent (silence, not health)"
        )
        return found(Exposure.SILENT, why, served)
    if not low <= served <= high:
        why = f"{measured} (outside {low:.1%} to {high:.1%}, tolerance ±{spec.tolerance:.0%})"
        return found(Exposure.MISMATCH, why, served)
    return found(Exposure.PROVEN, f"{measured} (within {low:.1%} to {high:.1%})", served)


def _impossible(canary: float | Missing, total: float | Missing) -> str | None:
    """Counts that cannot be true: negative, or more canary requests than requests."""
    for name, value in (("canary", canary), ("total", total)):
        if isinstance(value, float) and value < 0:
            return f"{name} requests {value:.6g} are negative"
    if (
        isinstance(canary, float)
        and isinstance(total, float)
        and canary > total * _CANARY_OVER_TOTAL
        and canary > 0
    ):
        return (
            f"canary requests {canary:.6g} > total {total:.6g}; exposure.total must count "
            "every request, the canary's included"
        )
    return None
