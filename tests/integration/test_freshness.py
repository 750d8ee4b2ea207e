"""Data freshness against the real fixture Prometheus: browse's exporter stopped on Monday
2026-01-12 at 12:00 (its last sample 11:59:30) for 20 minutes (lab/histories.py). A `rate()`
over a long window still answers then; past `spec.health.maxSampleAge` its data is silence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.gates import gate
from lab.prometheus import RunningPrometheus

from .running import Cli, Evaluate

pytestmark = pytest.mark.integration
STOREFRONT = Path(__file__).resolve().parents[2] / "examples" / "storefront-gate.yaml"


def storefront(max_sample_age: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(STOREFRONT.read_text())
    if max_sample_age is not None:
        document["spec"]["health"] = {"maxSampleAge": max_sample_age}
    return document


def browse(answer: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(j for j in answer["journeys"] if j["name"] == "browse")
    return found


def run(evaluate: Evaluate, document: dict[str, Any], at: str) -> dict[str, Any]:
    result = evaluate(document, "--weight", "25", at=at)
    assert result.code == 0, result.stderr
    return result.document


def test_data_a_few_minutes_old_is_fresh_within_the_bound(evaluate: Evaluate) -> None:
    answer = run(evaluate, storefront(), "2026-01-12T12:02:00Z")
    freshness = browse(answer)["freshness"]
    assert freshness == {
        "newestSampleAge": 150.0,
        "maxSampleAge": "5m",
        "stale": False,
        "measured": True,
        "detail": "newest sample 2m30s old",
    }
    assert browse(answer)["health"] == "green"
    assert "StaleData" not in answer["reasonCodes"]


def test_the_same_data_past_a_tighter_bound_is_silence(evaluate: Evaluate) -> None:
    """The 5m window still answers (its samples end at 11:59:30), yet the data is stale."""
    answer = run(evaluate, storefront("1m"), "2026-01-12T12:02:00Z")
    journey = browse(answer)
    assert journey["freshness"]["stale"] is True
    assert journey["burnRates"]["5m"] == pytest.approx(0.2, rel=0.01)  # still reported
    assert journey["health"] == "unknown"
    assert (answer["health"], answer["mode"], answer["action"]) == ("unknown", "hold", "hold")
    assert answer["weight"] == {"current": 25, "next": 25}
    assert (
        "stale data, treated as silence: journey browse: newest sample 2m30s old (maxSampleAge 1m)"
    ) in answer["reasons"]
    assert "StaleData" in answer["reasonCodes"]


def test_stale_past_the_default_bound_with_long_windows_still_answering(
    evaluate: Evaluate,
) -> None:
    answer = run(evaluate, storefront(), "2026-01-12T12:10:00Z")
    journey = browse(answer)
    assert journey["freshness"]["newestSampleAge"] == 630.0
    assert journey["freshness"]["stale"] is True
    assert journey["burnRates"]["1h"] == pytest.approx(0.2, rel=0.01)
    assert (answer["health"], answer["action"]) == ("unknown", "hold")
    assert answer["reasonCodes"][:2] == ["Hold", "StaleData"]


def test_fresh_again_once_samples_resume(evaluate: Evaluate) -> None:
    answer = run(evaluate, storefront(), "2026-01-12T12:26:00Z")
    assert browse(answer)["freshness"]["newestSampleAge"] <= 30
    assert answer["health"] == "green"


def test_a_journey_that_stopped_20_minutes_ago_is_stale(evaluate: Evaluate) -> None:
    answer = run(evaluate, gate("gap"), "2026-01-15T12:00:00Z")
    (journey,) = answer["journeys"]
    assert journey["freshness"]["detail"] == "newest sample 20m old"
    assert "StaleData" in answer["reasonCodes"]


def test_explain_and_the_table_show_freshness(cli: Cli, prometheus: RunningPrometheus) -> None:
    result = cli(
        "evaluate", "-f", str(STOREFRONT), "--prometheus", prometheus.url,
        "--at", "2026-01-12T12:10:00Z", "--explain",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Data:    newest samples: storefront 0s, browse stale 10m30s (maxSampleAge 5m)" in lines
    assert (
        "    freshness: newest sample 10m30s old (maxSampleAge 5m) -> STALE, its windows count "
        "as silence"
    ) in lines
