"""Build CanaryGate documents for the fixture scenarios (journey and app label values)."""

from __future__ import annotations

from typing import Any

LATENCY_JOURNEYS = {"latency-ok", "latency-slow", "search"}
ROUTE = {"httpRoute": "r", "stableBackend": "s", "canaryBackend": "c"}


def _query(template: str, selector: str) -> str:
    """Fill SELECTOR into a PromQL template; the template keeps its {{window}} braces."""
    return template.replace("SELECTOR", selector)


def sli(journey: str) -> dict[str, str]:
    selector = f'journey="{journey}"'
    if journey in LATENCY_JOURNEYS:
        good = 'sum(rate(http_request_duration_seconds_bucket{SELECTOR,le="0.3"}[{{window}}]))'
        total = "sum(rate(http_request_duration_seconds_count{SELECTOR}[{{ window }}]))"
    else:
        good = 'sum(rate(http_requests_total{SELECTOR,code!~"5.."}[{{window}}]))'
        total = "sum(rate(http_requests_total{SELECTOR}[{{ window }}]))"
    return {"good": _query(good, selector), "total": _query(total, selector)}


def error_rate_guardrail(app: str, **overrides: Any) -> dict[str, Any]:
    errors = 'sum(rate(http_requests_total{SELECTOR,code=~"5.."}[{{interval}}]))'
    requests = "sum(rate(http_requests_total{SELECTOR}[{{interval}}]))"

    def ratio(version: str) -> str:
        selector = f'app="{app}",version="{version}"'
        return f"{_query(errors, selector)} / {_query(requests, selector)}"

    samples = "sum(increase(http_requests_total{SELECTOR}[{{interval}}]))"
    return {
        "name": f"{app}-errors",
        "canary": ratio("canary"),
        "baseline": ratio("stable"),
        "max": 0.01,
        "maxIncrease": 0.005,
        "samples": _query(samples, f'app="{app}",version="canary"'),
        "minSamples": 100,
        **overrides,
    }


def gate(
    *journeys: str | tuple[str, dict[str, Any]],
    risk: str = "low",
    factors: dict[str, Any] | None = None,
    guardrails: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None,
    steps: list[int] | None = None,
) -> dict[str, Any]:
    """A gate over fixture journeys; a journey may carry overrides: ("x", {"critical": False})."""
    entries = []
    for item in journeys or ("healthy",):
        name, overrides = (item, {}) if isinstance(item, str) else item
        objective = 99.0 if name in LATENCY_JOURNEYS else 99.9
        entries.append({"name": name, "objective": objective, "sli": sli(name), **overrides})
    document: dict[str, Any] = {
        "apiVersion": "canarygate.io/v1alpha1",
        "kind": "CanaryGate",
        "metadata": {"name": "scenario", "namespace": "it"},
        "spec": {
            "risk": {"level": risk, "factors": factors or {}},
            "journeys": entries,
            "canary": {
                "traffic": {"provider": "gatewayAPI", "gatewayAPI": ROUTE},
                "steps": steps or [5, 10, 25, 50, 100],
                "interval": "1m",
                "guardrails": guardrails or [],
            },
        },
    }
    if status:
        document["status"] = status
    return document
