"""Data freshness: how old the newest sample behind each journey's SLI is, and what stale data
means for the decision.

A `rate()` over a long window still answers for a long time after an exporter stopped: the
hour-long window of a journey whose data ended 40 minutes ago looks like a measurement. So
each journey also asks how old the newest sample of the series its `sli.total` reads is
(`core.selectors` finds them), with one query per evaluation, packed with the journey's own:

    time() - max(timestamp(<selector>) or max_over_time(timestamp(<selector>)[1h:1m]))

(with several selectors, the stalest of them). An age above the gate's `maxSampleAge`
(default 5m, Prometheus' own lookback for an instant selector), or no sample within the last
hour, makes the journey's data stale: the journey counts as silence (unknown health, whatever
its old numbers said), and the reasons say how old its data is. Its burn rates are still
reported. An age that was asked for and not answered (unreachable, refused, malformed) is
silence too: the windows may have answered, but nothing says they are current. A journey
whose selectors cannot be found is "not measured", never stale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from canarygate.core.decisions import Reason, ReasonCode
from canarygate.core.durations import Duration
from canarygate.core.health import JourneyAssessment
from canarygate.core.observations import Missing, MissingKind, Observations, QueryKey, Role
from canarygate.core.selectors import window_selectors
from canarygate.core.specs import GateSpec, HealthPolicy, JourneySpec
from canarygate.core.vocabulary import Health

# How far back the newest sample is looked for, and the resolution that finds it: any step of
# at most Prometheus' 5m lookback finds every sample.
LOOKBACK = Duration(3_600_000)
_RESOLUTION = "1m"
_SELECTOR_LABEL = "canarygate_selector"


@dataclass(frozen=True)
class Freshness:
    """How old a journey's newest sample is at the evaluation instant."""

    journey: str
    age_seconds: float | None  # None: not measured, or no sample within LOOKBACK
    max_age: Duration
    stale: bool
    detail: str  # "newest sample 12s old", "no sample in the last 1h", "not measured: ..."
    measured: bool = True
    # An age that cannot be (negative, NaN): invalid evidence, silence like stale data.
    invalid: bool = False
    # The age was asked for and not answered (unreachable, refused, malformed): whether the
    # windows' numbers are current cannot be told, so they are silence too.
    unanswered: MissingKind | None = None

    @property
    def silences(self) -> bool:
        return self.stale or self.invalid or self.unanswered is not None


def freshness_key(journey: JourneySpec) -> QueryKey:
    # The lookback as window keeps the query with the journey's own (one packed request).
    return QueryKey(journey.name, Role.FRESHNESS, LOOKBACK)


def freshness_selectors(journey: JourneySpec, spec: GateSpec) -> tuple[str, ...]:
    """The selectors of the journey's `sli.total`, rendered with its shortest window."""
    return _selectors(journey, spec.health, spec.canary.interval.text)


def _selectors(journey: JourneySpec, health: HealthPolicy, interval: str) -> tuple[str, ...]:
    windows = health.windows() or (journey.window,)
    return window_selectors(journey.sli.total, windows[0].text, interval)


def freshness_query(journey: JourneySpec, spec: GateSpec) -> str | None:
    """The PromQL for the age in seconds of the journey's newest sample, or None when no
    selector can be found in its `sli.total`."""
    return freshness_query_for(journey, spec.health, spec.canary.interval.text)


def freshness_query_for(journey: JourneySpec, health: HealthPolicy, interval: str) -> str | None:
    """`freshness_query` from the only parts of the gate it depends on."""
    selectors = _selectors(journey, health, interval)
    newest = [
        f"max(timestamp({s}) or max_over_time(timestamp({s})[{LOOKBACK}:{_RESOLUTION}]))"
        for s in selectors
    ]
    if not newest:
        return None
    if len(newest) == 1:
        return f"time() - {newest[0]}"
    tagged = "\nor ".join(
        f'label_replace({part}, "{_SELECTOR_LABEL}", "{i}", "", "")'
        for i, part in enumerate(newest)
    )
    return f"time() - min(\n{tagged}\n)"


