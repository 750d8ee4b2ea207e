"""Invalid gates are refused with the offending field named (CLI side of the shared cases)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from canarygate.api import load_gates, parse_gate, to_gate_spec
from canarygate.core import SpecError
from tests.fixtures.invalid_gates import CASES, EXAMPLE, InvalidCase, build

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_invalid_gate_is_refused_naming_the_field(case: InvalidCase) -> None:
    with pytest.raises(SpecError) as raised:
        parse_gate(build(case))
    assert raised.value.field == case.field
    assert case.message in raised.value.message


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
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
