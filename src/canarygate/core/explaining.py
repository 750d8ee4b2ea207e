"""`--explain`: one decision told rule by rule, with the thresholds, the windows and the
numbers that decided, from the spec and the Decision alone (pure).

Where `reasons` say what decided, this says why each rule did or did not apply: every burn-rate
rule of every journey with both windows' numbers against its threshold, the budget bounds,
the data's freshness, each guardrail's values against its limits, the matrix cell, the
consecutive passes and the next step, and, for the Error outcome and invalid evidence, the
query or the numbers at fault.
"""

from __future__ import annotations

from collections.abc import Iterator

from canarygate.core.checking import describe as describe_check
from canarygate.core.decisions import Decision, ReasonCode
from canarygate.core.freshness import Freshness, describe_age
from canarygate.core.guardrails import GuardrailAssessment
from canarygate.core.health import JourneyAssessment
from canarygate.core.matrix import MODE_BEHAVIOURS, AdvanceRule, mode_for
from canarygate.core.queries import plan_queries
from canarygate.core.specs import (
    BurnRateRule,
    CombinedRule,
    GateSpec,
    GuardrailSpec,
    HealthTier,
    JourneySegments,
    JourneySpec,
    SuccessMetricSpec,
)
from canarygate.core.state import clock_time
from canarygate.core.success import SuccessAssessment
from canarygate.core.vocabulary import Action, Health, Mode, WindowEffect

# The precedence of `decide` (docs/decisions.md), by the deciding reason's code.
_PRECEDENCE: dict[ReasonCode, str] = {
    ReasonCode.TERMINAL: "1 (the rollout already ended)",
    ReasonCode.ROLLBACK: "2 (a guardrail counted as critical, or a critical check, failed "
    "failureLimit times)",
    ReasonCode.PAUSED: "3 (a person paused the gate)",
    ReasonCode.GUARDRAIL_FAILED: "4 (a guardrail failed, below its limit or minor)",
    ReasonCode.GUARDRAIL_INCONCLUSIVE: "5 (a guardrail is inconclusive)",
    ReasonCode.EXPOSURE: "5 (the canary's exposure is not proven)",
    ReasonCode.EXPOSURE_SILENT: "5 (the canary's exposure is not proven)",
    ReasonCode.HOLD: "6 (the mode does not advance)",
    ReasonCode.FREEZE_COOLDOWN: "6 (the freeze after red health is still cooling down)",
    ReasonCode.NOT_NEUTRAL: "6 (the mode advances only customer-neutral, reversible changes)",
    ReasonCode.COHORT: "6 (the mode does not advance)",
    ReasonCode.WINDOW: "6 (a freeze window is in force: the mode does not advance)",
    ReasonCode.PASSES_NEEDED: "7 (not enough consecutive passes yet)",
    ReasonCode.ADVANCE: "8 (the evaluation passed: next step)",
    ReasonCode.PROMOTE: "8 (the evaluation passed at the last step: promote)",
    ReasonCode.SUCCESS_METRIC_HOLD: "8 (the last step passed, but a success metric holds it)",
    ReasonCode.CHECK_FAILED: "9 (a check due now failed)",
    ReasonCode.CHECK_ERROR: "9 (a check due now gave no answer to judge)",
    ReasonCode.CHECK_PENDING: "9 (a check due now has not answered yet)",
}
_EVIDENCE_CODES = frozenset({ReasonCode.QUERY_ERROR})
_SEGMENTS_EXPLAINED = 5  # per journey, worst first


def explain(spec: GateSpec, decision: Decision) -> tuple[str, ...]:
    return tuple(_lines(spec, decision))


