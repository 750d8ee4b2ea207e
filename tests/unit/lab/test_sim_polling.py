"""The simulator reads weights through canarygate's traffic backends, from its flags."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, cast

import pytest
from lightkube import ApiError, Client
from lightkube.models.meta_v1 import Status

from canarygate.traffic import (
    GatewayApiBackend,
    IstioBackend,
    NginxBackend,
    ObjectRef,
    ReplicasBackend,
)
from lab.simulator.cli import main
from lab.simulator.generating import Simulator, SimulatorConfig
from lab.simulator.polling import (
    Target,
    kubernetes_getter,
    poll_weights,
    read_weight,
    traffic_backend,
)

ROUTE = {
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "rules": [
            {
                "backendRefs": [
                    {"name": "web-stable", "weight": 70},
                    {"name": "web-canary", "weight": 30},
                ]
            }
        ]
    },
}


def test_flags_become_the_products_backends() -> None:
    assert traffic_backend(
        Target("gatewayAPI", "shop", "web", "web-stable", "web-canary")
    ) == GatewayApiBackend("shop", "web", "web-stable", "web-canary")
    assert traffic_backend(
        Target("istio", "shop", "vs", "web", "web", stable_subset="v1", canary_subset="v2")
    ) == IstioBackend("shop", "vs", "web", "web", None, "v1", "v2")
    assert traffic_backend(Target("nginx", "shop", "web-canary")) == NginxBackend(
        "shop", "web-canary"
    )
    backend = traffic_backend(Target("replicas", "shop", "", "a", "b"))
    assert isinstance(backend, ReplicasBackend)
    assert backend.targets() == (
        ObjectRef("apps", "v1", "Deployment", "deployments", "shop", "a"),
        ObjectRef("apps", "v1", "Deployment", "deployments", "shop", "b"),
    )


def test_reads_through_the_backend() -> None:
    backend = traffic_backend(Target("gatewayAPI", "shop", "web", "web-stable", "web-canary"))
    asked: list[ObjectRef] = []

    def get(ref: ObjectRef) -> Mapping[str, Any] | None:
        asked.append(ref)
        return ROUTE

    assert read_weight(backend, get) == pytest.approx(30.0)
    assert asked == list(backend.targets())


class FakeClient:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, str]] = []

    def get(self, resource: Any, name: str, *, namespace: str) -> Any:
        info = resource._api_info
        path = f"{info.resource.api_version}/{info.plural}"
        self.calls.append((path, name, namespace))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def api_error(code: int) -> ApiError:
    return ApiError(status=Status(code=code, message=f"status {code}"))


def test_the_getter_asks_for_the_backends_object_and_maps_404_to_absent() -> None:
    ref = ObjectRef("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", "shop", "web")
    found = FakeClient(ROUTE)
    assert kubernetes_getter(cast(Client, found))(ref) == ROUTE
    assert found.calls == [("gateway.networking.k8s.io/v1/httproutes", "web", "shop")]
    assert kubernetes_getter(cast(Client, FakeClient(api_error(404))))(ref) is None
    with pytest.raises(ApiError):
        kubernetes_getter(cast(Client, FakeClient(api_error(403))))(ref)


def poll_once(simulator: Simulator, answer: Any) -> None:
    backend = traffic_backend(Target("gatewayAPI", "shop", "web", "web-stable", "web-canary"))
    get = kubernetes_getter(cast(Client, FakeClient(answer)))
    stop = threading.Event()
    stop.set()  # one round, then stop
    poll_weights(simulator, lambda: read_weight(backend, get), interval=0.01, stop=stop)


def test_a_missing_route_keeps_the_weight_and_marks_the_source_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator = Simulator(SimulatorConfig(journeys=("checkout",), rate=1.0))
    poll_once(simulator, ROUTE)
    assert (simulator.weight, simulator.weight_source_up) == (pytest.approx(30.0), True)
    poll_once(simulator, api_error(404))
    assert (simulator.weight, simulator.weight_source_up) == (pytest.approx(30.0), False)
    assert "HTTPRoute shop/web not found" in caplog.text


def test_flags_that_cannot_work_are_refused_before_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--provider", "istio", "--object", "vs", "--stable", "web", "--canary", "web"]
    assert main(argv) == 2
    assert "set stableSubset and canarySubset" in capsys.readouterr().err
