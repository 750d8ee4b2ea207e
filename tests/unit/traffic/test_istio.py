"""Istio backend: destination weights in the managed http routes of one VirtualService."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canarygate.core.errors import SpecError
from canarygate.traffic import CheckOutcome, IstioBackend, TargetInvalid

from .builders import NS, destination, labelled, objects_for, virtual_service

BY_HOST = IstioBackend(NS, "checkout", "checkout-stable", "checkout-canary")
BY_SUBSET = IstioBackend(
    NS, "checkout", "checkout", "checkout", stable_subset="v1", canary_subset="v2"
)


def hosts(stable: int | None, canary: int | None) -> list[dict[str, Any]]:
    return [destination("checkout-stable", stable), destination("checkout-canary", canary)]


def subsets(stable: int | None, canary: int | None) -> list[dict[str, Any]]:
    return [
        destination("checkout.shop.svc.cluster.local", stable, subset="v1"),
        destination("checkout", canary, subset="v2"),
    ]


def weights(body: dict[str, Any], index: int) -> list[int | None]:
    return [entry.get("weight") for entry in body["spec"]["http"][index]["route"]]


class TestApply:
    def test_only_the_two_weights_and_the_label_change(self) -> None:
        vs = virtual_service(
            [*subsets(100, None), destination("checkout", 10, subset="shadow")],
            [destination("checkout", subset="v1")],
        )
        expected = labelled(copy.deepcopy(vs))
        expected["spec"]["http"][0]["route"][0]["weight"] = 75
        expected["spec"]["http"][0]["route"][1]["weight"] = 25
        (update,) = BY_SUBSET.apply_weight(objects_for(BY_SUBSET, vs), 25)
        assert update.body == expected

    def test_every_route_with_both_destinations_unless_one_is_named(self) -> None:
        vs = virtual_service(hosts(100, 0), hosts(100, 0), names=["api", "web"])
        (all_routes,) = BY_HOST.apply_weight(objects_for(BY_HOST, vs), 10)
        assert weights(all_routes.body, 0) == weights(all_routes.body, 1) == [90, 10]
        named = IstioBackend(NS, "checkout", "checkout-stable", "checkout-canary", route="web")
        (one,) = named.apply_weight(objects_for(named, vs), 10)
        assert (weights(one.body, 0), weights(one.body, 1)) == ([100, 0], [90, 10])
        assert named.read_weight(objects_for(named, one.body)) == 10.0

    @pytest.mark.parametrize(
        ("stable", "canary", "weight"), [(100, None, 0), (None, 100, 100), (80, 20, 20), (1, 1, 50)]
    )
    def test_no_update_when_already_at_the_weight(
        self, stable: int | None, canary: int | None, weight: int
    ) -> None:
        vs = virtual_service(hosts(stable, canary))
        assert BY_HOST.apply_weight(objects_for(BY_HOST, vs), weight) == ()


class TestTargets:
    def test_the_virtual_service_reference(self) -> None:
        (ref,) = BY_HOST.targets()
        assert (ref.api_version, ref.plural, str(ref)) == (
            "networking.istio.io/v1",
            "virtualservices",
            "VirtualService shop/checkout",
        )

    def test_missing_canary_says_what_to_add(self) -> None:
        vs = virtual_service([destination("checkout-stable")])
        with pytest.raises(TargetInvalid) as error:
            BY_HOST.apply_weight(objects_for(BY_HOST, vs), 5)
        assert str(error.value) == (
            "VirtualService shop/checkout has no http route with destinations checkout-stable "
            "and checkout-canary; add the canary destination with weight 0 next to the stable one"
        )

    def test_unknown_route_name_lists_the_routes(self) -> None:
        backend = IstioBackend(NS, "checkout", "checkout-stable", "checkout-canary", route="x")
        vs = virtual_service(hosts(1, 0), hosts(1, 0), names=["api", "web"])
        with pytest.raises(TargetInvalid, match=r"no http route named 'x' \(found: 'api', 'web'\)"):
            backend.read_weight(objects_for(backend, vs))

    def test_named_route_without_the_canary(self) -> None:
        backend = IstioBackend(NS, "checkout", "checkout-stable", "checkout-canary", route="web")
        vs = virtual_service(hosts(1, 0), [destination("checkout-stable")], names=["api", "web"])
        with pytest.raises(TargetInvalid, match="http route 'web' has no destinations"):
            backend.apply_weight(objects_for(backend, vs), 5)

    def test_subset_must_match_when_set(self) -> None:
        vs = virtual_service([destination("checkout", 90, "v1"), destination("checkout", 10, "v3")])
        with pytest.raises(TargetInvalid, match="checkout subset v1 and checkout subset v2"):
            BY_SUBSET.read_weight(objects_for(BY_SUBSET, vs))

    def test_two_destinations_for_one_side_are_ambiguous(self) -> None:
        vs = virtual_service(
            [*hosts(50, 50), destination("checkout-canary.shop.svc.cluster.local", 5, "x")]
        )
        with pytest.raises(TargetInvalid, match="2 destinations matching checkout-canary"):
            BY_HOST.apply_weight(objects_for(BY_HOST, vs), 5)

    @pytest.mark.parametrize(
        ("stable_subset", "canary_subset", "field"),
        [(None, None, "istio"), ("v1", None, "istio"), ("v1", "v1", "istio.canarySubset")],
    )
    def test_one_service_needs_two_subsets(
        self, stable_subset: str | None, canary_subset: str | None, field: str
    ) -> None:
        with pytest.raises(SpecError) as error:
            IstioBackend(
                NS, "vs", "checkout", "checkout.shop.svc.cluster.local",
                stable_subset=stable_subset, canary_subset=canary_subset,
            )  # fmt: skip
        assert error.value.field == f"spec.canary.traffic.{field}"


class TestCheck:
    def test_verified_and_mismatch(self) -> None:
        vs = virtual_service(subsets(95, 5))
        assert (
            BY_SUBSET.check_weight(objects_for(BY_SUBSET, vs), 5).outcome is CheckOutcome.VERIFIED
        )
        mismatch = BY_SUBSET.check_weight(objects_for(BY_SUBSET, vs), 10)
        assert mismatch.outcome is CheckOutcome.MISMATCH
        assert mismatch.reason == (
            "VirtualService shop/checkout spec.http[0] sends 5% to checkout subset v2, not 10%"
        )

    @pytest.mark.parametrize(("observed", "outcome"), [("2", "cannot-tell"), (3, "verified")])
    def test_cannot_tell_until_istiod_reconciled_this_generation(
        self, observed: Any, outcome: str
    ) -> None:
        vs = virtual_service(hosts(95, 5)) | {"status": {"observedGeneration": observed}}
        check = BY_HOST.check_weight(objects_for(BY_HOST, vs), 5)
        assert check.outcome == outcome
        if outcome == "cannot-tell":
            assert check.reason == (
                "istiod has reconciled generation 2 of VirtualService shop/checkout, not yet 3"
            )


class TestSnapshotRestore:
    def test_round_trip(self) -> None:
        original = virtual_service(subsets(None, None), [destination("other")], subsets(100, 0))
        snapshot = BY_SUBSET.snapshot(objects_for(BY_SUBSET, original))
        assert snapshot["weights"] == [
            {"stable": None, "canary": None},
            {"stable": 100, "canary": 0},
        ]
        (moved,) = BY_SUBSET.apply_weight(objects_for(BY_SUBSET, original), 50)
        (restored,) = BY_SUBSET.restore(objects_for(BY_SUBSET, moved.body), snapshot)
        assert restored.body == original
        assert BY_SUBSET.restore(objects_for(BY_SUBSET, original), snapshot) == ()
