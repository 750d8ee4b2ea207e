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


def segmented_sli(journey: str, label: str) -> dict[str, str]:
    """The SLI of a segmented fixture journey (lab.segment_histories), one series per `label`."""
    selector = f'journey="{journey}"'
    by = f"sum by ({label}) "
    return {
        "good": f'{by}(rate(http_requests_total{{{selector},code!~"5.."}}[{{{{window}}}}]))',
        "total": f"{by}(rate(http_requests_total{{{selector}}}[{{{{window}}}}]))",
    }


def segmented_journey(journey: str, label: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """A journey entry for `gate()`: judged per `label` as well as as a whole."""
    return journey, {"sli": segmented_sli(journey, label), "segmentBy": [label], **overrides}


def tier_guardrail(app: str, **overrides: Any) -> dict[str, Any]:
    """Canary error ratio per tier against the stable one's, 100 canary requests per tier."""

    def ratio(version: str) -> str:
        selector = f'app="{app}",version="{version}"'
        errors = (
            f'sum by (tier) (rate(http_requests_total{{{selector},code=~"5.."}}[{{{{interval}}}}]))'
        )
        requests = f"sum by (tier) (rate(http_requests_total{{{selector}}}[{{{{interval}}}}]))"
        return f"{errors} / {requests}"

    canary = f'app="{app}",version="canary"'
    return {
        "name": f"{app}-errors",
        "canary": ratio("canary"),
        "baseline": ratio("stable"),
        "max": 0.02,
        "maxIncrease": 0.01,
        "samples": f"sum by (tier) (increase(http_requests_total{{{canary}}}[{{{{interval}}}}]))",
        "minSamples": 100,
        "segmentBy": ["tier"],
        **overrides,
    }


def conversion_metric(app: str, **overrides: Any) -> dict[str, Any]:
    """Conversion over the last hour, canary against stable (lab.segment_histories)."""

    def side(version: str, family: str) -> str:
        return f'{family}{{app="{app}",version="{version}"}}'

    def ratio(version: str) -> str:
        conversions = side(version, "conversions_total")
        return f"sum(rate({conversions}[1h])) / sum(rate({side(version, 'sessions_total')}[1h]))"

    return {
        "name": "conversion",
        "canary": ratio("canary"),
        "baseline": ratio("stable"),
        "direction": "higher",
        "samples": f"sum(increase({side('canary', 'sessions_total')}[1h]))",
        "baselineSamples": f"sum(increase({side('stable', 'sessions_total')}[1h]))",
        "minSamples": 1000,
        **overrides,
    }


def gate(
    *journeys: str | tuple[str, dict[str, Any]],
    risk: str = "low",
    factors: dict[str, Any] | None = None,
    guardrails: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None,
    steps: list[int] | None = None,
    success_metrics: list[dict[str, Any]] | None = None,
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
    if success_metrics:
        document["spec"]["canary"]["successMetrics"] = success_metrics
    if status:
        document["status"] = status
    return document
