"""How the canary's weight moves during a replay: as the decisions say (`simulate`, what the
operator would have done), or held at one weight (`fixed:N`, "what would the gate have said
all week at 25 %?")."""

from __future__ import annotations

from dataclasses import dataclass, replace

from canarygate.core.decisions import Decision
from canarygate.core.state import GateState
from canarygate.core.vocabulary import TERMINAL_PHASES, Phase


class WeightPathError(ValueError):
    """A weight path that is neither `simulate` nor `fixed:N` with N in 0..100."""


@dataclass(frozen=True)
class WeightPath:
    """`fixed` is None for `simulate`, else the weight every evaluation is made at."""

    fixed: int | None = None

    @classmethod
    def parse(cls, text: str) -> WeightPath:
        if text == "simulate":
            return cls()
        kind, colon, number = text.partition(":")
        if kind != "fixed" or not colon:
            raise WeightPathError(f"{text!r} is neither simulate nor fixed:N")
        try:
            weight = int(number)
        except ValueError:
            raise WeightPathError(f"{text!r}: {number!r} is not a whole percent") from None
        if not 0 <= weight <= 100:
            raise WeightPathError(f"{text!r}: the weight must be within 0..100")
        return cls(weight)

    @property
    def text(self) -> str:
        return "simulate" if self.fixed is None else f"fixed:{self.fixed}"

    def first_state(self, remembered: GateState) -> GateState:
        """The state the replay starts from, given what the manifest's status remembers."""
        if self.fixed is None:
            return remembered
        return _held(remembered.at_weight(self.fixed))

    def next_state(self, decision: Decision) -> GateState:
        """What the next evaluation starts from. Simulated, the operator persists the decision's
        state (a rollback or a promotion ends the rollout, as live); held, the weight stays
        where it is and the rollout never ends, while passes and failure counts carry on."""
        if self.fixed is None:
            return decision.state
        return _held(decision.state.at_weight(self.fixed))


def _held(state: GateState) -> GateState:
    phase = state.phase
    if phase in TERMINAL_PHASES or phase is Phase.INVALID:
        phase = Phase.PROGRESSING if state.weight > 0 else Phase.PENDING
    return replace(state, phase=phase)