def _lines(spec: GateSpec, decision: Decision) -> Iterator[str]:
    deciding = next((r for r in decision.reasons if r.code not in _EVIDENCE_CODES), None)
    rule = _PRECEDENCE.get(deciding.code, "") if deciding else ""
    yield (
        f"decided {decision.action} ({decision.weight_current}% -> {decision.weight_next}%)"
        + (f" by precedence rule {rule}" if rule else "")
    )
    yield from _errors(spec, decision)
    yield (
        f"customer health {decision.health}: the worst critical journey (a non-critical one "
        "counts at most as yellow); a journey with silent windows makes it unknown unless a "
        "critical journey is red"
    )
    freshness = {f.journey: f for f in decision.freshness}
    for journey_spec, journey in zip(spec.journeys, decision.journeys, strict=False):
        yield from _journey(spec, journey_spec, journey, freshness.get(journey.name))
    for judged in decision.windows:
        state = (
            "cannot tell, counted as in force"
            if judged.unknown is not None
            else ("APPLIES" if judged.applies else "does not apply")
        )
        yield f"{judged.describe()} -> {state}"
    yield f"release risk {decision.risk.risk}: {decision.risk.because}"
    overridden = (decision.health, decision.risk.risk) in spec.policy.cells
    cell = "spec.policy.matrix" if overridden else "the default matrix"
    cell_mode = mode_for(spec.policy, decision.health, decision.risk.risk)
    if decision.window_froze is not None:
        frozen = ", ".join(
            j.window.name
            for j in decision.windows
            if j.in_force and j.window.effect is WindowEffect.FREEZE
        )
        lane = (
            f", the hotfix lane {decision.window_froze}"
            if decision.window_froze is not cell_mode
            else ""
        )
        cell = f"{cell} gives {cell_mode}{lane}, but freeze window {frozen} is in force"
    elif cell_mode is not decision.mode and decision.mode is Mode.FREEZE:
        cell = f"{cell} gives {cell_mode}, but the freeze after red health is cooling down"
    elif cell_mode is not decision.mode:
        cell = f"{cell} gives {cell_mode}; the hotfix lane makes it {decision.mode}"
    yield (
        f"mode {decision.mode}: {decision.health} x {decision.risk.risk} in {cell}; "
        f"{MODE_BEHAVIOURS[decision.mode].summary}"
    )
    guardrail_specs = {g.name: g for g in spec.canary.guardrails}
    for guardrail in decision.guardrails:
        yield from _guardrail(guardrail_specs.get(guardrail.name), guardrail, decision)
    yield from _exposure(decision)
    metric_specs = {m.name: m for m in spec.canary.success_metrics}
    last_step = spec.canary.next_step(decision.weight_current) is None
    for metric in decision.success_metrics:
        yield from _success_metric(
            metric_specs.get(metric.name), metric, last_step=last_step, decision=decision
        )
    yield from _incident(spec, decision)
    yield from _progress(spec, decision)


def _incident(spec: GateSpec, decision: Decision) -> Iterator[str]:
    """The red episode a freeze remembers, the hotfix lane, a pause, and the checks."""
    for reason in decision.reasons:
        if reason.code in (ReasonCode.PAUSED, ReasonCode.HOTFIX, ReasonCode.FREEZE_CLEARED):
            yield reason.message
    memory = decision.state.freeze
    if memory is not None:
        until = decision.cooldown_until
        cooling = (
            f"out of red since {clock_time(memory.clear_since)}, cooldown "
            f"{spec.policy.freeze_cooldown} until {clock_time(until)}"
            if memory.clear_since is not None and until is not None
            else f"the cooldown ({spec.policy.freeze_cooldown}) starts once health is known "
            "out of red"
        )
        yield f"freeze: {memory.what()}; {cooling}"
    for check in decision.checks:
        yield describe_check(check)


def _errors(spec: GateSpec, decision: Decision) -> Iterator[str]:
    sent = {q.key: q.promql for q in plan_queries(spec)}
    for problem in decision.errors:
        yield f"error: Prometheus refused {problem.query}: {problem.message}"
        if problem.key in sent:
            yield f"  the query sent: {' '.join(sent[problem.key].split())}"


