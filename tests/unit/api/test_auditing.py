"""The audit of spec edits: which fields changed, and which changes loosen a rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.api.auditing import spec_fields
from canarygate.api.loading import parse_gate
from canarygate.core.auditing import Direction, compare
from tests.fixtures.invalid_gates import example_gate, exposure, health_rule, time_window


def fields(document: dict[str, Any]) -> dict[str, str]:
    return spec_fields(parse_gate(document))


def edited(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    document = copy.deepcopy(base or example_gate())
    node: Any = document
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is None:
        if isinstance(node, list):
            node.pop(int(parts[-1]))
        else:
            node.pop(parts[-1])
    elif isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return document


def change(path: str, value: Any, base: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    before = base or example_gate()
    found = compare(fields(before), fields(edited(path, value, before)))
    return [(c.path, str(c.direction)) for c in found.changes]


G0 = "spec.canary.guardrails[error-rate]"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.journeys.0.objective", 99.5, [("spec.journeys[checkout].objective", "looser")]),
        ("spec.journeys.0.objective", 99.95, [("spec.journeys[checkout].objective", "stricter")]),
        ("spec.journeys.0.critical", False, [("spec.journeys[checkout].critical", "looser")]),
        ("spec.canary.guardrails.0.max", 0.05, [(f"{G0}.max", "looser")]),
        ("spec.canary.guardrails.0.max", 0.005, [(f"{G0}.max", "stricter")]),
        ("spec.canary.guardrails.0.maxIncrease", None, [(f"{G0}.maxIncrease", "looser")]),
        ("spec.canary.guardrails.0.minSamples", 10, [(f"{G0}.minSamples", "looser")]),
        ("spec.canary.guardrails.0.failureLimit", 5, [(f"{G0}.failureLimit", "looser")]),
        ("spec.canary.guardrails.0.severity", "minor", [(f"{G0}.severity", "looser")]),
        ("spec.canary.guardrails.0.canary", "sum(x)", [(f"{G0}.canary", "cannot tell")]),
        ("spec.risk.level", "low", [("spec.risk.level", "looser")]),
        ("spec.risk.factors.customerNeutral", True,
         [("spec.risk.factors.customerNeutral", "looser")]),
        ("spec.canary.steps", [5, 50, 100], [("spec.canary.steps", "recorded")]),
        ("spec.canary.interval", "2m", [("spec.canary.interval", "recorded")]),
        ("spec.canary.revision", "v3", []),  # a new rollout, not an edit
        ("spec.health", {"red": {"burnRates": [{"long": "1h", "short": "5m", "threshold": 20}]}},
         [("spec.health.red.burnRates[0].threshold", "looser"),
          ("spec.health.red.burnRates[1].long", "looser"),
          ("spec.health.red.burnRates[1].short", "looser"),
          ("spec.health.red.burnRates[1].threshold", "looser")]),
        ("spec.health", {"maxSampleAge": "10m"}, [("spec.health.maxSampleAge", "looser")]),
        ("spec.policy", {"guardedPasses": 1}, [("spec.policy.guardedPasses", "looser")]),
        ("spec.policy", {"matrix": {"yellow": {"high": "guarded"}}},
         [("spec.policy.matrix.yellow.high", "looser")]),  # delay -> guarded
    ],
)  # fmt: skip
def test_each_kind_of_edit(path: str, value: Any, expected: list[tuple[str, str]]) -> None:
    assert change(path, value) == expected


def test_a_removed_guardrail_loosens_and_an_added_one_tightens() -> None:
    removed = compare(fields(example_gate()), fields(edited("spec.canary.guardrails.1", None)))
    assert removed.changes
    assert {c.direction for c in removed.changes} == {Direction.LOOSER}
    assert {c.path.split(".")[2] for c in removed.changes} == {"guardrails[p99-latency]"}
    added = compare(fields(edited("spec.canary.guardrails.1", None)), fields(example_gate()))
    assert {c.direction for c in added.changes} == {Direction.STRICTER}
    assert not added.loosened


def test_combined_rules_windows_and_exposure_are_audited() -> None:
    base = edited("spec.health", {"rules": [health_rule()]})
    base = edited("spec.policy", {"windows": [time_window(effect="freeze")]}, base)
    base = edited("spec.canary.exposure", exposure(), base)
    rule = "spec.health.rules[fast-burn]"
    assert change("spec.health.rules.0.budgetRemainingBelow", 0.1, base) == [
        (f"{rule}.budgetRemainingBelow", "looser")
    ]
    assert change("spec.health.rules.0.severity", "ticket", base) == [
        (f"{rule}.severity", "looser")
    ]
    assert change("spec.policy.windows", [], base)[0][1] == "looser"  # the freeze removed
    assert change("spec.canary.exposure.tolerance", 0.8, base) == [
        ("spec.canary.exposure.tolerance", "looser")
    ]
    # Queries are kept as digests: the map stays small, a rewrite is still seen.
    assert fields(base)["spec.canary.exposure.canary"].startswith("sha256:")


def test_checks_the_freeze_cooldown_and_the_incident_fields_are_audited() -> None:
    check = {"name": "probe", "prometheus": {"query": "probe_success", "min": 1}}
    hook = {"name": "hook", "webhook": {"url": "http://checks.example/step"}}
    base = edited("spec.canary.checks", [check, hook])
    probe, webhook = "spec.canary.checks[probe]", "spec.canary.checks[hook]"
    assert change("spec.canary.checks.0.prometheus.min", 0.5, base) == [
        (f"{probe}.prometheus.min", "looser")
    ]
    assert change("spec.canary.checks.1.webhook.timeout", "30s", base) == [
        (f"{webhook}.webhook.timeout", "looser")
    ]
    assert change("spec.canary.checks.0.failureLimit", 3, base) == [
        (f"{probe}.failureLimit", "looser")
    ]
    assert change("spec.canary.checks.0.severity", "critical", base) == [
        (f"{probe}.severity", "stricter")
    ]
    assert {d for _, d in change("spec.canary.checks", [hook], base)} == {"looser"}
    assert change("spec.policy", {"freezeCooldown": "5m"}) == [
        ("spec.policy.freezeCooldown", "looser")
    ]
    assert change("spec.policy", {"freezeCooldown": "10m"}) == []  # the default written out
    assert change("spec.enforcement", "observe") == [("spec.enforcement", "recorded")]
    hotfix = edited("spec.risk.factors", {"changeType": "hotfix", "incident": "INC-1"})
    assert change("spec.risk.factors.incident", "INC-2", hotfix) == [
        ("spec.risk.factors.incident", "recorded")
    ]
    assert ("spec.risk.factors.changeType", "cannot tell") in change(
        "spec.risk.factors", {"changeType": "code"}, hotfix
    )


def test_reordering_named_items_changes_nothing() -> None:
    document = example_gate()
    reordered = copy.deepcopy(document)
    reordered["spec"]["journeys"].reverse()
    assert not compare(fields(document), fields(reordered))


numbers = st.floats(0.001, 1000, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(before=numbers, after=numbers, key=st.sampled_from(["max", "minSamples"]))
def test_a_bound_loosens_exactly_when_it_lets_more_through(
    before: float, after: float, key: str
) -> None:
    path = f"spec.canary.guardrails[g].{key}"
    found = compare({path: repr(before)}, {path: repr(after)})
    if before == after:
        assert not found
        return
    (only,) = found.changes
    looser = after > before if key == "max" else after < before
    assert only.loosens is looser


@settings(max_examples=200, deadline=None)
@given(
    before=st.dictionaries(st.sampled_from(["spec.a", "spec.journeys[j].objective", "spec.b"]),
                           st.sampled_from(["1", "2", "x"])),
    after=st.dictionaries(st.sampled_from(["spec.a", "spec.journeys[j].objective", "spec.b"]),
                          st.sampled_from(["1", "2", "x"])),
)  # fmt: skip
def test_every_difference_is_reported_once_and_nothing_else(
    before: dict[str, str], after: dict[str, str]
) -> None:
    found = compare(before, after)
    differing = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert [c.path for c in found.changes] == sorted(differing)
    assert compare(before, before).changes == ()
