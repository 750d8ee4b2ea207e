"""Poll the live traffic objects through the Kubernetes API and feed their weight to the
Simulator. The only module of the simulator that talks to Kubernetes; what the objects
mean is canarygate's own `traffic` package, so the simulator splits traffic exactly as
the product reads it."""

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

from canarygate.core.errors import ActuatorError
from canarygate.traffic import ObjectRef, TrafficBackend, backend_for
from lab.simulator.generating import Simulator

PROVIDERS = ("gatewayAPI", "istio", "nginx", "replicas", "static")
NOT_FOUND = 404

log = logging.getLogger("lab.simulator")

# Reads one object: its JSON body, or None when it does not exist.
Getter = Callable[[ObjectRef], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Target:
    """Which traffic object to read. `name` is the HTTPRoute, VirtualService or canary
    Ingress; `stable`/`canary` name the backends (Services, Istio hosts or Deployments);
    the subsets, when given, pick Istio destinations of one host."""

    provider: str
    namespace: str = "default"
    name: str = ""
    stable: str = ""
    canary: str = ""
    static_weight: float = 0.0
    stable_subset: str = ""
    canary_subset: str = ""


def traffic_backend(target: Target) -> TrafficBackend:
    """The product's backend for `target`, from the same block a CanaryGate would carry.
    Raises SpecError for flags that cannot work together."""
    blocks: dict[str, dict[str, Any]] = {
        "gatewayAPI": {
            "httpRoute": target.name,
            "stableBackend": target.stable,
            "canaryBackend": target.canary,
        },
        "istio": {
            "virtualService": target.name,
            "stableHost": target.stable,
            "canaryHost": target.canary,
            "stableSubset": target.stable_subset,
            "canarySubset": target.canary_subset,
        },
        "nginx": {"canaryIngress": target.name},
        # totalReplicas only shapes writes, which the simulator never makes: the weight it
        # reads is the share of ready pods.
        "replicas": {
            "stableDeployment": target.stable,
            "canaryDeployment": target.canary,
            "totalReplicas": 1,
        },
    }
    return backend_for(target.provider, target.namespace, blocks.get(target.provider, {}))


def read_weight(backend: TrafficBackend, get: Getter) -> float:
    """Get the backend's objects (leaving out those that do not exist, which the backend
    reports as TargetMissing) and read the canary percent from them."""
    objects = {ref: body for ref in backend.targets() if (body := get(ref)) is not None}
    return backend.read_weight(objects)


@cache
def _resource(group: str, version: str, kind: str, plural: str) -> type[GenericNamespacedResource]:
    return create_namespaced_resource(group, version, kind, plural)


def kubernetes_getter(client: Client) -> Getter:
    def get(ref: ObjectRef) -> Mapping[str, Any] | None:
        resource = _resource(ref.group, ref.version, ref.kind, ref.plural)
        try:
            obj: Any = client.get(resource, ref.name, namespace=ref.namespace)
        except ApiError as error:
            if error.status.code == NOT_FOUND:
                return None
            raise
        body: Mapping[str, Any] = obj if isinstance(obj, dict) else obj.to_dict()
        return body

    return get


def weight_reader(target: Target, client: Client | None) -> Callable[[], float]:
    """A function that reads the current canary weight (percent) for `target`."""
    if target.provider == "static":
        return lambda: target.static_weight
    if client is None:
        raise ValueError(f"provider {target.provider} needs a Kubernetes client")
    backend = traffic_backend(target)
    get = kubernetes_getter(client)
    return lambda: read_weight(backend, get)


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
        except ActuatorError as error:
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
