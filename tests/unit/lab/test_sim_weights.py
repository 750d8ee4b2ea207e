"""Weight parsing for each traffic object the simulator follows."""

from __future__ import annotations

from typing import Any

import pytest

from lab.simulator.weights import (
    WeightUnavailable,
    gateway_api_weight,
    istio_weight,
    nginx_weight,
    replicas_weight,
)


def route(*rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"spec": {"rules": [{"backendRefs": refs} for refs in rules]}}


class TestGatewayAPI:
    def test_weights_give_the_canary_share(self) -> None:
        obj = route([{"name": "web-stable", "weight": 70}, {"name": "web-canary", "weight": 30}])
        assert gateway_api_weight(obj, "web-stable", "web-canary") == pytest.approx(30.0)

    def test_omitted_weight_defaults_to_one(self) -> None:
        obj = route([{"name": "web-stable"}, {"name": "web-canary"}])
        assert gateway_api_weight(obj, "web-stable", "web-canary") == pytest.approx(50.0)

    def test_weights_need_not_sum_to_100(self) -> None:
        obj = route([{"name": "web-stable", "weight": 3}, {"name": "web-canary", "weight": 1}])
        assert gateway_api_weight(obj, "web-stable", "web-canary") == pytest.approx(25.0)

    def test_canary_absent_from_the_rule_is_zero(self) -> None:
        obj = route([{"name": "web-stable", "weight": 100}])
        assert gateway_api_weight(obj, "web-stable", "web-canary") == 0.0

    def test_first_rule_naming_the_backends_wins(self) -> None:
        obj = route(
            [{"name": "other", "weight": 1}],
            [{"name": "web-stable", "weight": 0}, {"name": "web-canary", "weight": 10}],
            [{"name": "web-stable", "weight": 10}],
        )
        assert gateway_api_weight(obj, "web-stable", "web-canary") == 100.0

    def test_no_rule_with_the_backends_is_unavailable(self) -> None:
        with pytest.raises(WeightUnavailable, match="no HTTPRoute rule"):
            gateway_api_weight(route([{"name": "other"}]), "web-stable", "web-canary")

    def test_all_zero_is_unavailable_not_zero(self) -> None:
        obj = route([{"name": "web-stable", "weight": 0}, {"name": "web-canary", "weight": 0}])
        with pytest.raises(WeightUnavailable, match="both 0"):
            gateway_api_weight(obj, "web-stable", "web-canary")

    @pytest.mark.parametrize("bad", [-1, "30", 1.5, True])
    def test_malformed_weight_is_unavailable(self, bad: object) -> None:
        obj = route([{"name": "web-stable", "weight": 1}, {"name": "web-canary", "weight": bad}])
        with pytest.raises(WeightUnavailable, match="non-negative integer"):
            gateway_api_weight(obj, "web-stable", "web-canary")

    def test_missing_spec_is_unavailable(self) -> None:
        with pytest.raises(WeightUnavailable):
            gateway_api_weight({}, "web-stable", "web-canary")


def virtual_service(*routes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"spec": {"http": [{"route": r} for r in routes]}}


class TestIstio:
    def test_subsets(self) -> None:
        obj = virtual_service(
            [
                {"destination": {"host": "web", "subset": "stable"}, "weight": 80},
                {"destination": {"host": "web", "subset": "canary"}, "weight": 20},
            ]
        )
        assert istio_weight(obj, "stable", "canary") == pytest.approx(20.0)

    def test_hosts_short_and_fully_qualified(self) -> None:
        obj = virtual_service(
            [
                {"destination": {"host": "web-stable.shop.svc.cluster.local"}, "weight": 60},
                {"destination": {"host": "web-canary"}, "weight": 40},
            ]
        )
        assert istio_weight(obj, "web-stable", "web-canary") == pytest.approx(40.0)

    def test_lone_destination_without_weight_takes_everything(self) -> None:
        obj = virtual_service([{"destination": {"host": "web-stable"}}])
        assert istio_weight(obj, "web-stable", "web-canary") == 0.0

    def test_unrelated_routes_are_skipped(self) -> None:
        obj = virtual_service(
            [{"destination": {"host": "other"}}],
            [{"destination": {"host": "web-canary"}}],
        )
        assert istio_weight(obj, "web-stable", "web-canary") == 100.0

    def test_no_matching_destination_is_unavailable(self) -> None:
        with pytest.raises(WeightUnavailable, match="VirtualService"):
            istio_weight(virtual_service([{"destination": {"host": "x"}}]), "a", "b")


def ingress(annotations: dict[str, str] | None) -> dict[str, Any]:
    return {"metadata": {"name": "web-canary", "annotations": annotations}}


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


def deployment(ready: int | None) -> dict[str, Any]:
    return {"status": {} if ready is None else {"readyReplicas": ready}}


class TestReplicas:
    def test_ratio_of_ready_replicas(self) -> None:
        assert replicas_weight(deployment(3), deployment(1)) == pytest.approx(25.0)

    def test_canary_without_ready_pods_is_zero(self) -> None:
        assert replicas_weight(deployment(4), deployment(None)) == 0.0

    def test_nothing_ready_is_unavailable(self) -> None:
        with pytest.raises(WeightUnavailable):
            replicas_weight(deployment(0), deployment(None))
