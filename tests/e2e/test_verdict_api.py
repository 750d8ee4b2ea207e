"""The verdict API of the live operator (`canarygate run --verdict-address`) on the real control
plane, for a judge-only gate (provider external) whose traffic the test moves itself, as Argo
Rollouts or Flagger would:

- a ServiceAccount token is reviewed by the API server (TokenReview) and the account must be
  allowed `get` on that CanaryGate (SubjectAccessReview): a reader gets the verdict, another
  account of the namespace 403, a made-up token 401, an unknown gate 404;
- the verdict follows the traffic: pass while the canary is healthy at the weight the caller
  reports, fail once the canary fails at that weight (and an Event says so);
- the gate's status records who asked and what they were answered (and the weight), written
  on change, not per poll; the HTTPRoute is never written by canarygate;
- the operator's metrics count the verdicts by caller and the requests by status code.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lab import scenarios as sc
from lab.prometheus import free_port
from tests.e2e.helpers import wait_until
from tests.e2e.judges import callers_in, create_judged_gate, ensure_our_crd
from tests.e2e.operator_fixtures import Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PORT = free_port()
OPERATOR_ARGS = (f"--verdict-address=127.0.0.1:{PORT}",)
URL = f"http://127.0.0.1:{PORT}"
ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"

READER_RBAC = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: verdict-reader}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: stranger}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: canarygate-verdicts}
rules:
  - apiGroups: [canarygate.io]
    resources: [canarygates]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: verdict-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: canarygate-verdicts}
subjects:
  - {kind: ServiceAccount, name: verdict-reader}
"""


def token(scenario: Scenario, account: str) -> str:
    return scenario.kubectl("create", "token", account, "--duration=1h").strip()


def ask(scenario: Scenario, gate: str, bearer: str, weight: int | None = None) -> httpx.Response:
    params = {"weight": str(weight)} if weight is not None else {}
    return httpx.get(
        f"{URL}/v1/verdicts/{scenario.namespace}/{gate}",
        params=params,
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=30,
    )


def set_route(scenario: Scenario, canary: int) -> None:
    """What the other tool does: move the weights itself."""
    body = scenario.must_get("HTTPRoute", ROUTE)
    refs = body["spec"]["rules"][0]["backendRefs"]
    refs[0]["weight"], refs[1]["weight"] = 100 - canary, canary
    scenario.patch("HTTPRoute", ROUTE, {"spec": {"rules": body["spec"]["rules"]}})


def verdict_when(
    scenario: Scenario, bearer: str, weight: int, wanted: str, timeout: float = 90
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        response = ask(scenario, "web", bearer, weight)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["verdict"] == wanted else None

    found: dict[str, Any] = wait_until(f"the verdict {wanted} at {weight}%", probe, timeout=timeout)
    return found


def test_a_judge_only_gate_answers_its_readers_and_records_them(scenario: Scenario) -> None:
    scenario.kubectl("apply", "-f", "-", stdin=READER_RBAC)
    scenario.create(
        sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY, canary_weight=0)
    )
    simulator = scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    create_judged_gate(
        scenario,
        sc.gate(
            "web", scenario.namespace, scenario=scenario.label,
            traffic={"provider": "external"}, steps=[20, 50], interval="2s",
        ),
    )  # fmt: skip
    status = scenario.wait_gate(
        "web", "judging to start", lambda s: s.get("phase") == "Progressing"
    )
    assert status["traffic"] == {"provider": "external"}
    reader, stranger = token(scenario, "verdict-reader"), token(scenario, "stranger")

    # Who may ask.
    assert ask(scenario, "web", "not-a-token").status_code == 401
    refused = ask(scenario, "web", stranger)
    assert refused.status_code == 403, refused.text
    assert f"system:serviceaccount:{scenario.namespace}:stranger" in refused.json()["error"]
    assert ask(scenario, "no-such-gate", reader).status_code == 404

    # Healthy at 20 %: the other tool moved the traffic, the caller says so.
    set_route(scenario, 20)
    passed = verdict_when(scenario, reader, 20, "pass")
    assert passed["weight"]["current"] == 20
    assert passed["judgeOnly"] is True
    assert passed["journeys"][0]["name"] == "checkout"
    assert passed["evidence"]["source"] in ("request", "schedule")
    caller = f"system:serviceaccount:{scenario.namespace}:verdict-reader"

    def recorded(status: dict[str, Any]) -> bool:
        # Judged on the status wait_gate read and returns: a second read could be newer than
        # the one the test goes on from (the caller's earlier inconclusive, in CI).
        return any(
            c["name"] == caller and c["verdict"] == "pass" and c["weight"] == 20
            for c in callers_in(status)
        )

    ensure_our_crd(scenario)
    status = scenario.wait_gate("web", "the reader's answer in status", recorded)
    assert status["weight"] == 20
    # Polls that get the same answer write nothing.
    for _ in range(20):
        assert ask(scenario, "web", reader, 20).json()["verdict"] == "pass"
    since = [c["since"] for c in status["verdict"]["callers"] if c["name"] == caller]
    later = scenario.status("web")
    assert [c["since"] for c in later["verdict"]["callers"] if c["name"] == caller] == since
    # (the evidence may still be rewritten on the heartbeat: the callers' entries did not move)

    # The canary fails at 20 %: fail, and an Event.
    simulator.set_faults(errorRatio=0.5)
    failed = verdict_when(scenario, reader, 20, "fail")
    assert failed["action"] == "rollback"
    assert any("guardrail error-rate" in r for r in failed["reasons"])
    scenario.wait_event("web", "VerdictChanged", timeout=60)

    # canarygate never touched the route: the test's own weights are there, no stamp.
    route = scenario.must_get("HTTPRoute", ROUTE)
    weights = [r.get("weight") for r in route["spec"]["rules"][0]["backendRefs"]]
    assert weights == [80, 20]
    assert "canarygate.io/managed-weights" not in (route["metadata"].get("labels") or {})
    managers = {m.get("manager") for m in route["metadata"].get("managedFields") or []}
    assert "canarygate" not in managers

    metrics = scenario.stage.operator_metric
    assert metrics("canarygate_verdicts_total", caller=caller, verdict="pass") >= 21
    assert metrics("canarygate_verdicts_total", caller=caller, verdict="fail") >= 1
    assert metrics("canarygate_verdict_requests_total", code="403") >= 1
    assert metrics("canarygate_verdict_requests_total", code="401") >= 1
    assert metrics("canarygate_verdict_request_duration_seconds_count") >= 25