def _journey(
    spec: GateSpec,
    journey_spec: JourneySpec,
    journey: JourneyAssessment,
    freshness: Freshness | None,
) -> Iterator[str]:
    scope = "critical" if journey.critical else "non-critical"
    budget = 1 - journey.objective_percent / 100
    yield (
        f"journey {journey.name} ({scope}, objective {journey.objective_percent:g}%, error "
        f"budget {budget:.3g}, compliance window {journey_spec.window}): {journey.health}"
    )
    segments = journey_spec.segments if journey.segmented else None
    if segments is not None:
        yield (
            f"  over all traffic: {journey.overall}; the journey is the worst of its whole "
            f"traffic and its judged segments (by {', '.join(segments.by.labels)})"
        )
    burns = journey.burn_rate_map()
    for tier_name, tier in (("red", spec.health.red), ("yellow", spec.health.yellow)):
        for rule in tier.burn_rates:
            yield f"  {tier_name} if {_burn_rule(rule, burns)}"
        yield from _budget_bounds(tier_name, tier, journey.budget_remaining)
    for combined in spec.health.for_journey(journey.name).rules:
        yield f"  {_combined_rule(combined, burns, journey.budget_remaining)}"
    if freshness is not None:
        yield f"  {_freshness(freshness)}"
    for problem in journey.invalid_evidence:
        yield f"  invalid evidence {problem} (treated as silence)"
    for finding in journey.findings:
        yield f"  finding: {finding}"
    if segments is not None:
        yield from _segments(spec, segments, journey)


def _segments(
    spec: GateSpec, segments: JourneySegments, journey: JourneyAssessment
) -> Iterator[str]:
    """The rules above were over all of the journey's traffic; each judged segment is held to
    the same rules (with its own objective where the gate names one), worst first."""
    yield (
        f"  segments: {len(journey.segments)} judged, {journey.segments_ignored} too small to "
        f"judge (below minSegmentShare {segments.min_share:.2%} of the journey's events in every "
        "window)"
    )
    shown = [s for s in journey.segments if s.health is not Health.GREEN][:_SEGMENTS_EXPLAINED]
    if not shown and journey.segments:
        shown = [journey.segments[0]]  # all green: the closest to a threshold
    for segment in shown:
        share = "-" if segment.share is None else f"{segment.share:.2%}"
        yield (
            f"  segment {segment.name} (objective {segment.objective_percent:g}%, largest share "
            f"of events {share}): {segment.health}"
        )
        burns = segment.burn_rate_map()
        for tier_name, tier in (("red", spec.health.red), ("yellow", spec.health.yellow)):
            for rule in tier.burn_rates:
                yield f"    {tier_name} if {_burn_rule(rule, burns)}"
            for line in _budget_bounds(tier_name, tier, segment.budget_remaining):
                yield f"  {line}"
        for combined in spec.health.for_journey(journey.name).rules:
            yield f"    {_combined_rule(combined, burns, segment.budget_remaining)}"
        for problem in segment.invalid_evidence:
            yield f"    invalid evidence {problem} (treated as silence)"
    hidden = len(journey.segments) - len(shown)
    if hidden:
        yield f"  and {hidden} more judged segment(s), not worse (see -o json)"


def _success_metric(
    spec: SuccessMetricSpec | None,
    metric: SuccessAssessment,
    *,
    last_step: bool,
    decision: Decision,
) -> Iterator[str]:
    bounds = f"margin {metric.margin:.1%}" + (
        f", minLift {metric.min_lift:.1%}" if metric.min_lift is not None else ""
    )
    yield (
        f"success metric {metric.name} ({metric.direction} is better, {bounds}): {metric.verdict}"
    )
    if spec is not None and spec.min_samples is not None:
        counts = f"canary {_number(metric.samples)}, baseline {_number(metric.baseline_samples)}"
        yield f"  samples {counts} vs minSamples {spec.min_samples:g}"
    if metric.lift is not None:
        yield (
            f"  lift {metric.lift:+.2%} (canary {_number(metric.canary)}, baseline "
            f"{_number(metric.baseline)}): worse below -{metric.margin:.1%}, better above "
            f"+{metric.margin:.1%}, else flat"
        )
    yield f"  finding: {metric.finding}"
    if metric.invalid_evidence:
        yield "  invalid evidence: a value that cannot be a measurement (inconclusive)"
    if not last_step:
        yield "  before the last step a success metric never holds the canary"
    elif metric.allows_promotion:
        yield "  at the last step: allows promotion"
    elif decision.awaits_approval is Action.PROMOTE:
        yield (
            "  at the last step: holds promotion until a person approves it (canarygate "
            "approve); a success metric never rolls back"
        )
    elif decision.action is Action.PROMOTE:
        yield "  at the last step: worse, and a person approved the promotion"
    else:
        yield "  at the last step: holds promotion (a success metric never rolls back)"


