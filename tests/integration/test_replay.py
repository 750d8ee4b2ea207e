"""`canarygate replay` against the real fixture Prometheus: a week of storefront history
(lab/histories.py, WEEK_JOURNEYS and WEEK_CANARIES) replayed with examples/storefront-gate.yaml.

The week holds, by their time (FIXTURE_NOW is Thursday 2026-01-15 12:00 UTC):
- Fri 01-09 12:00, the canary fails 20 % of its requests for one minute (an old blip);
- Sat 01-10 12:00, customers see 5 % errors for one minute (burn 50 over that minute);
- Mon 01-12 12:00, browse's exporter stops for 20 minutes;
- Tue 01-13 12:00, an incident: 10 % errors (burn 100) for an hour;
- Tue 01-13 19:05, the canary fails 20 % of its requests for one minute again.
The gate is high risk (two passing evaluations per step) and its guardrail rolls back after
two consecutive failures, so neither canary blip may roll back, the customer blip may not
freeze, and the incident must.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.prometheus import RunningPrometheus

from .running import Cli, CliResult

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STOREFRONT = str(EXAMPLES / "storefront-gate.yaml")
WEEK = ("--from", "2026-01-08T12:00:00Z", "--to", "2026-01-15T12:00:00Z")
PASSING = "ConsecutivePassesNeeded"  # with the weight held, a passing evaluation
# Tuesday's incident, from a rollout that starts 15 minutes into it until the evening.
INCIDENT_DAY = ("--from", "2026-01-13T12:15:00Z", "--to", "2026-01-13T20:00:00Z")


def replay(cli: Cli, prometheus: RunningPrometheus, *args: str) -> CliResult:
    result = cli("replay", "-f", STOREFRONT, "--prometheus", prometheus.url, *args)
    assert result.code == 0, result.stderr
    return result


def entry_at(document: dict[str, Any], at: str) -> dict[str, Any]:
    """The timeline entry (a run of like evaluations) holding the instant `at`."""
    found: dict[str, Any] = next(e for e in document["timeline"] if e["at"] <= at <= e["until"])
    return found


@pytest.fixture(scope="module")
def held_week(cli: Cli, prometheus: RunningPrometheus) -> tuple[dict[str, Any], str]:
    """The week with the canary held at 25 %: what the gate would have said at every minute.
    Run once for the module (10,081 evaluations), with progress on stderr."""
    result = replay(
        cli, prometheus, *WEEK, "--step", "1m", "--weight-path", "fixed:25", "-o", "json"
    )
    return result.document, result.stderr


def test_a_week_held_at_25_percent_gives_the_known_timeline(
    held_week: tuple[dict[str, Any], str],
) -> None:
    document, _ = held_week
    assert document["evaluations"] == 7 * 1440 + 1
    assert (document["step"], document["weightPath"]) == ("1m", "fixed:25")
    changes = [
        (e["at"], e["until"], e["health"], e["mode"], e["reasonCodes"][0])
        for e in document["timeline"]
    ]
    assert changes == [
        ("2026-01-08T12:00:00Z", "2026-01-09T12:00:00Z", "green", "guarded", PASSING),
        ("2026-01-09T12:01:00Z", "2026-01-09T12:01:00Z", "green", "guarded", "GuardrailFailed"),
        ("2026-01-09T12:02:00Z", "2026-01-12T12:04:00Z", "green", "guarded", PASSING),
        ("2026-01-12T12:05:00Z", "2026-01-12T12:20:00Z", "unknown", "hold", "Hold"),
        ("2026-01-12T12:21:00Z", "2026-01-13T12:08:00Z", "green", "guarded", PASSING),
        ("2026-01-13T12:09:00Z", "2026-01-13T13:28:00Z", "red", "freeze", "Hold"),
        # Out of red, the freeze cools down for 10 minutes (spec.policy.freezeCooldown).
        ("2026-01-13T13:29:00Z", "2026-01-13T13:38:00Z", "yellow", "freeze", "FreezeCooldown"),
        ("2026-01-13T13:39:00Z", "2026-01-13T18:57:00Z", "yellow", "delay", "Hold"),
        ("2026-01-13T18:58:00Z", "2026-01-13T19:06:00Z", "green", "guarded", PASSING),
        ("2026-01-13T19:07:00Z", "2026-01-13T19:07:00Z", "green", "guarded", "GuardrailFailed"),
        ("2026-01-13T19:08:00Z", "2026-01-15T12:00:00Z", "green", "guarded", PASSING),
    ]  # fmt: skip
    summary = document["summary"]
    assert summary["healthSeconds"] == {
        "green": 579_360.0,
        "unknown": 960.0,
        "red": 4_800.0,
        "yellow": 19_740.0,
    }
    assert summary["end"] == {"phase": "Progressing", "weight": 25}


def test_the_old_canary_blips_hold_and_never_roll_back(
    held_week: tuple[dict[str, Any], str],
) -> None:
    document, _ = held_week
    for at in ("2026-01-09T12:01:00Z", "2026-01-13T19:07:00Z"):
        blip = entry_at(document, at)
        assert (blip["action"], blip["evaluations"]) == ("hold", 1)
        assert "failure 1 of 2 before rollback" in blip["reasons"][0]
        assert "canary 0.2 > max 0.01" in blip["reasons"][0]
    assert "rollback" not in document["summary"]["actions"]
    assert all(e["action"] != "rollback" for e in document["timeline"])


def test_the_customer_blip_does_not_freeze(
    held_week: tuple[dict[str, Any], str], cli: Cli, prometheus: RunningPrometheus
) -> None:
    """The minute of 5 % errors burns at 10 over 5m, far below 14.4 over 1h: green."""
    document, _ = held_week
    quiet = entry_at(document, "2026-01-10T12:01:00Z")
    assert (quiet["health"], quiet["mode"]) == ("green", "guarded")
    assert quiet["at"] == "2026-01-09T12:02:00Z"  # nothing changed around the blip
    evaluated = cli(
        "evaluate", "-f", STOREFRONT, "--prometheus", prometheus.url,
        "--at", "2026-01-10T12:01:00Z", "--weight", "25", "-o", "json",
    )  # fmt: skip
    assert evaluated.code == 0, evaluated.stderr
    storefront = evaluated.document["journeys"][0]
    assert storefront["burnRates"]["5m"] == pytest.approx(10, rel=0.05)  # the blip is there
    assert storefront["burnRates"]["1h"] < 14.4
    assert evaluated.document["health"] == "green"


def test_the_incident_freezes_and_then_delays(held_week: tuple[dict[str, Any], str]) -> None:
    document, _ = held_week
    incident = entry_at(document, "2026-01-13T12:30:00Z")
    assert (incident["health"], incident["mode"], incident["action"]) == ("red", "freeze", "hold")
    assert incident["reasons"][0] == "hold: customer health is red; traffic is frozen"
    assert any("journey storefront is red: burn rate" in r for r in incident["reasons"])
    assert document["summary"]["frozen"] == [
        {"from": "2026-01-13T12:09:00Z", "to": "2026-01-13T13:38:00Z", "seconds": 5_400.0}
    ]
    cooling = entry_at(document, "2026-01-13T13:30:00Z")
    assert (cooling["health"], cooling["mode"], cooling["action"]) == ("yellow", "freeze", "hold")
    assert cooling["reasons"][0] == (
        "hold: frozen: storefront red since 12:09:00 UTC; cooldown until 13:39:00 UTC (health "
        "must stay out of red for 10m, or clear it: "
        "canarygate.io/clear-freeze=2026-01-13T12:09:00Z)"
    )
    after = entry_at(document, "2026-01-13T15:00:00Z")
    assert (after["health"], after["mode"], after["action"]) == ("yellow", "delay", "hold")


def test_stale_data_is_reported_and_held(held_week: tuple[dict[str, Any], str]) -> None:
    """browse's exporter stopped at 12:00 (last sample 11:59:30): past maxSampleAge (5m) its
    data counts as silence, so the gate holds, and the replay says so."""
    document, _ = held_week
    gap = entry_at(document, "2026-01-12T12:05:00Z")
    assert (gap["health"], gap["mode"], gap["action"]) == ("unknown", "hold", "hold")
    assert "StaleData" in gap["reasonCodes"]
    assert gap["freshness"]["browse"].startswith("stale")
    assert gap["freshness"]["storefront"] == "1m"
    assert document["summary"]["staleEvaluations"] == 15


def test_a_week_is_fetched_with_a_few_range_requests(held_week: tuple[dict[str, Any], str]) -> None:
    """Range queries shared by every evaluation, not one instant query per point; progress is
    shown on a range this long, on stderr (stdout stays JSON)."""
    document, stderr = held_week
    fetch = document["fetch"]
    assert fetch["queries"] == 37
    assert 0 < fetch["rangeRequests"] <= 20
    assert fetch["refusedChunks"] == fetch["unavailableChunks"] == 0
    assert "replay: fetching" in stderr
    assert "replay: deciding 10,081/10,081 (100%)" in stderr


def test_a_rollout_during_the_incident_waits_then_ramps_past_a_blip(
    cli: Cli, prometheus: RunningPrometheus
) -> None:
    """Simulated: the weight moves as the decisions say, from 0 %, as the operator would."""
    document = replay(cli, prometheus, *INCIDENT_DAY, "-o", "json").document
    timeline = [
        (e["at"][11:16], e["action"], e["weight"]["current"], e["weight"]["next"], e["health"],
         e["mode"])
        for e in document["timeline"]
    ]  # fmt: skip
    assert timeline == [
        ("12:15", "hold", 0, 0, "red", "freeze"),
        ("13:29", "hold", 0, 0, "yellow", "freeze"),  # the freeze's 10-minute cooldown
        ("13:39", "hold", 0, 0, "yellow", "delay"),
        ("18:58", "hold", 0, 0, "green", "guarded"),
        ("18:59", "advance", 0, 5, "green", "guarded"),
        ("19:00", "hold", 5, 5, "green", "guarded"),
        ("19:01", "advance", 5, 10, "green", "guarded"),
        ("19:02", "hold", 10, 10, "green", "guarded"),
        ("19:03", "advance", 10, 25, "green", "guarded"),
        ("19:04", "hold", 25, 25, "green", "guarded"),
        ("19:05", "advance", 25, 50, "green", "guarded"),
        ("19:06", "hold", 50, 50, "green", "guarded"),
        ("19:07", "hold", 50, 50, "green", "guarded"),  # the canary blip: failure 1 of 2
        ("19:08", "hold", 50, 50, "green", "guarded"),  # passes count again from 1
        ("19:09", "advance", 50, 100, "green", "guarded"),
        ("19:10", "hold", 100, 100, "green", "guarded"),
        ("19:11", "promote", 100, 100, "green", "guarded"),
        ("19:12", "hold", 100, 100, "green", "guarded"),
    ]
    assert document["timeline"][12]["reasonCodes"][0] == "GuardrailFailed"
    assert document["timeline"][13]["reasons"][0].startswith("hold: passing evaluation 1 of 2")
    summary = document["summary"]
    assert [m["at"][11:16] for m in summary["moves"]] == [
        "18:59", "19:01", "19:03", "19:05", "19:09", "19:11"
    ]  # fmt: skip
    assert summary["end"] == {"phase": "Promoted", "weight": 100}
    assert summary["actions"] == {"hold": 460, "advance": 5, "promote": 1}


def test_the_table_says_what_froze_it(cli: Cli, prometheus: RunningPrometheus) -> None:
    out = replay(cli, prometheus, *INCIDENT_DAY).stdout
    lines = out.splitlines()
    assert lines[0] == (
        "Replay of shop/storefront-v42 from 2026-01-13T12:15:00Z to 2026-01-13T20:00:00Z, "
        "every 1m (466 evaluations), weight path simulate"
    )
    assert lines[2].split() == ["TIME", "FOR", "ACTION", "WEIGHT", "HEALTH", "MODE", "REASON"]
    assert lines[3].startswith("2026-01-13T12:15:00Z  1h 14m  hold     0%")
    frozen = next(line for line in lines if line.lstrip().startswith("frozen"))
    assert "2026-01-13T12:15:00Z .. 2026-01-13T13:38:00Z (1h 24m)" in frozen
    assert "journey storefront: burn rate" in frozen
    assert any(line.strip().startswith("end:      Promoted at 100%") for line in lines)


@pytest.mark.parametrize("at", ["2026-01-13T12:30:00Z", "2026-01-13T19:07:00Z"])
def test_a_replayed_instant_decides_as_evaluate_does(
    cli: Cli, prometheus: RunningPrometheus, at: str
) -> None:
    """One point read from a range query decides exactly as the instant query at that time."""
    replayed = replay(
        cli, prometheus, "--from", at, "--to", at, "--weight", "25", "-o", "json"
    ).document
    evaluated = cli(
        "evaluate", "-f", STOREFRONT, "--prometheus", prometheus.url, "--at", at,
        "--weight", "25", "-o", "json",
    )  # fmt: skip
    assert evaluated.code == 0, evaluated.stderr
    (point,) = replayed["timeline"]
    live = evaluated.document
    for key in ("action", "weight", "health", "risk", "mode", "reasons", "reasonCodes"):
        assert point[key] == live[key], key


def test_the_plot_holds_every_series(
    cli: Cli, prometheus: RunningPrometheus, tmp_path: Path
) -> None:
    svg, html, png = tmp_path / "day.svg", tmp_path / "day.html", tmp_path / "day.png"
    for path in (svg, html, png):
        replay(cli, prometheus, *INCIDENT_DAY, "-q", "--plot", str(path))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = [
        "weight", "decision-advance", "decision-promote", "decision-guardrail-failed",
        "health-band", "health-red", "health-yellow", "health-green",
        *(f"burn-{j}-{w}" for j in ("storefront", "browse")
          for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
        "threshold-red-14.4", "threshold-red-6", "threshold-yellow-3", "threshold-yellow-1",
        "budget-storefront", "budget-browse", "budget-bound-red-0", "budget-bound-yellow-0.25",
        "guardrail-error-rate-canary", "guardrail-error-rate-baseline",
        "guardrail-error-rate-limit", "guardrail-error-rate-max",
    ]  # fmt: skip
    for text in (svg.read_text(), html.read_text()):
        missing = [gid for gid in expected if f'id="{gid}"' not in text]
        assert missing == []
    assert "decision-rollback" not in svg.read_text()
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    report = page[page.index('<pre id="report">') :]
    assert "Replay of shop/storefront-v42 from 2026-01-13T12:15:00Z" in report
    assert "frozen    2026-01-13T12:15:00Z .. 2026-01-13T13:38:00Z" in report
