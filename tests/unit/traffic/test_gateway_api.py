"""Gateway API backend: writes change exactly the two weights of every managed rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canarygate.core.errors import SpecError
from canarygate.traffic import (
    MANAGED_LABEL,
    CheckOutcome,
    GatewayApiBackend,
    SnapshotInvalid,
    TargetInvalid,
)

from .builders import NS, backend_ref, http_route, labelled, objects_for

BACKEND = GatewayApiBackend(NS, "checkout", "checkout-stable", "checkout-canary")


def split(stable: int | None, canary: int | None) -> list[dict[str, Any]]:
    return [backend_ref("checkout-stable", stable), backend_ref("checkout-canary", canary)]


def apply(route: dict[str, Any], weight: int) -> dict[str, Any] | None:
    updates = BACKEND.apply_weight(objects_for(BACKEND, route), weight)
    assert len(updates) <= 1
    if not updates:
        return None
    assert updates[0].ref == BACKEND.targets()[0]
    return updates[0].body


class TestApply:
    def test_only_the_two_weights_and_the_label_change(self) -> None:
        route = http_route(
            [
                backend_ref("checkout-stable"),
                backend_ref("legacy", 5),
                backend_ref("checkout-canary", 0),
            ],
            [backend_ref("checkout-stable")],  # /r1 stays on stable: not managed
        )
        before = copy.deepcopy(route)
        expected = labelled(copy.deepcopy(route))
        expected["spec"]["rules"][0]["backendRefs"][0]["weight"] = 90
        expected["spec"]["rules"][0]["backendRefs"][2]["weight"] = 10
        assert apply(route, 10) == expected
        assert route == before, "the live object passed in must not be modified"

    def test_keeps_the_resource_version_for_optimistic_concurrency(self) -> None:
        body = apply(http_route(split(None, 0)), 25)
        assert body is not None
        assert body["metadata"]["resourceVersion"] == "4711"

    def test_every_managed_rule_gets_the_same_split(self) -> None:
        route = http_route(split(100, 0), [backend_ref("other")], split(1, 0))
        body = apply(route, 50)
        assert body is not None
        rules = body["spec"]["rules"]
        assert [ref.get("weight") for ref in rules[0]["backendRefs"]] == [50, 50]
        assert rules[1] == route["spec"]["rules"][1]
        assert [ref.get("weight") for ref in rules[2]["backendRefs"]] == [50, 50]

    def test_a_rule_already_at_the_share_is_left_as_written(self) -> None:
        route = http_route(split(3, 1), split(100, 0))
        body = apply(route, 25)
        assert body is not None
        assert body["spec"]["rules"][0] == route["spec"]["rules"][0]
        assert [ref["weight"] for ref in body["spec"]["rules"][1]["backendRefs"]] == [75, 25]

    @pytest.mark.parametrize(
        ("stable", "canary", "weight"),
        [(90, 10, 10), (3, 1, 25), (None, None, 50), (None, 0, 0), (0, 7, 100)],
    )
    def test_no_update_when_already_at_the_weight(
        self, stable: int | None, canary: int | None, weight: int
    ) -> None:
        assert apply(http_route(split(stable, canary)), weight) is None

    def test_promote_and_rollback(self) -> None:
        promoted = apply(http_route(split(None, 0)), 100)
        assert promoted is not None
        assert [r["weight"] for r in promoted["spec"]["rules"][0]["backendRefs"]] == [0, 100]
        rolled_back = apply(promoted, 0)
        assert rolled_back is not None
        assert [r["weight"] for r in rolled_back["spec"]["rules"][0]["backendRefs"]] == [100, 0]

    def test_unreadable_weights_are_overwritten(self) -> None:
        route = http_route(split(0, 0))
        body = apply(route, 5)
        assert body is not None
        assert [r["weight"] for r in body["spec"]["rules"][0]["backendRefs"]] == [95, 5]

    @pytest.mark.parametrize("weight", [-1, 101, 2.5, True])
    def test_a_weight_outside_0_100_is_a_caller_bug(self, weight: Any) -> None:
        with pytest.raises(ValueError, match=r"0\.\.100"):
            BACKEND.apply_weight(objects_for(BACKEND, http_route(split(1, 0))), weight)


class TestTargets:
    def test_the_route_reference(self) -> None:
        (ref,) = BACKEND.targets()
        assert (ref.api_version, ref.plural, str(ref)) == (
            "gateway.networking.k8s.io/v1",
            "httproutes",
            "HTTPRoute shop/checkout",
        )

    def test_missing_canary_says_what_to_add(self) -> None:
        route = http_route([backend_ref("checkout-stable")])
        with pytest.raises(TargetInvalid) as error:
            BACKEND.apply_weight(objects_for(BACKEND, route), 5)
        assert str(error.value) == (
            "HTTPRoute shop/checkout has no rule with backendRefs checkout-stable and "
            "checkout-canary; add the canary backendRef with weight 0 next to the stable one"
        )

    def test_a_backend_named_twice_is_ambiguous(self) -> None:
        route = http_route([*split(50, 50), backend_ref("checkout-canary", 1, port=9090)])
        with pytest.raises(
            TargetInvalid, match=r"spec.rules\[0\] has 2 backendRefs named checkout-canary"
        ):
            BACKEND.apply_weight(objects_for(BACKEND, route), 5)

    @pytest.mark.parametrize(
        "other",
        [
            {"kind": "ServiceImport", "group": "multicluster.x-k8s.io"},
            {"namespace": "elsewhere"},
        ],
    )
    def test_only_services_in_the_routes_namespace_match(self, other: dict[str, str]) -> None:
        route = http_route(
            [backend_ref("checkout-stable"), backend_ref("checkout-canary", 0, **other)]
        )
        with pytest.raises(TargetInvalid, match="add the canary backendRef"):
            BACKEND.read_weight(objects_for(BACKEND, route))

    def test_same_stable_and_canary_is_a_spec_error(self) -> None:
        with pytest.raises(SpecError, match=r"gatewayAPI\.canaryBackend"):
            GatewayApiBackend(NS, "checkout", "web", "web")


def accepted(observed: int) -> dict[str, Any]:
    condition = {"type": "Accepted", "status": "True", "observedGeneration": observed}
    return {"parents": [{"parentRef": {"name": "public"}, "conditions": [condition]}]}


class TestCheck:
    def test_verified(self) -> None:
        check = BACKEND.check_weight(objects_for(BACKEND, http_route(split(3, 1))), 25)
        assert check.outcome is CheckOutcome.VERIFIED
        assert "25%" in check.reason

    def test_mismatch_names_the_rule_and_the_share(self) -> None:
        route = http_route(split(90, 10), split(100, 0))
        check = BACKEND.check_weight(objects_for(BACKEND, route), 10)
        assert check.outcome is CheckOutcome.MISMATCH
        assert check.reason == (
            "HTTPRoute shop/checkout spec.rules[1] sends 0% to checkout-canary, not 10%"
        )

    def test_unreadable_weights_are_a_mismatch(self) -> None:
        check = BACKEND.check_weight(objects_for(BACKEND, http_route(split(0, 0))), 0)
        assert check.outcome is CheckOutcome.MISMATCH
        assert "both 0" in check.reason

    def test_cannot_tell_until_the_gateway_accepted_this_generation(self) -> None:
        stale = http_route(split(90, 10), status=accepted(observed=2))
        check = BACKEND.check_weight(objects_for(BACKEND, stale), 10)
        assert check.outcome is CheckOutcome.CANNOT_TELL
        assert check.reason == (
            "public has accepted generation 2 of HTTPRoute shop/checkout, "
            "not yet 3 with the new weights"
        )
        current = http_route(split(90, 10), status=accepted(observed=3))
        assert (
            BACKEND.check_weight(objects_for(BACKEND, current), 10).outcome is CheckOutcome.VERIFIED
        )

    def test_a_stale_gateway_does_not_hide_a_mismatch(self) -> None:
        stale = http_route(split(100, 0), status=accepted(observed=2))
        assert (
            BACKEND.check_weight(objects_for(BACKEND, stale), 10).outcome is CheckOutcome.MISMATCH
        )


class TestSnapshotRestore:
    def test_round_trip_restores_the_original_exactly(self) -> None:
        original = http_route(split(None, 0), [backend_ref("other")], split(100, None))
        snapshot = BACKEND.snapshot(objects_for(BACKEND, original))
        assert snapshot == {
            "provider": "gatewayAPI",
            "weights": [{"stable": None, "canary": 0}, {"stable": 100, "canary": None}],
            "label": None,
        }
        live = original
        for weight in (5, 50, 100):
            live = apply(live, weight) or live
        (update,) = BACKEND.restore(objects_for(BACKEND, live), snapshot)
        assert update.body == original
        assert BACKEND.restore(objects_for(BACKEND, original), snapshot) == ()

    def test_restore_after_rollback_to_zero_still_puts_the_original_back(self) -> None:
        original = http_route(split(None, 0))
        snapshot = BACKEND.snapshot(objects_for(BACKEND, original))
        rolled_back = apply(apply(original, 10) or original, 0)
        assert rolled_back is not None
        assert rolled_back["metadata"]["labels"][MANAGED_LABEL] == "true"
        (update,) = BACKEND.restore(objects_for(BACKEND, rolled_back), snapshot)
        assert update.body == original

    def test_a_deleted_route_has_nothing_to_restore(self) -> None:
        snapshot = BACKEND.snapshot(objects_for(BACKEND, http_route(split(1, 0))))
        assert BACKEND.restore({}, snapshot) == ()

    def test_canary_removed_by_its_owner_only_the_label_is_undone(self) -> None:
        original = http_route(split(None, 0))
        snapshot = BACKEND.snapshot(objects_for(BACKEND, original))
        live = apply(original, 10)
        assert live is not None
        live["spec"]["rules"][0]["backendRefs"].pop()  # the owner removed the canary
        (update,) = BACKEND.restore(objects_for(BACKEND, live), snapshot)
        assert MANAGED_LABEL not in update.body["metadata"]["labels"]
        assert update.body["spec"] == live["spec"]

    def test_a_rule_added_since_gets_the_one_saved_split(self) -> None:
        snapshot = BACKEND.snapshot(objects_for(BACKEND, http_route(split(None, 0))))
        live = http_route(split(90, 10), split(90, 10))
        (update,) = BACKEND.restore(objects_for(BACKEND, live), snapshot)
        assert update.body["spec"] == http_route(split(None, 0), split(None, 0))["spec"]

    def test_rules_changed_since_with_different_splits_cannot_be_guessed(self) -> None:
        snapshot = BACKEND.snapshot(objects_for(BACKEND, http_route(split(1, 0), split(3, 1))))
        live = http_route(split(90, 10))
        with pytest.raises(TargetInvalid, match="set the weights back by hand"):
            BACKEND.restore(objects_for(BACKEND, live), snapshot)

    @pytest.mark.parametrize(
        "snapshot",
        [
            {"provider": "istio", "weights": [], "label": None},
            {"provider": "gatewayAPI", "weights": "90/10", "label": None},
            {"provider": "gatewayAPI", "weights": [{"stable": -1, "canary": 0}], "label": None},
            {"provider": "gatewayAPI", "weights": [], "label": 7},
        ],
    )
    def test_a_foreign_snapshot_is_refused(self, snapshot: dict[str, Any]) -> None:
        with pytest.raises(SnapshotInvalid):
            BACKEND.restore(objects_for(BACKEND, http_route(split(1, 0))), snapshot)
