"""The health x risk matrix and what each mode allows, as data tables (printed in the docs).

The decision logic reads these tables; it never re-encodes a mode's behaviour in an `if`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from canarygate.core import defaults
from canarygate.core.specs import MatrixPolicy
from canarygate.core.vocabulary import Health, Mode, Risk


class AdvanceRule(StrEnum):
    EACH_PASS = "each passing evaluation"
    CONSECUTIVE_PASSES = "consecutive passing evaluations"
    IF_NEUTRAL_AND_REVERSIBLE = "only a declared customer-neutral and reversible change"
    NEVER = "never"


@dataclass(frozen=True)
class ModeBehaviour:
    mode: Mode
    advance: AdvanceRule
    # Guardrails whose declared severity is minor still roll back in these modes: customers
    # are already hurting or the release is risky, so a failing canary must not linger.
    all_guardrails_critical: bool
    summary: str


MODE_BEHAVIOURS: dict[Mode, ModeBehaviour] = {
    behaviour.mode: behaviour
    for behaviour in (
        ModeBehaviour(
            Mode.PROCEED, AdvanceRule.EACH_PASS, False, "advance one step per passing evaluation"
        ),
        ModeBehaviour(
            Mode.GUARDED,
            AdvanceRule.CONSECUTIVE_PASSES,
            True,
            f"a step needs guardedPasses ({defaults.GUARDED_PASSES}) consecutive passes; "
            "every guardrail counts as critical",
        ),
        ModeBehaviour(
            Mode.NEUTRAL_ONLY,
            AdvanceRule.IF_NEUTRAL_AND_REVERSIBLE,
            False,
            "advance only if the change is declared customer-neutral and reversible, else hold",
        ),
        ModeBehaviour(
            Mode.DELAY,
            AdvanceRule.NEVER,
            True,
            "hold; every guardrail counts as critical; a cohort, if set, confines the canary",
        ),
        ModeBehaviour(
            Mode.FREEZE,
            AdvanceRule.NEVER,
            True,
            "never advance; hold, and roll back if a canary guardrail fails",
        ),
        ModeBehaviour(
            Mode.HOLD,
            AdvanceRule.NEVER,
            False,
            "never advance, never promote, never roll back on silence alone",
        ),
    )
}

DEFAULT_MATRIX: dict[tuple[Health, Risk], Mode] = {
    (Health.GREEN, Risk.LOW): Mode.PROCEED,
    (Health.GREEN, Risk.HIGH): Mode.GUARDED,
    (Health.YELLOW, Risk.LOW): Mode.NEUTRAL_ONLY,
    (Health.YELLOW, Risk.HIGH): Mode.DELAY,
    (Health.RED, Risk.LOW): Mode.FREEZE,
    (Health.RED, Risk.HIGH): Mode.FREEZE,
    (Health.UNKNOWN, Risk.LOW): Mode.HOLD,
    (Health.UNKNOWN, Risk.HIGH): Mode.HOLD,
}

# Red health must never advance, whatever the override says.
NON_ADVANCING_MODES = frozenset(
    mode for mode, behaviour in MODE_BEHAVIOURS.items() if behaviour.advance is AdvanceRule.NEVER
)


def mode_for(policy: MatrixPolicy, health: Health, risk: Risk) -> Mode:
    """Look up the mode for a cell, applying the gate's overrides where they are allowed."""
    if health is Health.UNKNOWN:
        return DEFAULT_MATRIX[(health, risk)]
    mode = policy.cells.get((health, risk), DEFAULT_MATRIX[(health, risk)])
    if health is Health.RED and mode not in NON_ADVANCING_MODES:
        return DEFAULT_MATRIX[(health, risk)]
    return mode


DEFAULT_POLICY = MatrixPolicy()


def matrix_as_markdown(policy: MatrixPolicy = DEFAULT_POLICY) -> str:
    """The effective matrix as the Markdown table in docs/decisions.md and docs/concepts.md."""
    lines = ["| health | risk | mode | behaviour |", "|---|---|---|---|"]
    for (health, risk), _ in DEFAULT_MATRIX.items():
        mode = mode_for(policy, health, risk)
        lines.append(f"| {health} | {risk} | {mode} | {MODE_BEHAVIOURS[mode].summary} |")
    return "\n".join(lines)
