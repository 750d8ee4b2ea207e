"""The pages in docs/ say what the code does: the matrix is the effective default, the metrics
are the ones the operator exports, `canarygate check`'s exit codes are the command's, and every
link between the pages (and from the README) leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from canarygate.cli.readings import EXIT_CODES
from canarygate.core.judging import actions_as_markdown, hooks_as_markdown
from canarygate.core.matrix import matrix_as_markdown
from canarygate.evaluating import ClientPool
from canarygate.kube import ApiStats
from canarygate.operator.observing import Observer

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [
    "concepts.md",
    "decisions.md",
    "resource.md",
    "reference.md",
    "incidents.md",
    "cli.md",
    "replay.md",
    "providers.md",
    "gitops.md",
    "operations.md",
    "notifications.md",
    "comparison.md",
    "verdict-api.md",
    "argo-rollouts.md",
    "flagger.md",
    "kargo.md",
    "development.md",
]
# Every Markdown page a reader follows links from: the README, the docs, and the READMEs of the
# e2e scripts and the chart, and the changelog.
MARKDOWN = [
    "README.md",
    *(f"docs/{p}" for p in PAGES),
    "e2e/README.md",
    "charts/canarygate/README.md",
    "CHANGELOG.md",
]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings (a repeated one gets -1, -2...); lines in code
    blocks are not headings."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,6} ", line):
            base = slug(line.lstrip("#"))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_the_anchors_are_the_ones_github_makes() -> None:
    page = REPO / "docs" / "cli.md"
    assert "canarygate-evaluate" in anchors(page)
    assert "--explain-which-rule-which-window-which-number" in anchors(page)
    assert "observe-only-specenforcement-observe" in anchors(DOCS / "incidents.md")


def test_every_page_exists_and_the_readme_links_each() -> None:
    readme = (REPO / "README.md").read_text()
    assert sorted(PAGES) == sorted(p.name for p in DOCS.glob("*.md")), "a page missing in PAGES"
    for page in PAGES:
        assert (DOCS / page).is_file(), page
        assert f"](docs/{page})" in readme, f"README.md does not link docs/{page}"


@pytest.mark.parametrize("source", MARKDOWN)
def test_relative_links_lead_to_files_and_headings(source: str) -> None:
    page = REPO / source
    prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)  # code spans: patterns, not links
    for target in LINK.findall(prose):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{source}: {target} leads nowhere"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{source}: no heading #{anchor} in {path}"


def test_the_concepts_page_shows_the_effective_default_matrix() -> None:
    assert matrix_as_markdown() in (DOCS / "concepts.md").read_text()


def test_the_documented_metrics_are_the_exported_ones() -> None:
    observer = Observer()
    observer.attach(ApiStats, ClientPool)
    text = generate_latest(observer.registry).decode()
    exported = {
        name
        for name in re.findall(r"^# TYPE (\w+) ", text, flags=re.MULTILINE)
        if not name.endswith("_created")  # the client's creation timestamps of counters
    }
    page = (DOCS / "operations.md").read_text()
    table = page[page.index("## Metrics") : page.index("## Alerts")]
    # One metric per row; the notifier's own (only with --notify-secret) are named after it.
    documented = set(re.findall(r"^\| `(canarygate_\w+)`", table, flags=re.MULTILINE))
    assert documented == exported
    # The alert rules name exported metrics only.
    alerts = page[page.index("## Alerts") : page.index("## Upgrades")]
    for name in set(re.findall(r"\b(canarygate_[a-z_]+)", alerts)):
        # A histogram is exported as one name and queried by its series (`_bucket`...).
        assert re.sub(r"_(bucket|sum|count)$", "", name) in exported, name


def test_the_verdict_pages_print_the_mappings_the_code_applies() -> None:
    assert actions_as_markdown() in (DOCS / "verdict-api.md").read_text()
    assert hooks_as_markdown() in (DOCS / "flagger.md").read_text()


def test_the_verdict_pages_show_the_examples_as_they_are() -> None:
    """The manifests the Argo Rollouts page prints are the example's own lines."""
    page = (DOCS / "argo-rollouts.md").read_text()
    template = (REPO / "examples" / "argo-rollouts" / "analysis-template.yaml").read_text()
    body = template[template.index("apiVersion:") :]
    assert body.strip() in page
    flagger = (REPO / "examples" / "flagger" / "canary.yaml").read_text()
    canary = flagger[flagger.index("apiVersion: flagger.app/v1beta1") : flagger.index("---")]
    assert canary.strip() in (DOCS / "flagger.md").read_text()
    stage = (REPO / "examples" / "kargo" / "stage.yaml").read_text()
    assert stage[stage.index("apiVersion:") :].strip() in (DOCS / "kargo.md").read_text()


def test_the_cli_page_states_checks_exit_codes() -> None:
    page = (DOCS / "cli.md").read_text()
    section = page[page.index("## Pipelines: `canarygate check`") :]
    for outcome, code in EXIT_CODES.items():
        assert f"| `{code}` |" in section, code
        assert str(outcome) in section, outcome
