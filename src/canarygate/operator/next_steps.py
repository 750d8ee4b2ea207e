"""What a person should do after each transition: one sentence per Event reason.

A table from reason to advice (data, not a chain of ifs), keyed by the reason's text so a
reason added later (any `EventReason`) gets the generic advice until it has its own.
Pure: the advice is built from `Facts`, read from the gate as written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from canarygate.core.approval import APPROVE_ANNOTATION


@dataclass(frozen=True)
class Facts:
    namespace: str
    name: str
    revision: str | None
    message: str
    weight: int | None  # the canary's percent after the transition
    steps: tuple[int, ...]
    interval: str
    journeys_in_breach: tuple[tuple[str, str], ...]  # (name, health)
    failing_guardrails: tuple[str, ...]  # each in words, with its values
    reason_codes: tuple[str, ...]
    prometheus: str
    approval: str | None  # how to approve, while the gate waits for an approval
    health: str | None  # status.health and status.mode after the transition
    mode: str | None
    warning: bool

    @property
    def describe(self) -> str:
        return f"kubectl describe canarygate {self.name} -n {self.namespace}"

    @property
    def edit(self) -> str:
        return f"kubectl edit canarygate {self.name} -n {self.namespace}"

    @property
    def next_weight(self) -> int | None:
        return next((s for s in self.steps if self.weight is None or s > self.weight), None)

    @property
    def breaching(self) -> str:
        return ", ".join(f"{name} ({health})" for name, health in self.journeys_in_breach)


Advice = Callable[[Facts], str]


def _started(f: Facts) -> str:
    first = f"the first step ({f.steps[0]}%)" if f.steps else "the first step"
    return (
        f"Nothing to do: canarygate evaluates every {f.interval} and takes {first} when "
        "customer health and the guardrails allow."
    )


def _advanced(f: Facts) -> str:
    following = f.next_weight
    what = "promotion" if following in (None, 100) else f"the next step ({following}%)"
    return (
        f"Nothing to do: {what} follows when evaluations pass, {f.interval} from now at the "
        "earliest."
    )


def _promoted(f: Facts) -> str:
    return (
        "Make the canary the new stable in your pipeline, then set spec.canary.revision to the "
        "next release to start its rollout."
    )


def _rolled_back(f: Facts) -> str:
    if f.failing_guardrails:
        cause = f"Look at the failing guardrail {'; '.join(f.failing_guardrails)}"
    elif f.journeys_in_breach:
        cause = f"Look at the journeys in breach: {f.breaching}"
    else:
        cause = f"Look at why it rolled back ({f.describe})"
    return (
        f"{cause}, fix the canary, then push a new revision (spec.canary.revision) to start "
        "again from 0%. All traffic stays on stable until then."
    )


def _hold(f: Facts) -> str:
    lead = f.reason_codes[0] if f.reason_codes else ""
    for code in ("InvalidEvidence", "StaleData"):  # evidence problems behind any hold
        if code in f.reason_codes:
            return _HOLD_ADVICE[code](f)
    specific = _HOLD_ADVICE.get(lead)
    if lead == "Hold":  # the matrix mode itself never advances
        specific = _MODE_ADVICE.get(f.mode or "")
    if specific is not None:
        return specific(f)
    return (
        f"Nothing to do yet: the gate holds and re-evaluates every {f.interval}; "
        f"{f.describe} says why."
    )


_HOLD_ADVICE: Final[dict[str, Advice]] = {
    "GuardrailInconclusive": lambda f: (
        "Nothing to do yet: the canary has too few samples for its guardrails; the step "
        "waits for more traffic. If it never comes, check that the canary serves requests."
    ),
    "GuardrailFailed": lambda f: (
        f"Look at the failing guardrail {'; '.join(f.failing_guardrails) or '(see status)'}: "
        "a minor guardrail holds the rollout until it passes."
    ),
    "NotCustomerNeutral": lambda f: (
        "Customer health is yellow: the canary advances only if the change is declared "
        "customer-neutral and reversible (spec.risk.factors); otherwise it waits for health "
        f"to recover ({f.breaching or 'see the journeys'})."
    ),
    "StaleData": lambda f: (
        "Check that the journeys' metrics are still scraped: their newest samples are too old "
        "(or there are none), so the gate holds as on silence."
    ),
    "InvalidEvidence": lambda f: (
        "Check the journeys' and guardrails' queries (or their recording rules): Prometheus "
        "answered values that cannot be right (good above total, negative or not finite), so "
        "the gate holds as on silence and never promotes or rolls back on them."
    ),
    "ConsecutivePassesNeeded": lambda f: (
        "Nothing to do: in guarded mode (high risk) each step needs consecutive passing "
        f"evaluations; the next one comes {f.interval} from now."
    ),
    "Paused": lambda f: (
        f"Resume when the incident allows: canarygate resume {f.namespace}/{f.name} (or remove "
        "the annotation canarygate.io/pause). The gate holds where it is until then; a critical "
        "guardrail still rolls it back."
    ),
    "FreezeCooldown": lambda f: (
        "Nothing to do unless triage is done: health left red, and steps resume once it stays "
        "out of red for the cooldown (spec.policy.freezeCooldown). To resume now: canarygate "
        f"clear-freeze {f.namespace}/{f.name}."
    ),
    "CheckFailed": lambda f: (
        f"Look at the failing check ({f.describe}, status.checks): the step waits until it "
        "passes; a critical one rolls back at its failure limit."
    ),
    "CheckError": lambda f: (
        "Check that the check's query returns data or that its webhook answers in time: no "
        "answer holds the step (it never passes and never rolls back on silence)."
    ),
    "CheckPending": lambda f: "Nothing to do: the step waits for its webhook checks' answers.",
    "Exposure": lambda f: (
        f"Check the canary's pods: its route gives it {f.weight}% of requests but it served a "
        "different share (pods not ready or crash-looping, session affinity, another route). "
        "The gate holds, never promotes and never counts a pass until it serves its share."
    ),
    "ExposureSilent": lambda f: (
        "Check that the canary's pods serve requests and that spec.canary.exposure's queries "
        "answer: the canary's telemetry is silent or its share cannot be measured, which is "
        "silence, not health. The gate holds meanwhile."
    ),
    "SuccessMetricHold": lambda f: (
        "Nothing to do yet: the canary is safe to promote, but its success metrics do not show "
        "the release's value yet; the last step waits for them (see status.successMetrics)."
    ),
}


def _frozen(f: Facts) -> str:
    if f.reason_codes[:1] == ("Window",):
        return (
            "Nothing to do unless the release must ship now: a freeze window of "
            "spec.policy.windows applies and the canary stays where it is until it ends (a "
            "failing critical guardrail still rolls back)."
        )
    return (
        f"Customer health is red ({f.breaching or 'see the journeys'}): the canary will not "
        "advance. Investigate the journeys in breach; the gate resumes when health recovers and "
        "rolls back if a critical guardrail fails."
    )


_MODE_ADVICE: Final[dict[str, Advice]] = {
    "hold": lambda f: (
        "Check that the journeys' queries return data (canarygate evaluate -f with the gate's "
        "spec shows each answer): customer health is unknown, and silence never advances, "
        "promotes or rolls back."
    ),
    "delay": lambda f: (
        "Nothing to do unless you want to stop the release: customer health is yellow "
        f"({f.breaching or 'see the journeys'}) and the release is high-risk, so the canary "
        f"stays at {f.weight}% until health recovers."
    ),
    "freeze": _frozen,
}


def _query_error(f: Facts) -> str:
    _, found, named = f.message.partition("fix the spec: ")
    query = named if found else f.message
    return (
        f"Fix the query named here in the gate's spec ({f.edit}): {query}. The gate holds until "
        "Prometheus accepts it."
    )


def _prometheus(f: Facts) -> str:
    return (
        f"Check that Prometheus ({f.prometheus}) is up and reachable from the operator. The "
        "gate holds meanwhile: it never advances, promotes or rolls back on silence."
    )


def _invalid(f: Facts) -> str:
    return f"Fix the spec ({f.edit}): {f.message}. Nothing is actuated until then."


def _traffic_error(f: Facts) -> str:
    return (
        "Check that the routing objects named in spec.canary.traffic exist and that the "
        f"operator may read and write them: {f.message}. The gate retries with backoff."
    )


def _mismatch(f: Facts) -> str:
    return (
        "Someone else changed the routing: revert that change, or keep your GitOps tool from "
        "syncing the weights canarygate manages (docs/gitops.md). The "
        "gate holds until the weights are back."
    )


def _waiting_for_traffic(f: Facts) -> str:
    return (
        "Check that the canary's pods become ready and the routing controller applies the "
        f"weights: the next step waits until the routing carries {f.weight}%."
    )


def _waiting_for_approval(f: Facts) -> str:
    how = f.approval or (
        f"canarygate approve {f.namespace}/{f.name}, or set the annotation "
        f"{APPROVE_ANNOTATION} on the CanaryGate to the key in status.approval"
    )
    return f"Approve the move if you agree: {how}. The gate holds until then."


def _nothing(f: Facts) -> str:
    return "Nothing to do."


NEXT_STEPS: Final[dict[str, Advice]] = {
    "RolloutStarted": _started,
    "Advanced": _advanced,
    "Promoted": _promoted,
    "RolledBack": _rolled_back,
    "HoldStarted": _hold,
    "Frozen": _frozen,
    "Unfrozen": lambda f: "Nothing to do: health recovered and the rollout resumes.",
    "QueryError": _query_error,
    "PrometheusUnavailable": _prometheus,
    "InvalidSpec": _invalid,
    "TrafficError": _traffic_error,
    "WeightMismatch": _mismatch,
    "WaitingForTraffic": _waiting_for_traffic,
    "WaitingForApproval": _waiting_for_approval,
    "IntentAbandoned": lambda f: "Nothing to do: the gate decides again.",
    "TrafficRestored": lambda f: "Nothing to do: the gate was deleted and its routing restored.",
    "IntentCompleted": _nothing,
    "Paused": _HOLD_ADVICE["Paused"],
    "Resumed": lambda f: "Nothing to do: the gate decides again at its next evaluation.",
    "Aborted": lambda f: (
        "All traffic is on stable and stays there. Fix the canary, then push a new revision "
        "(spec.canary.revision) to start again from 0%."
    ),
    "ForcePromoted": lambda f: (
        "The canary has all traffic by a person's decision, whatever the evaluation said: watch "
        "the journeys, and make the canary the new stable in your pipeline."
    ),
    "FreezeCleared": lambda f: (
        "Nothing to do: steps resume at the first evaluation with health out of red."
    ),
    "ControlIgnored": lambda f: (
        f"Check the control's annotation ({f.describe}, status.controls): it names another "
        "revision or red episode than the gate's, or cannot be read; give it again for the "
        "current one if it is still wanted."
    ),
    "SpecEdited": lambda f: (
        "Nothing to do if the edit was meant: it is recorded in status.history; a looser rule "
        "restarts the count of passes for the current step."
    ),
}


def next_step(reason: str, facts: Facts) -> str:
    advice = NEXT_STEPS.get(reason)
    if advice is not None:
        return advice(facts)
    if facts.approval is not None:  # any reason of a gate that waits for a person
        return _waiting_for_approval(facts)
    return f"See {facts.describe}." if facts.warning else "Nothing to do."
