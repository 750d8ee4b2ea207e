"""Builders of what the operator's end-to-end scenarios create: CanaryGates whose queries select
one simulator by its `scenario` label (the target label the shared Prometheus adds), and the
routing objects of each provider (HTTPRoute, VirtualService, Ingresses, Deployments).

Everything is a plain dict shaped as `kubectl get -o json` prints it, so a test can create it
with any client and compare it with what the API server returns. Defaults are chosen for a
fast, deterministic stage: 1-3 s intervals, short steps, literal [10s] guardrail windows and a
health policy whose windows a fresh Prometheus can fill and empty within a minute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

GATE_API_VERSION = "canarygate.io/v1alpha1"
# The simulator's error code; its counters always render both codes, so a selector on
# code="500" gives 0, not an empty vector, when nothing fails.
ERROR_CODE = "500"


def _selector(scenario: str, **labels: str) -> str:
    pairs = {"scenario": scenario, **labels}
    return ",".join(f'{key}="{value}"' for key, value in pairs.items())


def journey(scenario: str, name: str = "checkout", *, objective: float = 99.0) -> dict[str, Any]:
    """A critical journey over the simulator's `name` requests (both versions)."""
    every = _selector(scenario, journey=name)
    good = f'{every},code!="{ERROR_CODE}"'
    return {
        "name": name,
        "objective": objective,
        "window": "1h",
        "sli": {
            "good": f"sum(rate(http_requests_total{{{good}}}[{{{{window}}}}]))",
            "total": f"sum(rate(http_requests_total{{{every}}}[{{{{window}}}}]))",
        },
    }


def error_guardrail(
    scenario: str,
    *,
    name: str = "error-rate",
    window: str = "10s",
    max_increase: float = 0.02,
    min_samples: int = 100,
    failure_limit: int = 1,
) -> dict[str, Any]:
    """Canary error ratio against the stable one's, over a literal short window.

    Relative only (no `max`): a fleet-wide incident raises both sides alike and must freeze,
    not roll back; a canary that alone serves errors fails it."""

    def ratio(version: str) -> str:
        side = _selector(scenario, version=version)
        errors = f'sum(rate(http_requests_total{{{side},code="{ERROR_CODE}"}}[{window}]))'
        return f"{errors} / sum(rate(http_requests_total{{{side}}}[{window}]))"

    canary = _selector(scenario, version="canary")
    return {
        "name": name,
        "canary": ratio("canary"),
        "baseline": ratio("stable"),
        "maxIncrease": max_increase,
        "samples": f"sum(increase(http_requests_total{{{canary}}}[{window}]))",
        "minSamples": min_samples,
        "severity": "critical",
        "failureLimit": failure_limit,
    }


def probe_check(
    scenario: str, *, name: str = "journey-probe", when: str = "beforeEachStep", **more: Any
) -> dict[str, Any]:
    """A check on the simulator's blackbox probe of the canary (probe_success 1 passes)."""
    selector = _selector(scenario, target="canary")
    return {
        "name": name,
        "when": when,
        "prometheus": {"query": f"min(probe_success{{{selector}}})", "min": 1},
        **more,
    }


def webhook_check(
    url: str, *, name: str = "release-desk", when: str = "beforeEachStep", **more: Any
) -> dict[str, Any]:
    """A check that POSTs to `url` before the step (or as `when` says); 2xx passes."""
    return {"name": name, "when": when, "webhook": {"url": url, "timeout": "2s"}, **more}


def short_health(threshold: float = 5.0) -> dict[str, Any]:
    """Red when the burn rate reaches `threshold` over both 2m and 1m; no yellow burn rules
    and budget bounds that never decide. A fresh Prometheus's long windows cover the whole life
    of the data, so the defaults (1h, 6h, 3d...) would keep an incident red for far longer
    than a test runs; these windows let health return within about a minute."""
    return {
        "red": {
            "burnRates": [{"long": "2m", "short": "1m", "threshold": threshold}],
            "budgetRemainingAtMost": -1000,
        },
        "yellow": {"burnRates": [], "budgetRemainingBelow": -1000},
    }


# -- traffic blocks of spec.canary.traffic --------------------------------------------------


def gateway_traffic(route: str, stable: str, canary: str) -> dict[str, Any]:
    return {
        "provider": "gatewayAPI",
        "gatewayAPI": {"httpRoute": route, "stableBackend": stable, "canaryBackend": canary},
    }


def istio_traffic(virtual_service: str, stable_host: str, canary_host: str) -> dict[str, Any]:
    return {
        "provider": "istio",
        "istio": {
            "virtualService": virtual_service,
            "stableHost": stable_host,
            "canaryHost": canary_host,
        },
    }


