"""NGINX backend: the canary Ingress's two annotations, nothing else."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canarygate.traffic import MANAGED_LABEL, CheckOutcome, NginxBackend, TargetInvalid
from canarygate.traffic.nginx import CANARY, CANARY_WEIGHT, CANARY_WEIGHT_TOTAL, scaled_weight

from .builders import NS, ingress, labelled, objects_for

BACKEND = NginxBackend(NS, "checkout-canary")


def canary(weight: str | None, total: str | None = None, on: str | None = "true") -> dict[str, Any]:
    annotations = {CANARY: on, CANARY_WEIGHT: weight, CANARY_WEIGHT_TOTAL: total}
    return ingress({key: value for key, value in annotations.items() if value is not None})


def apply(body: dict[str, Any], weight: int) -> dict[str, Any] | None:
    updates = BACKEND.apply_weight(objects_for(BACKEND, body), weight)
    return updates[0].body if updates else None


class TestApply:
    def test_only_the_weight_annotation_and_the_label_change(self) -> None:
        body = canary("0") | {"status": {"loadBalancer": {}}}
        expected = labelled(copy.deepcopy(body))
        expected["metadata"]["annotations"][CANARY_WEIGHT] = "10"
        assert apply(body, 10) == expected

    def test_switches_the_canary_on(self) -> None:
        updated = apply(canary(None, on=None), 5)
        assert updated is not None
        assert updated["metadata"]["annotations"] == {
            "owner": "team-checkout",
            CANARY: "true",
            CANARY_WEIGHT: "5",
        }

    def test_rollback_keeps_the_canary_ingress_at_weight_0(self) -> None:
        updated = apply(canary("50"), 0)
        assert updated is not None
        assert updated["metadata"]["annotations"][CANARY] == "true"
        assert updated["metadata"]["annotations"][CANARY_WEIGHT] == "0"

    @pytest.mark.parametrize(
        ("total", "weight", "written"),
        [
            ("1000", 5, "50"),
            ("10", 5, "1"),
            ("10", 24, "2"),
            ("3", 50, "2"),
            ("3", 99, "2"),
            ("7", 100, "7"),
        ],
    )
    def test_weight_total_is_respected(self, total: str, weight: int, written: str) -> None:
        updated = apply(canary("0", total), weight)
        assert updated is not None
        assert updated["metadata"]["annotations"][CANARY_WEIGHT] == written
        assert updated["metadata"]["annotations"][CANARY_WEIGHT_TOTAL] == total

    @pytest.mark.parametrize(("weight", "total"), [("30", None), ("300", "1000"), ("0", None)])
    def test_no_update_when_already_at_the_weight(self, weight: str, total: str | None) -> None:
        assert apply(canary(weight, total), int(weight) * 100 // int(total or 100)) is None

    def test_a_canary_switched_off_is_not_at_weight_0(self) -> None:
        # canary "false" serves the Ingress as an ordinary one: canarygate turns it back on.
        updated = apply(canary("0", on="false"), 0)
        assert updated is not None
        assert updated["metadata"]["annotations"][CANARY] == "true"

    @pytest.mark.parametrize(
        ("total", "message"),
        [("0", "'0' is not a positive integer"), ("ten", "'ten' is not a positive integer"),
         ("1", "canary-weight-total 1 cannot express 5%")],
    )  # fmt: skip
    def test_unusable_total_says_what_to_fix(self, total: str, message: str) -> None:
        with pytest.raises(TargetInvalid, match=message):
            apply(canary("0", total), 5)

    def test_scaled_weight_bounds(self) -> None:
        assert [scaled_weight(w, 100) for w in (0, 1, 99, 100)] == [0, 1, 99, 100]
        assert [scaled_weight(w, 4) for w in (1, 50, 99)] == [1, 2, 3]


class TestCheck:
    def test_the_three_answers_are_two(self) -> None:
        body = canary("250", "1000")
        assert BACKEND.check_weight(objects_for(BACKEND, body), 25).outcome is CheckOutcome.VERIFIED
        mismatch = BACKEND.check_weight(objects_for(BACKEND, body), 50)
        assert mismatch.outcome is CheckOutcome.MISMATCH
        assert mismatch.reason == (
            "Ingress shop/checkout-canary has canary 'true' and canary-weight '250', "
            "not 'true' and '500' for 50%"
        )

    def test_unusable_total_is_a_mismatch(self) -> None:
        check = BACKEND.check_weight(objects_for(BACKEND, canary("0", "0")), 0)
        assert check.outcome is CheckOutcome.MISMATCH


class TestSnapshotRestore:
    @pytest.mark.parametrize(
        "original", [canary(None, on=None), canary("0"), ingress(None), canary("20", "1000")]
    )
    def test_round_trip(self, original: dict[str, Any]) -> None:
        snapshot = BACKEND.snapshot(objects_for(BACKEND, original))
        live = original
        for weight in (5, 100, 0):
            live = apply(live, weight) or live
        assert live["metadata"]["labels"][MANAGED_LABEL] == "true"
        (update,) = BACKEND.restore(objects_for(BACKEND, live), snapshot)
        assert update.body == original
        assert BACKEND.restore(objects_for(BACKEND, original), snapshot) == ()

    def test_snapshot_records_absent_annotations(self) -> None:
        snapshot = BACKEND.snapshot(objects_for(BACKEND, ingress(None)))
        assert snapshot == {
            "provider": "nginx",
            "annotations": {CANARY: None, CANARY_WEIGHT: None},
            "label": None,
        }
