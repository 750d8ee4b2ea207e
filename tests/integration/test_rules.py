"""`canarygate rules` in a real Prometheus: the emitted rule file is loaded by Prometheus, its
recording rules are backfilled over Tuesday's incident in the fixture history (promtool tsdb
create-blocks-from rules, reading the fixture Prometheus), and a gate that reads the recorded
ratios (`sli.recorded`) decides exactly as the gate that reads the raw queries. The page and
ticket alerts read the same recorded numbers: they fire when the gate turns red and yellow.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lab.fixture_prometheus import fixture_blocks
from lab.prometheus import RunningPrometheus, start_prometheus

from .running import Cli, CliResult

pytestmark = pytest.mark.integration
STOREFRONT = Path(__file__).resolve().parents[2] / "examples" / "storefront-gate.yaml"
# Backfilled from the fixture: Tuesday's incident (10 % errors from 12:00 to 13:00) and after.
BACKFILL = ("2026-01-13T11:55:00Z", "2026-01-13T14:05:00Z")
GROUPS = {
    f"sloth-slo-{kind}-shop-{journey}"
    for kind in ("sli-recordings", "meta-recordings", "alerts")
    for journey in ("storefront", "browse")
}
HINT = re.compile(r"^#   shop/storefront-v42 journey (\S+): sli\.recorded: '(.+)'$")


@dataclass(frozen=True)
class Recorded:
    prometheus: RunningPrometheus
    rules: dict[str, Any]
    recorded: dict[str, str]  # journey -> the sli.recorded `canarygate rules` tells it to set


@pytest.fixture(scope="module")
def recorded(
    cli: Cli, prometheus: RunningPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recorded]:
    work = tmp_path_factory.mktemp("rules")
    emitted = cli("rules", "-f", str(STOREFRONT))
    assert emitted.code == 0, emitted.stderr
    rule_file = work / "rules.yaml"
    rule_file.write_text(emitted.stdout)
    checked = subprocess.run(
        ["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    blocks = work / "backfill"
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "rules", "--quiet", f"--url={prometheus.url}",
         f"--start={BACKFILL[0]}", f"--end={BACKFILL[1]}", "--eval-interval=60s",
         f"--output-dir={blocks}", str(rule_file)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    data = work / "data"
    shutil.copytree(fixture_blocks(), data)
    for block in blocks.iterdir():
        shutil.copytree(block, data / block.name)
    config = f"global: {{evaluation_interval: 2s}}\nrule_files: [{rule_file}]\n"
    running = start_prometheus(config_yaml=config, data_dir=data)
    hints = [HINT.match(line) for line in emitted.stdout.splitlines()]
    try:
        yield Recorded(
            running,
            yaml.safe_load(emitted.stdout),
            {m.group(1): m.group(2) for m in hints if m is not None},
        )
    finally:
        running.stop()


def reading_recorded(recorded: dict[str, str]) -> dict[str, Any]:
    """The example gate with every journey reading what `canarygate rules` records."""
    gate: dict[str, Any] = yaml.safe_load(STOREFRONT.read_text())
    for journey in gate["spec"]["journeys"]:
        journey["sli"]["recorded"] = recorded[journey["name"]]
    return gate


def last_recorded(recorded: Recorded, at: str) -> str:
    """The instant of the rules' last evaluation at or before `at`, in unix seconds. A recorded
    series is only as recent as its rule's last evaluation (promtool, like Prometheus, spreads
    groups over the interval), so raw and recorded are compared at that instant."""
    answer = httpx.post(
        f"{recorded.prometheus.url}/api/v1/query",
        data={"query": 'timestamp(slo:sli_error:ratio_rate5m{sloth_id="shop-storefront"})',
              "time": at},
        timeout=30,
    ).json()  # fmt: skip
    (sample,) = answer["data"]["result"]
    instant: str = sample["value"][1]
    return instant


def evaluate(cli: Cli, gate: Path, url: str, at: str) -> dict[str, Any]:
    result: CliResult = cli(
        "evaluate", "-f", str(gate), "--prometheus", url, "--at", at, "--weight", "25", "-o", "json"
    )
    assert result.code == 0, result.stderr
    return result.document


def test_prometheus_loads_and_evaluates_every_rule(recorded: Recorded) -> None:
    deadline = time.monotonic() + 120
    while True:
        answer = httpx.get(f"{recorded.prometheus.url}/api/v1/rules", timeout=10).json()
        groups = {g["name"]: g for g in answer["data"]["groups"]}
        evaluated = all(not g["lastEvaluation"].startswith("0001") for g in groups.values())
        if evaluated or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert set(groups) == GROUPS
    assert evaluated
    rules = [r for g in groups.values() for r in g["rules"]]
    assert len(rules) == 2 * (8 + 7 + 2)
    assert [r["name"] for r in rules if r["health"] != "ok"] == []


def test_the_header_names_a_recorded_sli_for_every_journey(recorded: Recorded) -> None:
    assert recorded.recorded == {
        "storefront": 'slo:sli_error:ratio_rate{{window}}{sloth_id="shop-storefront"}',
        "browse": 'slo:sli_error:ratio_rate{{window}}{sloth_id="shop-browse"}',
    }


@pytest.mark.parametrize(
    ("at", "health"),
    [
        ("2026-01-13T11:58:00Z", "green"),
        ("2026-01-13T12:05:00Z", "green"),  # burning at 100 over 5m, but not yet over 1h
        ("2026-01-13T12:10:00Z", "red"),
        ("2026-01-13T12:30:00Z", "red"),
        ("2026-01-13T13:45:00Z", "yellow"),
    ],
)
def test_the_gate_decides_the_same_from_recorded_rules_as_from_raw_queries(
    cli: Cli, recorded: Recorded, tmp_path: Path, at: str, health: str
) -> None:
    from_rules = tmp_path / "recorded.yaml"
    from_rules.write_text(yaml.safe_dump(reading_recorded(recorded.recorded), sort_keys=False))
    instant = last_recorded(recorded, at)
    assert 0 <= datetime.fromisoformat(at).timestamp() - float(instant) < 60
    raw = evaluate(cli, STOREFRONT, recorded.prometheus.url, instant)
    read = evaluate(cli, from_rules, recorded.prometheus.url, instant)
    assert raw["health"] == health
    for key in ("health", "mode", "action", "weight", "reasons", "reasonCodes"):
        assert read[key] == raw[key], key
    for mine, theirs in zip(read["journeys"], raw["journeys"], strict=True):
        assert mine["health"] == theirs["health"]
        assert mine["burnRates"] == pytest.approx(theirs["burnRates"], rel=1e-9)
        assert mine["budgetRemaining"] == pytest.approx(theirs["budgetRemaining"], rel=1e-9)


def test_a_gate_reading_rules_nobody_recorded_is_silent(
    cli: Cli, recorded: Recorded, prometheus: RunningPrometheus, tmp_path: Path
) -> None:
    """The fixture Prometheus holds no recorded series: the same gate holds on silence there,
    which shows that it reads the recorded ratios and nothing else."""
    from_rules = tmp_path / "recorded.yaml"
    from_rules.write_text(yaml.safe_dump(reading_recorded(recorded.recorded), sort_keys=False))
    answer = evaluate(cli, from_rules, prometheus.url, "2026-01-13T12:30:00Z")
    assert (answer["health"], answer["action"]) == ("unknown", "hold")
    assert answer["journeys"][0]["burnRates"]["1h"] is None


@pytest.mark.parametrize(
    ("at", "firing"),
    [
        ("2026-01-13T12:05:00Z", set()),
        ("2026-01-13T12:30:00Z", {"page"}),  # 1d burns at 2.3 yet: no ticket
        ("2026-01-13T13:45:00Z", {"ticket"}),
    ],
)
def test_the_alerts_fire_when_the_gate_turns_red_or_yellow(
    recorded: Recorded, at: str, firing: set[str]
) -> None:
    alerts = next(
        g["rules"]
        for g in recorded.rules["groups"]
        if g["name"] == "sloth-slo-alerts-shop-storefront"
    )
    found = set()
    for alert in alerts:
        answer = httpx.post(
            f"{recorded.prometheus.url}/api/v1/query",
            data={"query": alert["expr"], "time": at},
            timeout=30,
        ).json()
        assert answer["status"] == "success", answer
        if answer["data"]["result"]:
            found.add(alert["labels"]["severity"])
    assert found == firing
