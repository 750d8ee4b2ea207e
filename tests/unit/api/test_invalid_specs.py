"""Invalid gates are refused with the offending field named (CLI side of the shared cases)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from canarygate.api import load_gates, parse_gate, to_gate_spec
from canarygate.api.fields import (
    BURN_WINDOW_BOUNDS,
    COMPLIANCE_WINDOW_BOUNDS,
    INTERVAL_BOUNDS,
    TIMEOUT_BOUNDS,
    DurationBounds,
)
from canarygate.core import SpecError
from tests.fixtures.invalid_gates import CASES, EXAMPLE, InvalidCase, build

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_invalid_gate_is_refused_naming_the_field(case: InvalidCase) -> None:
    with pytest.raises(SpecError) as raised:
        parse_gate(build(case))
    assert raised.value.field == case.field
    assert case.message in raised.value.message


EXAMPLE_GATES = sorted((*ROOT.glob("examples/*.yaml"), *ROOT.glob("examples/demo/*-gate.yaml")))


@pytest.mark.parametrize("path", EXAMPLE_GATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_are_valid(path: Path) -> None:
    for gate in load_gates(path):
        assert to_gate_spec(gate).journeys


def test_wrong_kind_and_broken_yaml_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"expected canarygate\.io/v1alpha1 CanaryGate"):
        parse_gate({"apiVersion": "v1", "kind": "ConfigMap"})
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_gates(broken)
    with pytest.raises(SpecError, match="cannot read"):
        load_gates(tmp_path / "absent.yaml")


def test_list_documents_are_accepted(tmp_path: Path) -> None:
    gate = yaml.safe_load(EXAMPLE.read_text())
    second = {**gate, "metadata": {"name": "other", "namespace": "shop"}}
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [gate, second]}))
    assert [g.name for g in load_gates(path)] == ["checkout-v2", "other"]


def test_health_override_replaces_only_what_it_states() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["spec"]["health"] = {"yellow": {"budgetRemainingBelow": 0.5}}
    spec = to_gate_spec(parse_gate(document))
    assert spec.health.yellow.budget_remaining_below == 0.5
    assert len(spec.health.yellow.burn_rates) == 2
    assert spec.health.red.budget_remaining_at_most == 0.0


def _with(path: str, value: object) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    node: Any = document
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[parts[-1]] = value
    return document


BOUNDED_DURATIONS = [
    ("spec.prometheus.timeout", TIMEOUT_BOUNDS),
    ("spec.journeys.0.window", COMPLIANCE_WINDOW_BOUNDS),
    ("spec.canary.interval", INTERVAL_BOUNDS),
]


@pytest.mark.parametrize(
    ("path", "bounds"), BOUNDED_DURATIONS, ids=[p for p, _ in BOUNDED_DURATIONS]
)
def test_durations_are_accepted_exactly_within_their_bounds(
    path: str, bounds: DurationBounds
) -> None:
    shortest, longest = bounds.range
    for accepted in (bounds.shortest, bounds.longest, f"{longest.milliseconds}ms"):
        parse_gate(_with(path, accepted))
    for refused in (f"{shortest.milliseconds - 1}ms", f"{longest.milliseconds + 1}ms"):
        with pytest.raises(SpecError, match=bounds.message):
            parse_gate(_with(path, refused))


def test_burn_rate_windows_are_bounded() -> None:
    rule = {"long": "400d", "short": "1m", "threshold": 1}
    parse_gate(_with("spec.health", {"red": {"burnRates": [rule]}}))
    for long, short in (("400d1ms", "1h"), ("1h", "59s")):
        rule = {"long": long, "short": short, "threshold": 1}
        with pytest.raises(SpecError, match=BURN_WINDOW_BOUNDS.message):
            parse_gate(_with("spec.health", {"red": {"burnRates": [rule]}}))


def test_a_fraction_less_number_is_an_integer_as_for_the_api_server() -> None:
    gate = parse_gate(_with("spec.canary.steps", [5.0, 50.0, 100]))
    assert gate.spec.canary.steps == [5, 50, 100]
    assert all(type(step) is int for step in gate.spec.canary.steps)


def test_a_single_step_of_100_is_fine_without_guardrails() -> None:
    document = _with("spec.canary.steps", [100])
    del document["spec"]["canary"]["guardrails"]
    assert parse_gate(document).spec.canary.steps == [100]
    document["spec"]["canary"]["guardrails"] = []
    assert parse_gate(document).spec.canary.steps == [100]


def test_unknown_status_fields_are_ignored_like_the_api_server_prunes_them() -> None:
    document = _with("status", {"weight": 10, "fromANewerOperator": {"x": 1}})
    assert parse_gate(document).status is not None
    with pytest.raises(SpecError, match="must be an integer, got a string"):
        parse_gate(_with("status", {"weight": "10"}))


def test_names_and_namespaces_are_kubernetes_names() -> None:
    gate = parse_gate(_with("metadata", {"name": "a.b-c", "uid": "x", "labels": {"k": "v"}}))
    assert (gate.name, gate.namespace) == ("a.b-c", "default")
    for name in ("a_b", "-a", "a" * 254, "a\n", ""):
        with pytest.raises(SpecError) as raised:
            parse_gate(_with("metadata", {"name": name}))
        assert raised.value.field == "metadata.name"