def nginx_traffic(ingress: str, canary_ingress: str) -> dict[str, Any]:
    return {"provider": "nginx", "nginx": {"ingress": ingress, "canaryIngress": canary_ingress}}


def replicas_traffic(stable: str, canary: str, total: int) -> dict[str, Any]:
    return {
        "provider": "replicas",
        "replicas": {
            "stableDeployment": stable,
            "canaryDeployment": canary,
            "totalReplicas": total,
        },
    }


def gate(
    name: str,
    namespace: str,
    *,
    scenario: str,
    traffic: Mapping[str, Any],
    steps: Sequence[int] = (20, 60),
    interval: str = "2s",
    journeys: Sequence[Mapping[str, Any]] | None = None,
    guardrails: Sequence[Mapping[str, Any]] | None = None,
    risk: str = "low",
    health: Mapping[str, Any] | None = None,
    prometheus: str | None = None,
    revision: str | None = "v1",
    policy: Mapping[str, Any] | None = None,
    approval: Mapping[str, Any] | None = None,
    checks: Sequence[Mapping[str, Any]] | None = None,
    factors: Mapping[str, Any] | None = None,
    enforcement: str | None = None,
) -> dict[str, Any]:
    """A CanaryGate over one scenario's simulator. Without `journeys`, one checkout journey;
    without `guardrails`, the relative error-rate guardrail; `health` defaults to
    short_health() (pass {} for the product's default policy); `approval` is
    spec.canary.approval, `checks` spec.canary.checks, `factors` spec.risk.factors."""
    canary: dict[str, Any] = {
        "traffic": dict(traffic),
        "steps": list(steps),
        "interval": interval,
        "guardrails": [dict(g) for g in (guardrails if guardrails is not None else [
            error_guardrail(scenario)
        ])],
    }  # fmt: skip
    if revision is not None:
        canary["revision"] = revision
    if approval is not None:
        canary["approval"] = dict(approval)
    if checks is not None:
        canary["checks"] = [dict(c) for c in checks]
    spec: dict[str, Any] = {
        "risk": {"level": risk, **({"factors": dict(factors)} if factors else {})},
        "journeys": [dict(j) for j in journeys or [journey(scenario)]],
        "canary": canary,
    }
    chosen_health = short_health() if health is None else health
    if chosen_health:
        spec["health"] = dict(chosen_health)
    if prometheus is not None:
        spec["prometheus"] = {"address": prometheus, "timeout": "2s"}
    if policy is not None:
        spec["policy"] = dict(policy)
    if enforcement is not None:
        spec["enforcement"] = enforcement
    return {
        "apiVersion": GATE_API_VERSION,
        "kind": "CanaryGate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


# -- routing objects --------------------------------------------------------------------------


def http_route(
    name: str,
    namespace: str,
    *,
    stable: str,
    canary: str,
    canary_weight: int = 0,
    hostnames: Sequence[str] = ("shop.example",),
) -> dict[str, Any]:
    """An HTTPRoute with one weighted stable/canary rule and one rule (/admin) that routes to
    stable alone, which canarygate must never touch."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "hostnames": list(hostnames),
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": stable, "port": 80, "weight": 100 - canary_weight},
                        {"name": canary, "port": 80, "weight": canary_weight},
                    ],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
                    "backendRefs": [{"name": stable, "port": 80}],
                },
            ],
        },
    }


def virtual_service(
    name: str, namespace: str, *, stable_host: str, canary_host: str, canary_weight: int = 0
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hosts": ["shop.example"],
            "http": [
                {
                    "name": "primary",
                    "route": [
                        {"destination": {"host": stable_host}, "weight": 100 - canary_weight},
                        {"destination": {"host": canary_host}, "weight": canary_weight},
                    ],
                }
            ],
        },
    }


NGINX_CANARY = "nginx.ingress.kubernetes.io/canary"
NGINX_CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"


def ingress(
    name: str, namespace: str, *, service: str, canary_weight: int | None = None
) -> dict[str, Any]:
    """An Ingress for shop.example; with `canary_weight`, the canary Ingress of ingress-nginx."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if canary_weight is not None:
        metadata["annotations"] = {
            NGINX_CANARY: "true",
            NGINX_CANARY_WEIGHT: str(canary_weight),
        }
    backend = {"service": {"name": service, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "shop.example",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }


def deployment(
    name: str, namespace: str, *, app: str, version: str, replicas: int
) -> dict[str, Any]:
    """A Deployment of pause pods (kwok makes them Ready; kind runs them)."""
    labels = {"app": app, "version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}],
                    "terminationGracePeriodSeconds": 0,
                },
            },
        },
    }
