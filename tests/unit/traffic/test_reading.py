"""Reading the canary's share out of each kind of traffic object (moved from the
simulator's own readers, which these backends replace).

Two expectations changed on purpose: a route whose rule names only one of the two
backends is now a TargetInvalid saying what to add (the simulator read it as 0 % or
100 %), because canarygate manages a rule only when both backends are in it, and reads,
writes and checks the same rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from canarygate.traffic import (
    GatewayApiBackend,
    IstioBackend,
    NginxBackend,
    ReplicasBackend,
    TargetInvalid,
    TargetMissing,
    WeightUnavailable,
)

from .builders import (
    NS,
    backend_ref,
    deployment,
    destination,
    http_route,
    ingress,
    objects_for,
    virtual_service,
)

GATEWAY = GatewayApiBackend(NS, "checkout", "web-stable", "web-canary")


def gateway_weight(route: dict[str, Any]) -> float:
    return GATEWAY.read_weight(objects_for(GATEWAY, route))


class TestGatewayAPI:
    def test_weights_give_the_canary_share(self) -> None:
        obj = http_route([backend_ref("web-stable", 70), backend_ref("web-canary", 30)])
        assert gateway_weight(obj) == pytest.approx(30.0)

    def test_omitted_weight_defaults_to_one(self) -> None:
        obj = http_route([backend_ref("web-stable"), backend_ref("web-canary")])
        assert gateway_weight(obj) == pytest.approx(50.0)

    def test_weights_need_not_sum_to_100(self) -> None:
        obj = http_route([backend_ref("web-stable", 3), backend_ref("web-canary", 1)])
        assert gateway_weight(obj) == pytest.approx(25.0)

    def test_other_backends_in_the_rule_do_not_count(self) -> None:
        obj = http_route(
            [backend_ref("web-stable", 3), backend_ref("mirror", 50), backend_ref("web-canary", 1)]
        )
        assert gateway_weight(obj) == pytest.approx(25.0)

    def test_rule_without_the_canary_is_invalid_not_zero(self) -> None:
        obj = http_route([backend_ref("web-stable", 100)])
        with pytest.raises(TargetInvalid, match="add the canary backendRef with weight 0"):
            gateway_weight(obj)

    def test_only_rules_naming_both_backends_count(self) -> None:
        obj = http_route(
            [backend_ref("other", 1)],
            [backend_ref("web-stable", 0), backend_ref("web-canary", 10)],
            [backend_ref("web-stable", 10)],
        )
        assert gateway_weight(obj) == 100.0

    def test_managed_rules_that_disagree_are_unavailable(self) -> None:
        obj = http_route(
            [backend_ref("web-stable", 90), backend_ref("web-canary", 10)],
            [backend_ref("web-stable", 100), backend_ref("web-canary", 0)],
        )
        with pytest.raises(WeightUnavailable, match=r"spec.rules\[0\] sends 10% .* 0%"):
            gateway_weight(obj)

    def test_no_rule_with_the_backends_is_invalid(self) -> None:
        with pytest.raises(TargetInvalid, match="has no rule with backendRefs"):
            gateway_weight(http_route([backend_ref("other")]))

    def test_all_zero_is_unavailable_not_zero(self) -> None:
        obj = http_route([backend_ref("web-stable", 0), backend_ref("web-canary", 0)])
        with pytest.raises(WeightUnavailable, match="both 0"):
            gateway_weight(obj)

    @pytest.mark.parametrize("bad", [-1, "30", 1.5, True])
    def test_malformed_weight_is_unavailable(self, bad: object) -> None:
        obj = http_route([backend_ref("web-stable", 1), {"name": "web-canary", "weight": bad}])
        with pytest.raises(WeightUnavailable, match="non-negative integer"):
            gateway_weight(obj)

    def test_missing_spec_is_invalid(self) -> None:
        with pytest.raises(TargetInvalid):
            gateway_weight({})

    def test_absent_route_is_missing(self) -> None:
        with pytest.raises(TargetMissing, match="HTTPRoute shop/checkout not found"):
            GATEWAY.read_weight({})


def istio_weight(backend: IstioBackend, vs: dict[str, Any]) -> float:
    return backend.read_weight(objects_for(backend, vs))


BY_HOST = IstioBackend(NS, "checkout", "web-stable", "web-canary")


class TestIstio:
    def test_subsets(self) -> None:
        backend = IstioBackend(
            NS, "checkout", "web", "web", stable_subset="stable", canary_subset="canary"
        )
        obj = virtual_service(
            [destination("web", 80, subset="stable"), destination("web", 20, subset="canary")]
        )
        assert istio_weight(backend, obj) == pytest.approx(20.0)

    def test_hosts_short_and_fully_qualified(self) -> None:
        obj = virtual_service(
            [
                destination("web-stable.shop.svc.cluster.local", 60),
                destination("web-canary", 40),
            ]
        )
        assert istio_weight(BY_HOST, obj) == pytest.approx(40.0)

    def test_same_name_in_another_namespace_is_another_service(self) -> None:
        obj = virtual_service(
            [destination("web-stable.other.svc.cluster.local", 60), destination("web-canary", 40)]
        )
        with pytest.raises(TargetInvalid, match="add the canary destination with weight 0"):
            istio_weight(BY_HOST, obj)

    def test_omitted_weight_is_zero_beside_another_destination(self) -> None:
        obj = virtual_service([destination("web-stable", 100), destination("web-canary")])
        assert istio_weight(BY_HOST, obj) == 0.0

    def test_lone_destination_is_invalid_not_zero(self) -> None:
        obj = virtual_service([destination("web-stable")])
        with pytest.raises(TargetInvalid, match="add the canary destination with weight 0"):
            istio_weight(BY_HOST, obj)

    def test_unrelated_routes_are_skipped(self) -> None:
        obj = virtual_service(
            [destination("other")],
            [destination("web-stable"), destination("web-canary", 100)],
        )
        assert istio_weight(BY_HOST, obj) == 100.0

    def test_no_matching_destination_is_invalid(self) -> None:
        backend = IstioBackend(NS, "checkout", "a", "b")
        with pytest.raises(TargetInvalid, match="VirtualService"):
            istio_weight(backend, virtual_service([destination("x")]))


NGINX = NginxBackend(NS, "checkout-canary")


def nginx_weight(obj: dict[str, Any]) -> float:
    return NGINX.read_weight(objects_for(NGINX, obj))


class TestNginx:
    def test_canary_weight(self) -> None:
        obj = ingress(
            {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": "30",
            }
        )
        assert nginx_weight(obj) == pytest.approx(30.0)

    def test_weight_total(self) -> None:
        obj = ingress(
            {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": "250",
                "nginx.ingress.kubernetes.io/canary-weight-total": "1000",
            }
        )
        assert nginx_weight(obj) == pytest.approx(25.0)

    def test_weight_above_total_is_capped(self) -> None:
        obj = ingress(
            {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": "150",
            }
        )
        assert nginx_weight(obj) == 100.0

    @pytest.mark.parametrize(
        "annotations",
        [
            None,
            {},
            {
                "nginx.ingress.kubernetes.io/canary": "false",
                "nginx.ingress.kubernetes.io/canary-weight": "50",
            },
        ],
    )
    def test_canary_switched_off_carries_nothing(self, annotations: dict[str, str] | None) -> None:
        assert nginx_weight(ingress(annotations)) == 0.0

    def test_non_integer_weight_is_unavailable(self) -> None:
        obj = ingress(
            {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": "thirty",
            }
        )
        with pytest.raises(WeightUnavailable, match="not an integer"):
            nginx_weight(obj)


REPLICAS = ReplicasBackend(NS, "web-stable", "web-canary", total_replicas=4)


def replicas_weight(stable: dict[str, Any], canary: dict[str, Any]) -> float:
    return REPLICAS.read_weight(objects_for(REPLICAS, stable, canary))


def ready(count: int | None, name: str) -> dict[str, Any]:
    return deployment(name, count or 0, rolled_out=False) | (
        {"status": {} if count is None else {"readyReplicas": count}}
    )


class TestReplicas:
    def test_ratio_of_ready_replicas(self) -> None:
        assert replicas_weight(ready(3, "web-stable"), ready(1, "web-canary")) == pytest.approx(
            25.0
        )

    def test_canary_without_ready_pods_is_zero(self) -> None:
        assert replicas_weight(ready(4, "web-stable"), ready(None, "web-canary")) == 0.0

    def test_nothing_ready_is_unavailable(self) -> None:
        with pytest.raises(WeightUnavailable, match="ready replica"):
            replicas_weight(ready(0, "web-stable"), ready(None, "web-canary"))

    def test_missing_deployment_names_the_field(self) -> None:
        objects = {REPLICAS.targets()[0]: ready(3, "web-stable")}
        with pytest.raises(TargetMissing, match=r"replicas\.canaryDeployment"):
            REPLICAS.read_weight(objects)