def _burn_rule(rule: BurnRateRule, burns: dict[str, float | None]) -> str:
    long_rate, short_rate = burns.get(rule.long.text), burns.get(rule.short.text)
    numbers = f"{rule.long} {_number(long_rate)}, {rule.short} {_number(short_rate)}"
    if long_rate is None or short_rate is None:
        verdict = "cannot tell (no usable data)"
    elif long_rate >= rule.threshold and short_rate >= rule.threshold:
        verdict = "YES"
    else:
        verdict = "no"
    return (
        f"burn >= {rule.threshold:g} over both {rule.long} and {rule.short}: {numbers} -> {verdict}"
    )


def _combined_rule(
    rule: CombinedRule, burns: dict[str, float | None], remaining: float | None
) -> str:
    """`red if rule fast-burn (page, preset burn4x-budget25): burn >= 4 over 1h 5.2, ... ->
    YES`: every condition with its number, and whether all hold at once."""
    numbers: list[str] = []
    verdicts: list[bool | None] = []
    for condition in rule.burn_rates:
        rate = burns.get(condition.window.text)
        numbers.append(f"burn >= {condition.at_least:g} over {condition.window}: {_number(rate)}")
        verdicts.append(None if rate is None else rate >= condition.at_least)
    if rule.budget_remaining_below is not None:
        shown = "unknown" if remaining is None else f"{remaining:.1%}"
        numbers.append(f"budget remaining < {rule.budget_remaining_below:.0%}: {shown}")
        verdicts.append(None if remaining is None else remaining < rule.budget_remaining_below)
    if False in verdicts:
        verdict = "no"
    elif None in verdicts:
        verdict = "cannot tell (no usable data)"
    else:
        verdict = "YES"
    origin = f", preset {rule.preset}" if rule.preset else ""
    return (
        f"{rule.level} if rule {rule.name} ({rule.severity}{origin}), all at once: "
        f"{'; '.join(numbers)} -> {verdict}"
    )


def _budget_bounds(tier: str, bounds: HealthTier, remaining: float | None) -> Iterator[str]:
    shown = "unknown" if remaining is None else f"{remaining:.1%}"
    for sign, bound in (
        ("<=", bounds.budget_remaining_at_most),
        ("<", bounds.budget_remaining_below),
    ):
        if bound is None:
            continue
        if remaining is None:
            verdict = "cannot tell"
        else:
            holds = remaining <= bound if sign == "<=" else remaining < bound
            verdict = "YES" if holds else "no"
        yield f"  {tier} if budget remaining {sign} {bound:.0%}: {shown} -> {verdict}"


def _freshness(freshness: Freshness) -> str:
    bound = f"maxSampleAge {freshness.max_age}"
    if not freshness.measured:
        return f"freshness: {freshness.detail}"
    if freshness.invalid:
        return f"freshness: {freshness.detail} -> invalid evidence, silence"
    if freshness.unanswered is not None:
        return f"freshness: {freshness.detail} -> cannot tell, its windows count as silence"
    if freshness.stale:
        return f"freshness: {freshness.detail} ({bound}) -> STALE, its windows count as silence"
    return f"freshness: {freshness.detail} ({bound}) -> fresh"


