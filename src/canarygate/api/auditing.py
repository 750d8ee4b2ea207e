"""A gate's spec as a flat map of field paths to value texts, for the audit of spec edits
(core.auditing compares two of them).

The validated spec, defaults included, is flattened: `spec.canary.guardrails[error-rate].max`
-> `0.01`. Items of a list that have a name are addressed by it (so reordering a list changes
nothing), others by index; an empty list is no list. Scalars are kept as text (booleans
`true`/`false`); a list of scalars is one value; a text longer than 64 characters (a query) is
replaced by a digest, so the map stays small enough for the status. The revision is left out:
a new one starts a new rollout, which is not an edit of this one.

What an omitted block means is written out, so that writing a default down, or removing it,
changes nothing: the health tiers, the freshness bound, the matrix (every cell), the guarded
passes and the freeze cooldown are the effective ones (core.specs, core.matrix), and so is the
exposure window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from canarygate.api.converting import to_gate_spec
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.core.matrix import DEFAULT_MATRIX, mode_for
from canarygate.core.specs import GateSpec, HealthTier

_LONG: Final = 64
_LEFT_OUT: Final = frozenset({"spec.canary.revision"})


# Replaced by their effective values below.
_EFFECTIVE: Final = (
    "spec.health.red",
    "spec.health.yellow",
    "spec.health.maxSampleAge",
    "spec.policy.matrix",
    "spec.policy.guardedPasses",
    "spec.policy.freezeCooldown",
    "spec.canary.exposure.window",
)


def spec_fields(gate: CanaryGate) -> dict[str, str]:
    spec = gate.spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    found: dict[str, str] = {}
    _flatten("spec", spec, found)
    kept = {
        path: value
        for path, value in found.items()
        if path not in _LEFT_OUT and not path.startswith(_EFFECTIVE)
    }
    return {**kept, **_effective(to_gate_spec(gate, read_recorded=False))}


def _effective(spec: GateSpec) -> dict[str, str]:
    found: dict[str, str] = {
        "spec.health.maxSampleAge": spec.health.max_sample_age.text,
        "spec.policy.guardedPasses": str(spec.policy.guarded_passes),
        "spec.policy.freezeCooldown": spec.policy.freeze_cooldown.text,
    }
    for name, tier in (("red", spec.health.red), ("yellow", spec.health.yellow)):
        found.update(_tier(f"spec.health.{name}", tier))
    for health, risk in DEFAULT_MATRIX:
        mode = mode_for(spec.policy, health, risk)
        found[f"spec.policy.matrix.{health}.{risk}"] = str(mode)
    if spec.canary.exposure is not None:
        found["spec.canary.exposure.window"] = spec.canary.exposure_window.text
    return found


def _tier(path: str, tier: HealthTier) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, rule in enumerate(tier.burn_rates):
        found[f"{path}.burnRates[{index}].long"] = rule.long.text
        found[f"{path}.burnRates[{index}].short"] = rule.short.text
        found[f"{path}.burnRates[{index}].threshold"] = _scalar(rule.threshold)
    for key, bound in (
        ("budgetRemainingAtMost", tier.budget_remaining_at_most),
        ("budgetRemainingBelow", tier.budget_remaining_below),
    ):
        if bound is not None:
            found[f"{path}.{key}"] = _scalar(bound)
    return found


def _flatten(path: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{path}.{key}", item, out)
    elif isinstance(value, list) and not value:
        return  # an empty list is no list
    elif isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        for index, item in enumerate(value):
            name = item.get("name")
            _flatten(f"{path}[{name if isinstance(name, str) else index}]", item, out)
    elif isinstance(value, list):
        out[path] = _text("[" + ", ".join(_scalar(v) for v in value) + "]")
    else:
        out[path] = _text(_scalar(value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(value: str) -> str:
    if len(value) <= _LONG:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]
