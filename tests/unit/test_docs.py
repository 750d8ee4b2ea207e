"""The README and the pages it moved to docs/ document behaviour that the code defines: keep
them from drifting apart."""

from __future__ import annotations

from pathlib import Path

import yaml

from canarygate.core.matrix import matrix_as_markdown

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def test_the_decisions_page_matrix_is_the_effective_default_matrix() -> None:
    assert matrix_as_markdown() in (REPO / "docs" / "decisions.md").read_text()


def test_readme_starts_with_the_demo_and_the_tests() -> None:
    commands = [
        line.split("#")[0].strip()
        for line in README.read_text().splitlines()
        if line.startswith("make ")
    ]
    assert commands[:2] == ["make demo", "make test"]


def test_the_incident_example_is_the_example_file() -> None:
    page = (REPO / "docs" / "incidents.md").read_text()
    section = page[page.index("## Incident controls") :]
    block = section[section.index("```yaml\n") + len("```yaml\n") :]
    shown = yaml.safe_load(block[: block.index("```")])
    assert shown == yaml.safe_load((REPO / "examples" / "hotfix-gate.yaml").read_text())
    assert shown["spec"]["risk"]["factors"]["changeType"] == "hotfix"
