"""What the verdict API's scenarios share: the examples' manifests brought to a test's
namespace, a judge-only gate over the scenario's simulator, and this branch's CRD served."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from lightkube import ApiError

from lab import scenarios as sc
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import CRD, REPO, Scenario

EXAMPLES = REPO / "examples"
EXAMPLE_VERDICT_API = "http://canarygate-verdict.canarygate.svc:8082"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def in_namespace(docs: Iterable[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The documents moved from the examples' namespace (shop) to `namespace`, with every
    mention of shop in their text (subjects, URLs) too."""
    text = json.dumps(list(docs)).replace('"shop"', json.dumps(namespace))
    moved: list[dict[str, Any]] = json.loads(text)
    return moved


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def apply(scenario: Scenario, docs: Iterable[dict[str, Any]]) -> None:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(docs)})
    scenario.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest)


def judged_gate(
    scenario: Scenario,
    name: str,
    *,
    steps: list[int],
    interval: str = "2s",
    max_increase: float = 0.02,
) -> dict[str, Any]:
    """A judge-only gate over the scenario's simulator: its checkout journey (red when the
    burn rate reaches 5 over 2m and 1m) and the relative canary error-rate guardrail over 10 s,
    which a fleet-wide incident does not fail (both sides burn alike, within `max_increase`:
    while an incident starts, a canary with few samples in the window may read a few points
    above the stable side)."""
    return sc.gate(
        name,
        scenario.namespace,
        scenario=scenario.label,
        traffic={"provider": "external"},
        steps=steps,
        interval=interval,
        guardrails=[sc.error_guardrail(scenario.label, min_samples=20, max_increase=max_increase)],
    )


def create_judged_gate(scenario: Scenario, body: dict[str, Any]) -> None:
    """Create a judge-only gate once the API server serves this CRD (a shared development
    cluster may briefly serve an older copy another run applied: apply ours again)."""

    def created() -> bool:
        ensure_our_crd(scenario)
        try:
            scenario.create(body)
        except ApiError as error:
            if "Unsupported value" not in str(error):
                raise
            scenario.cluster.kubectl(
                "apply", "--server-side", "--force-conflicts", f"--filename={CRD}"
            )
            return False
        return True

    wait_until("the API server to accept provider external", created, timeout=60, interval=1)


def get(scenario: Scenario, what: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(scenario.kubectl("get", what, "-o", "json"))
    return found


def items(scenario: Scenario, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get(scenario, kind)["items"]
    return found


def ensure_our_crd(scenario: Scenario) -> None:
    """This branch's CRD served: on a development cluster shared with runs of older branches,
    their copy (without status.verdict, which the API server then prunes) may have been
    applied since this session started."""
    crd = json.loads(
        scenario.cluster.kubectl("get", "crd", "canarygates.canarygate.io", "-o", "json")
    )
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    if "verdict" not in status["properties"]:
        scenario.cluster.kubectl("apply", "--server-side", "--force-conflicts", f"--filename={CRD}")


def callers_of(scenario: Scenario, gate: str) -> list[dict[str, Any]]:
    ensure_our_crd(scenario)
    return callers_in(scenario.status(gate))


def callers_in(status: dict[str, Any]) -> list[dict[str, Any]]:
    """`status.verdict.callers` of one status already read."""
    return list((status.get("verdict") or {}).get("callers") or [])


def replaced(
    docs: Iterable[dict[str, Any]], change: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    out = [copy.deepcopy(doc) for doc in docs]
    for doc in out:
        change(doc)
    return out
