"""docs/reference.md is generated from the CRD (scripts/render-crd-reference): it must be the
page the current schema renders, and it must follow the schema when the schema changes."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "render-crd-reference"
PAGE = REPO / "docs" / "reference.md"


def renderer() -> dict[str, Any]:
    return runpy.run_path(str(SCRIPT))


def test_the_reference_is_the_page_the_crd_renders() -> None:
    assert PAGE.read_text() == renderer()["render"](), (
        "docs/reference.md is stale: run make reference"
    )


def test_every_field_and_rule_of_the_crd_is_in_the_reference() -> None:
    crd = yaml.safe_load((REPO / "crds" / "canarygate.io_canarygates.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    page = PAGE.read_text()
    walk = renderer()["walk"]
    paths = [path for root in ("spec", "status")
             for path, _, _ in walk(schema["properties"][root], root)]  # fmt: skip
    assert len(paths) > 100
    for path in paths[1:]:
        assert f"| `{path}` |" in page or path in ("spec", "status"), path
    messages = [r["message"] for r in _rules(schema)]
    assert len(messages) > 20
    for message in messages:
        assert " ".join(message.split()).replace("|", "\\|") in page, message


def _rules(node: Any) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if isinstance(node, dict):
        found += node.get("x-kubernetes-validations") or []
        for key, value in node.items():
            if key != "x-kubernetes-validations":
                found += _rules(value)
    elif isinstance(node, list):
        for value in node:
            found += _rules(value)
    return found


def test_a_changed_schema_changes_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crd = (REPO / "crds" / "canarygate.io_canarygates.yaml").read_text()
    changed = tmp_path / "crd.yaml"
    changed.write_text(crd.replace("Target percent of good events", "Objective in percent"))
    module = renderer()
    render = module["render"]
    monkeypatch.setitem(render.__globals__, "CRD", changed)
    page = render()
    assert "Objective in percent" in page
    assert page != PAGE.read_text()
