"""A gate's decision as a verdict another tool can act on, and what each Flagger webhook
answers for each verdict. Pure tables, printed in the docs and tested as they stand.

The verdict of a decision, in this order of precedence:

    rollback                      -> fail          (a canary guardrail failed for real)
    a query Prometheus refused    -> error         (the Error outcome: fix the spec)
    advance or promote            -> pass
    hold (freeze, delay, unknown health, a guardrail inconclusive or failing below its
          limit, passes still needed, an approval awaited) -> inconclusive

Silence is never a pass: missing, stale or invalid evidence makes health unknown or a
guardrail inconclusive, so `decide` holds, and a hold is `inconclusive`. A rollback outranks
a refused query (the failing guardrail was measured); a refused query outranks a pass that
should not happen (it cannot: a refused query leaves health unknown or a guardrail
inconclusive), so `error` is reported as soon as Prometheus refused anything.

A gate that canarygate itself drives and that has finished answers from its phase: promoted
is `pass`, rolled back is `fail`. An invalid spec is `error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from canarygate.core.decisions import Decision
from canarygate.core.vocabulary import Action, Phase


class Judgement(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


# The mapping of actions, as the docs print it (the Error outcome is decided before it).
ACTION_JUDGEMENTS: Final[dict[Action, Judgement]] = {
    Action.ADVANCE: Judgement.PASS,
    Action.PROMOTE: Judgement.PASS,
    Action.ROLLBACK: Judgement.FAIL,
    Action.HOLD: Judgement.INCONCLUSIVE,
}

PHASE_JUDGEMENTS: Final[dict[Phase, Judgement]] = {
    Phase.PROMOTED: Judgement.PASS,
    Phase.ROLLED_BACK: Judgement.FAIL,
    Phase.INVALID: Judgement.ERROR,
}


def judge(decision: Decision) -> Judgement:
    """The verdict of one decision (see the module docstring for the order)."""
    if decision.action is Action.ROLLBACK:
        return Judgement.FAIL
    if decision.errors:
        return Judgement.ERROR
    return ACTION_JUDGEMENTS[decision.action]


# -- Flagger's webhooks -------------------------------------------------------------------------


class Hook(StrEnum):
    """Flagger's webhook types (the `type` of a Canary's `analysis.webhooks[]`)."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    ROLLOUT = "rollout"
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"
    CONFIRM_PROMOTION = "confirm-promotion"
    POST_ROLLOUT = "post-rollout"
    ROLLBACK = "rollback"
    EVENT = "event"


# Flagger treats 200-202 as yes and anything else as no; "no" means something different for
# each hook type (see FLAGGER_EFFECTS). canarygate says no with one code, whatever the hook.
YES: Final = 200
NO: Final = 412


@dataclass(frozen=True)
class HookAnswer:
    status: int
    # What Flagger does with this answer, in words (for the body, logs and the docs).
    effect: str

    @property
    def yes(self) -> bool:
        return self.status == YES


def _gate(hook: Hook, judgement: Judgement) -> HookAnswer:
    """confirm-*: only a pass lets Flagger go on; anything else makes it wait, and waiting
    counts no failure."""
    if judgement is Judgement.PASS:
        return HookAnswer(YES, "Flagger goes ahead")
    waits = {
        Hook.CONFIRM_ROLLOUT: "Flagger does not start the analysis; the canary waits",
        Hook.CONFIRM_TRAFFIC_INCREASE: (
            "Flagger halts the traffic increase this interval, counting no failed check"
        ),
        Hook.CONFIRM_PROMOTION: "Flagger does not promote; the canary waits at its weight",
    }
    return HookAnswer(NO, waits[hook])


def _check(judgement: Judgement) -> HookAnswer:
    """rollout and pre-rollout: a no counts as a failed check (Flagger rolls back once its
    failed checks reach the analysis threshold), so only a fail says no: a hold, silence or a
    configuration error never counts toward a rollback."""
    if judgement is Judgement.FAIL:
        return HookAnswer(NO, "Flagger counts a failed check (rollback at its threshold)")
    return HookAnswer(YES, "Flagger counts no failed check")


def _rollback(judgement: Judgement) -> HookAnswer:
    """rollback: Flagger rolls back at once when this hook answers yes."""
    if judgement is Judgement.FAIL:
        return HookAnswer(YES, "Flagger rolls the canary back now")
    return HookAnswer(NO, "Flagger does not roll back on this hook")


def hook_answer(hook: Hook, judgement: Judgement) -> HookAnswer:
    """The status code canarygate answers Flagger's `hook` with, for `judgement`."""
    if hook in (Hook.CONFIRM_ROLLOUT, Hook.CONFIRM_TRAFFIC_INCREASE, Hook.CONFIRM_PROMOTION):
        return _gate(hook, judgement)
    if hook in (Hook.ROLLOUT, Hook.PRE_ROLLOUT):
        return _check(judgement)
    if hook is Hook.ROLLBACK:
        return _rollback(judgement)
    return HookAnswer(YES, "nothing to decide: acknowledged")


def hooks_as_markdown() -> str:
    """The table of every hook and verdict, as docs/flagger.md prints it."""
    verdicts = list(Judgement)
    lines = [
        "| hook | " + " | ".join(f"`{v}`" for v in verdicts) + " |",
        "|---|" + "---|" * len(verdicts),
    ]
    for hook in Hook:
        cells = [str(hook_answer(hook, v).status) for v in verdicts]
        lines.append(f"| `{hook}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def actions_as_markdown() -> str:
    """The mapping of decisions to verdicts, as the docs print it."""
    lines = ["| canarygate decides | verdict |", "|---|---|"]
    refused = "a query Prometheus refused (the Error outcome), unless it rolls back"
    lines.append(f"| {refused} | `{Judgement.ERROR}` |")
    for action, judgement in ACTION_JUDGEMENTS.items():
        lines.append(f"| `{action}` | `{judgement}` |")
    for phase, judgement in PHASE_JUDGEMENTS.items():
        lines.append(f"| gate already `{phase}` | `{judgement}` |")
    return "\n".join(lines)
