"""Poll the live traffic object through the Kubernetes API and feed its weight to the
Simulator. The only module of the simulator that talks to Kubernetes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
from lightkube import ApiError, Client
from lightkube.generic_resource import GenericNamespacedResource, create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.networking_v1 import Ingress

from lab.simulator.generating import Simulator
from lab.simulator.weights import (
    WeightUnavailable,
    gateway_api_weight,
    istio_weight,
    nginx_weight,
    replicas_weight,
)

PROVIDERS = ("gatewayAPI", "istio", "nginx", "replicas", "static")

log = logging.getLogger("lab.simulator")


@cache
def http_route() -> type[GenericNamespacedResource]:
    return create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")


@cache
def virtual_service() -> type[GenericNamespacedResource]:
    return create_namespaced_resource(
        "networking.istio.io", "v1", "VirtualService", "virtualservices"
    )


@dataclass(frozen=True)
class Target:
    """Which traffic object to read. `name` is the HTTPRoute, VirtualService or canary
    Ingress; `stable`/`canary` name the backends (Services, destinations or Deployments)."""

    provider: str
    namespace: str = "default"
    name: str = ""
    stable: str = ""
    canary: str = ""
    static_weight: float = 0.0


def weight_reader(target: Target, client: Client | None) -> Callable[[], float]:
    """A function that reads the current canary weight (percent) for `target`."""
    if target.provider == "static":
        return lambda: target.static_weight
    if client is None:
        raise ValueError(f"provider {target.provider} needs a Kubernetes client")
    ns = target.namespace

    def as_dict(obj: Any) -> Mapping[str, Any]:
        data: Mapping[str, Any] = obj if isinstance(obj, dict) else obj.to_dict()
        return data

    if target.provider == "gatewayAPI":
        return lambda: gateway_api_weight(
            as_dict(client.get(http_route(), target.name, namespace=ns)),
            target.stable,
            target.canary,
        )
    if target.provider == "istio":
        return lambda: istio_weight(
            as_dict(client.get(virtual_service(), target.name, namespace=ns)),
            target.stable,
            target.canary,
        )
    if target.provider == "nginx":
        return lambda: nginx_weight(as_dict(client.get(Ingress, target.name, namespace=ns)))
    if target.provider == "replicas":
        return lambda: replicas_weight(
            as_dict(client.get(Deployment, target.stable, namespace=ns)),
            as_dict(client.get(Deployment, target.canary, namespace=ns)),
        )
    raise ValueError(f"unknown provider {target.provider!r}; expected one of {PROVIDERS}")


def poll_weights(
    simulator: Simulator,
    read: Callable[[], float],
    *,
    interval: float,
    stop: threading.Event,
) -> None:
    """Read the weight every `interval` seconds until `stop` is set. A failed read keeps
    the last weight and marks the source down; each change of problem is logged once."""
    last_problem: str | None = ""
    while True:
        problem: str | None = None
        try:
            simulator.set_weight(read())
        except WeightUnavailable as error:
            problem = str(error)
        except ApiError as error:
            problem = f"Kubernetes API: {error.status.code} {error.status.message}"
        except (httpx.HTTPError, OSError) as error:
            problem = f"cannot reach the Kubernetes API: {error}"
        if problem is not None:
            simulator.mark_weight_source_down()
        if problem != last_problem:
            if problem is None:
                log.info("weight source up: canary at %.1f%%", simulator.weight)
            else:
                log.warning("weight source down (keeping %.1f%%): %s", simulator.weight, problem)
            last_problem = problem
        if stop.wait(interval):
            return