def _guardrail(
    spec: GuardrailSpec | None, guardrail: GuardrailAssessment, decision: Decision
) -> Iterator[str]:
    counted = MODE_BEHAVIOURS[decision.mode].all_guardrails_critical
    severity = f"{guardrail.severity}" + (
        ", counted as critical in this mode"
        if counted and str(guardrail.severity) == "minor"
        else ""
    )
    yield (
        f"guardrail {guardrail.name} ({severity}, failureLimit {guardrail.failure_limit}): "
        f"{guardrail.verdict}, consecutive failures {guardrail.consecutive_failures} of "
        f"{guardrail.failure_limit}"
    )
    if guardrail.segments:
        yield (
            f"  per {', '.join(guardrail.segment_labels)}: {len(guardrail.segments)} segment(s) "
            f"judged, {guardrail.segments_ignored} with too few samples; the values below are "
            f"the worst segment's ({guardrail.segments[0].name})"
        )
    if spec is not None:
        if spec.min_samples is not None:
            enough = (
                "unknown"
                if guardrail.samples is None
                else ("enough" if guardrail.samples >= spec.min_samples else "TOO FEW")
            )
            yield (
                f"  samples {_number(guardrail.samples)} vs minSamples {spec.min_samples:g} "
                f"-> {enough}"
            )
        if spec.max is not None:
            over = _compare(guardrail.canary, spec.max)
            yield f"  canary {_number(guardrail.canary)} vs max {spec.max:g} -> {over}"
        if spec.max_increase is not None:
            difference = (
                None
                if guardrail.canary is None or guardrail.baseline is None
                else guardrail.canary - guardrail.baseline
            )
            yield (
                f"  canary - baseline = {_number(guardrail.canary)} - "
                f"{_number(guardrail.baseline)} = {_number(difference)} vs maxIncrease "
                f"{spec.max_increase:g} -> {_compare(difference, spec.max_increase)}"
            )
    yield f"  finding: {guardrail.finding}"
    if guardrail.invalid_evidence:
        yield "  invalid evidence: a value that cannot be a measurement (treated as silence)"


def _exposure(decision: Decision) -> Iterator[str]:
    exposure = decision.exposure
    if exposure is None:
        return
    yield (
        f"exposure (spec.canary.exposure, tolerance ±{exposure.tolerance:.0%}, window "
        f"{exposure.window}): {exposure.state}"
    )
    served = "-" if exposure.served is None else f"{exposure.served:.2%}"
    low, high = exposure.bounds
    yield (
        f"  canary requests {_number(exposure.canary)} of {_number(exposure.total)} -> served "
        f"{served} vs route {exposure.route_weight}% (proven within {low:.2%} to {high:.2%})"
    )
    yield f"  finding: {exposure.finding}"
    if exposure.blocks:
        yield "  not proven: the evaluation neither counts as a pass nor promotes"


def _compare(value: float | None, limit: float) -> str:
    if value is None:
        return "cannot tell"
    return "OVER" if value > limit else "within"


def _progress(spec: GateSpec, decision: Decision) -> Iterator[str]:
    steps = ", ".join(f"{s}%" for s in spec.canary.steps)
    upcoming = spec.canary.next_step(decision.weight_current)
    after = "none, the last step is reached" if upcoming is None else f"{upcoming}%"
    yield f"steps {steps}: at {decision.weight_current}%, next step {after}"
    behaviour = MODE_BEHAVIOURS[decision.mode]
    if behaviour.advance is AdvanceRule.CONSECUTIVE_PASSES:
        yield (
            f"consecutive passes at {decision.weight_next}%: {decision.state.consecutive_passes}"
            f" (guardedPasses {spec.policy.guarded_passes} needed per step in {Mode.GUARDED} mode)"
        )
    if decision.health is Health.UNKNOWN:
        yield "silence never advances, promotes or rolls back on its own"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def describe_freshness(freshness: Freshness) -> str:
    """`12s` or `stale 7m05s`, for tables."""
    if freshness.age_seconds is None:
        if freshness.unanswered is not None:
            return "unknown"
        return "stale" if freshness.stale else "-"
    age = describe_age(freshness.age_seconds)
    return f"stale {age}" if freshness.stale else age