def judge_freshness(spec: GateSpec, observations: Observations) -> tuple[Freshness, ...]:
    return tuple(_judge(journey, spec, observations) for journey in spec.journeys)


def _judge(journey: JourneySpec, spec: GateSpec, observations: Observations) -> Freshness:
    bound = spec.health.max_sample_age
    sample = observations.get(freshness_key(journey))
    if sample is None or (isinstance(sample, Missing) and sample.kind is MissingKind.NOT_QUERIED):
        return Freshness(journey.name, None, bound, False, "not measured", measured=False)
    if isinstance(sample, Missing):
        if sample.kind is MissingKind.NO_DATA:
            detail = f"no sample in the last {LOOKBACK}"
            return Freshness(journey.name, None, bound, True, detail)
        # Unreachable, refused, malformed: the windows may still have answered (another
        # request), but nothing says they are current. Silence, never a pass.
        detail = f"newest-sample age unknown ({sample.describe()})"
        return Freshness(journey.name, None, bound, False, detail, unanswered=sample.kind)
    if not isinstance(sample, int | float):  # one value per segment: not an age
        detail = "newest-sample age is not one number"
        return Freshness(journey.name, None, bound, False, detail, invalid=True)
    age = float(sample)
    if not math.isfinite(age) or age < 0:
        detail = f"newest-sample age {age:.6g}s is not an age a sample can have"
        return Freshness(journey.name, None, bound, False, detail, invalid=True)
    stale = age > bound.seconds
    return Freshness(journey.name, age, bound, stale, f"newest sample {_age(age)} old")


def apply_freshness(
    journeys: Sequence[JourneyAssessment], freshness: Sequence[Freshness]
) -> tuple[JourneyAssessment, ...]:
    """Journeys whose data is stale count as silence: unknown, incomplete, and saying why."""
    stale = {f.journey: f for f in freshness if f.silences}
    return tuple(
        _silenced(journey, stale[journey.name]) if journey.name in stale else journey
        for journey in journeys
    )


def _silenced(journey: JourneyAssessment, freshness: Freshness) -> JourneyAssessment:
    if freshness.invalid:
        finding = f"invalid evidence: {freshness.detail}; its windows count as silence"
    elif freshness.unanswered is not None:
        finding = f"{freshness.detail}; its windows count as silence"
    else:
        finding = (
            f"stale data: {freshness.detail} (older than maxSampleAge {freshness.max_age}); "
            "its windows count as silence"
        )
    return replace(
        journey, health=Health.UNKNOWN, complete=False, findings=(finding, *journey.findings)
    )


def _age(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s" if rest else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def describe_age(seconds: float) -> str:
    """`12s`, `7m05s`, `1h02m`: an age as people read it."""
    return _age(seconds)


# Why an age was not answered, as the reason that says so (anything malformed is invalid
# evidence).
_UNANSWERED_CODES = {
    MissingKind.UNREACHABLE: ReasonCode.PROMETHEUS_UNAVAILABLE,
    MissingKind.QUERY_ERROR: ReasonCode.QUERY_ERROR,
}


def stale_reasons(freshness: Sequence[Freshness]) -> tuple[Reason, ...]:
    """One reason per journey whose data is stale (or whose age is impossible), up front with
    the other evidence problems."""
    reasons: list[Reason] = []
    for f in freshness:
        if f.invalid:
            text = f"invalid evidence, treated as silence: journey {f.journey} {f.detail}"
            reasons.append(Reason(ReasonCode.INVALID_EVIDENCE, text))
        elif f.unanswered is not None:
            code = _UNANSWERED_CODES.get(f.unanswered, ReasonCode.INVALID_EVIDENCE)
            text = f"journey {f.journey}: {f.detail}, treated as silence"
            reasons.append(Reason(code, text))
        elif f.stale:
            text = (
                f"stale data, treated as silence: journey {f.journey}: {f.detail} "
                f"(maxSampleAge {f.max_age})"
            )
            reasons.append(Reason(ReasonCode.STALE_DATA, text))
    return tuple(reasons)
