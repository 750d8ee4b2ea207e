"""`canarygate rules`: Sloth-compatible recording rules and page/ticket burn-rate alerts for a
gate's journeys, read back from the command's own output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from canarygate.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
STOREFRONT = EXAMPLES / "storefront-gate.yaml"


def rules(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rules", *args])
    out, err = capsys.readouterr()
    return code, out, err


def document_of(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> dict[str, Any]:
    code, out, err = rules(capsys, "-f", str(path), *args)
    assert code == 0, err
    loaded: dict[str, Any] = yaml.safe_load(out)
    return loaded


def groups_by_name(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {g["name"]: g["rules"] for g in document["groups"]}


def write(tmp_path: Path, gate: dict[str, Any], name: str = "gate.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(gate, sort_keys=False))
    return path


def storefront() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(STOREFRONT.read_text())
    return loaded


def test_recording_rules_use_sloths_names_and_labels(capsys: pytest.CaptureFixture[str]) -> None:
    groups = groups_by_name(document_of(capsys, STOREFRONT))
    assert set(groups) == {
        f"sloth-slo-{kind}-shop-{journey}"
        for kind in ("sli-recordings", "meta-recordings", "alerts")
        for journey in ("storefront", "browse")
    }
    recorded = groups["sloth-slo-sli-recordings-shop-storefront"]
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    assert [r["record"] for r in recorded] == [f"slo:sli_error:ratio_rate{w}" for w in windows]
    assert recorded[0]["labels"] == {
        "sloth_id": "shop-storefront",
        "sloth_service": "shop",
        "sloth_slo": "storefront",
        "sloth_window": "5m",
    }
    # The journey's own good and total, rendered for the window.
    assert (
        'sum(rate(http_requests_total{journey="storefront",code!~"5.."}[5m]))'
        in recorded[0]["expr"]
    )
    meta = {r["record"]: r for r in groups["sloth-slo-meta-recordings-shop-storefront"]}
    assert meta["slo:objective:ratio"]["expr"] == "vector(0.999)"
    assert "slo:period_error_budget_remaining:ratio" in meta
    assert meta["sloth_slo_info"]["labels"]["sloth_objective"] == "99.9"


def test_the_page_alert_is_the_red_policy_and_the_ticket_the_yellow(
    capsys: pytest.CaptureFixture[str],
) -> None:
    alerts = groups_by_name(document_of(capsys, STOREFRONT))["sloth-slo-alerts-shop-storefront"]
    page, ticket = alerts
    assert page["alert"] == ticket["alert"] == "ShopStorefrontErrorBudgetBurn"
    assert (page["labels"]["severity"], ticket["labels"]["severity"]) == ("page", "ticket")
    assert "slo:sli_error:ratio_rate5m{" in page["expr"]
    assert "slo:sli_error:ratio_rate1h{" in page["expr"]
    assert "(14.4 * 0.001)" in page["expr"]
    assert "(6 * 0.001)" in page["expr"]
    assert "(3 * 0.001)" in ticket["expr"]
    assert "(1 * 0.001)" in ticket["expr"]
    assert page["annotations"]["canarygate_rules"] == (
        "burn >= 14.4 over 1h and 5m; burn >= 6 over 6h and 30m"
    )


def test_a_policy_without_yellow_burn_rules_has_no_ticket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = storefront()
    gate["spec"]["health"] = {"yellow": {"burnRates": []}}
    groups = groups_by_name(document_of(capsys, write(tmp_path, gate)))
    alerts = groups["sloth-slo-alerts-shop-storefront"]
    assert [a["labels"]["severity"] for a in alerts] == ["page"]


def test_the_header_tells_each_journey_how_to_read_its_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = rules(capsys, "-f", str(STOREFRONT), "--service", "store")
    assert code == 0
    assert (
        "#   shop/storefront-v42 journey storefront: sli.recorded: "
        """'slo:sli_error:ratio_rate{{window}}{sloth_id="store-storefront"}'"""
    ) in out.splitlines()


def test_a_gate_reading_recorded_ratios_still_records_its_own_sli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Else the rule would record its own output."""
    gate = storefront()
    recorded = 'slo:sli_error:ratio_rate{{window}}{sloth_id="shop-storefront"}'
    gate["spec"]["journeys"][0]["sli"]["recorded"] = recorded
    groups = groups_by_name(document_of(capsys, write(tmp_path, gate)))
    for rule in groups["sloth-slo-sli-recordings-shop-storefront"]:
        assert "slo:sli_error" not in rule["expr"]
        assert 'http_requests_total{journey="storefront"}' in rule["expr"]


def test_a_segmented_journey_is_recorded_over_all_its_traffic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = storefront()
    journey = gate["spec"]["journeys"][0]
    journey["segmentBy"] = ["region"]
    for role in ("good", "total"):
        journey["sli"][role] = journey["sli"][role].replace("sum(", "sum by (region) (", 1)
    path = write(tmp_path, gate)
    code, out, _ = rules(capsys, "-f", str(path))
    assert code == 0
    five = groups_by_name(yaml.safe_load(out))["sloth-slo-sli-recordings-shop-storefront"][0]
    assert five["expr"].count("sum(\nsum by (region) (rate(") == 2
    assert (
        "#   shop/storefront-v42 journey storefront: recorded over all its traffic; it is judged "
        "per segment (segmentBy), so the gate keeps reading sli.good and sli.total"
    ) in out.splitlines()


def test_json_and_a_prometheus_rule_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = rules(
        capsys, "-f", str(STOREFRONT), "-o", "json", "--prometheus-rule", "storefront-slos"
    )
    assert code == 0
    document = json.loads(out)
    assert (document["apiVersion"], document["kind"]) == (
        "monitoring.coreos.com/v1",
        "PrometheusRule",
    )
    assert document["metadata"] == {"name": "storefront-slos"}
    assert len(document["spec"]["groups"]) == 6


def test_a_journey_two_gates_record_differently_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = storefront()
    second = storefront()
    second["metadata"]["name"] = "storefront-v43"
    second["spec"]["journeys"][0]["objective"] = 99.5
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump_all([first, second], sort_keys=False))
    code, out, err = rules(capsys, "-f", str(path))
    assert (code, out) == (2, "")
    assert err.startswith("canarygate: invalid spec: spec.journeys: gates shop/storefront-v42 and ")
    assert "give them different --service names" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--service", "Shop Front"), "--service: 'Shop Front' must be 1-63 lowercase letters"),
        (("-o", "toml"), "argument -o/--output: invalid choice: 'toml'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], change: tuple[str, str], message: str
) -> None:
    code, out, err = rules(capsys, "-f", str(STOREFRONT), *change)
    assert (code, out) == (2, "")
    assert err.startswith("canarygate: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_query_that_cannot_sit_in_a_rule_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = storefront()
    gate["spec"]["journeys"][1]["sli"]["good"] = 'sum(rate(x{a="(["}[{{window}}])'
    code, out, err = rules(capsys, "-f", str(write(tmp_path, gate)))
    assert (code, out) == (2, "")
    assert err.startswith("canarygate: invalid spec: spec.journeys[1].sli.good: is not one ")
