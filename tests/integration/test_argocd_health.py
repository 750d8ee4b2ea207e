"""The Argo CD health check (gitops/argocd/health.lua), run for real on gopher-lua v1.1.2 (the
interpreter Argo CD embeds) with the libraries Argo CD opens for a check from argocd-cm:
package, base and table, no string library. One case per phase and per condition that
changes the answer; the fields it reads exist in the CRD's status; argocd-cm.yaml embeds the
current script. The harness is built by scripts/build-lua-harness (cached outside the repo).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "gitops" / "argocd" / "health.lua"
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"


@pytest.fixture(scope="module")
def harness() -> Path:
    built = subprocess.run(
        [REPO / "scripts" / "build-lua-harness"], capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip())


def health(harness: Path, resource: dict[str, Any], script: Path = SCRIPT) -> dict[str, Any]:
    done = subprocess.run(
        [harness, script], input=json.dumps(resource), capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def gate(status: dict[str, Any] | None = None, *, revision: str | None = "v2",
         generation: int = 4) -> dict[str, Any]:  # fmt: skip
    canary: dict[str, Any] = {"steps": [20, 60]}
    if revision is not None:
        canary["revision"] = revision
    body: dict[str, Any] = {
        "apiVersion": "canarygate.io/v1alpha1",
        "kind": "CanaryGate",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": {"canary": canary},
    }
    if status is not None:
        body["status"] = {"observedGeneration": generation, **status}
    return body


def condition(kind: str, status: str, reason: str, message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-15T12:00:00Z"}  # fmt: skip


PROGRESSING = {
    "phase": "Progressing", "revision": "v2", "weight": 20, "health": "green",
    "action": "advance", "message": "advance: 0% -> 20%, evaluation passed",
}  # fmt: skip
FINE = [
    condition("SpecValid", "True", "Valid"),
    condition("MetricsAvailable", "True", "Answered"),
    condition("QueriesAccepted", "True", "Accepted"),
    condition("TrafficReady", "True", "WeightVerified"),
]

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no status yet", gate(None), "Progressing",
     "Waiting for the canarygate operator to start the rollout"),
    ("Pending", gate({"phase": "Pending", "revision": "v2", "weight": 0, "health": "green",
                      "message": "rollout of revision v2 starts at 0%"}),
     "Progressing", "Revision v2 pending: canary at 0%, health green: rollout of revision v2 "
     "starts at 0%"),
    ("Progressing", gate({**PROGRESSING, "conditions": FINE}), "Progressing",
     "Revision v2 progressing: canary at 20%, health green: advance: 0% -> 20%, evaluation "
     "passed"),
    ("WaitingForApproval", gate({**PROGRESSING, "phase": "WaitingForApproval",
                                 "message": "hold: waiting for approval of v2/60",
                                 "approval": {"key": "v2/60",
                                              "waitingSince": "2026-01-15T12:00:00Z"}}),
     "Suspended", "Waiting for approval of v2/60 (canarygate approve shop/web): canary at 20%, "
     "health green: hold: waiting for approval of v2/60"),
    ("Promoted", gate({"phase": "Promoted", "revision": "v2", "weight": 100, "health": "green",
                       "message": "promote: the last step (60%) passed", "conditions": FINE}),
     "Healthy", "Revision v2 promoted: canary at 100%, health green: promote: the last step "
     "(60%) passed"),
    ("RolledBack", gate({"phase": "RolledBack", "revision": "v2", "weight": 0, "health": "green",
                         "message": "rollback: guardrail error-rate failed 1 consecutive time(s)"}),
     "Degraded", "Revision v2 rolled back: canary at 0%, health green: rollback: guardrail "
     "error-rate failed 1 consecutive time(s)"),
    ("Invalid", gate({"phase": "Invalid", "message": "invalid spec: spec.canary.traffic: the "
                      "HTTPRoute has no rule naming both backends",
                      "conditions": [condition("SpecValid", "False", "Invalid", "...")]}),
     "Degraded", "invalid spec: spec.canary.traffic: the HTTPRoute has no rule naming both "
     "backends"),
    ("Invalid for an older generation", gate({"phase": "Invalid", "observedGeneration": 3}),
     "Progressing", "Waiting for the canarygate operator to see generation 4 of the spec"),
    ("the previous revision's Promoted", gate({"phase": "Promoted", "revision": "v1",
                                               "weight": 100}),
     "Progressing", "Waiting for the canarygate operator to start revision v2"),
    ("the previous revision's RolledBack", gate({"phase": "RolledBack", "revision": "v1"}),
     "Progressing", "Waiting for the canarygate operator to start revision v2"),
    ("a gate naming no revision", gate({"phase": "Promoted", "weight": 100}, revision=None),
     "Healthy", "Rollout promoted: canary at 100%"),
    ("QueryError", gate({**PROGRESSING, "action": "hold", "message": "configuration error",
                         "conditions": [*FINE[:2], condition("QueriesAccepted", "False",
                                        "QueryError", "journey checkout sli.good: parse error"),
                                        FINE[3]]}),
     "Degraded", "Revision v2 holding: QueriesAccepted is False (QueryError): journey checkout "
     "sli.good: parse error"),
    ("WeightMismatch", gate({**PROGRESSING, "conditions": [*FINE[:3], condition(
        "TrafficReady", "False", "WeightMismatch", "the live weights are 50/50, not 80/20")]}),
     "Degraded", "Revision v2 holding: TrafficReady is False (WeightMismatch): the live weights "
     "are 50/50, not 80/20"),
    ("TargetMissing", gate({**PROGRESSING, "conditions": [condition(
        "TrafficReady", "False", "TargetMissing", "HTTPRoute shop/web not found")]}),
     "Degraded", "Revision v2 holding: TrafficReady is False (TargetMissing): HTTPRoute shop/web "
     "not found"),
    ("CannotTell is only waiting", gate({**PROGRESSING, "conditions": [*FINE[:3], condition(
        "TrafficReady", "Unknown", "CannotTell", "the canary's pods are not ready yet")]}),
     "Progressing", "Revision v2 progressing: canary at 20%, health green: advance: 0% -> 20%, "
     "evaluation passed"),
    ("NoData holds without a fix", gate({**PROGRESSING, "health": "unknown", "action": "hold",
                                         "message": "hold: customer health unknown",
                                         "conditions": [condition("MetricsAvailable", "False",
                                                                  "NoData", "silent windows")]}),
     "Progressing", "Revision v2 progressing: canary at 20%, health unknown: hold: customer "
     "health unknown"),
    ("PrometheusUnavailable holds without a fix", gate({**PROGRESSING, "conditions": [condition(
        "MetricsAvailable", "False", "PrometheusUnavailable", "connection refused")]}),
     "Progressing", "Revision v2 progressing: canary at 20%, health green: advance: 0% -> 20%, "
     "evaluation passed"),
    ("a phase from a newer canarygate", gate({"phase": "Paused", "revision": "v2"}),
     "Unknown", "Unknown phase Paused"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "status", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_health_of_each_phase_and_condition(
    harness: Path, resource: dict[str, Any], status: str, message: str
) -> None:
    assert health(harness, resource) == {"status": status, "message": message}


def test_every_phase_of_the_crd_has_a_case() -> None:
    schema = yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    phases = set(schema["properties"]["status"]["properties"]["phase"]["enum"])
    covered = {case[1].get("status", {}).get("phase") for case in CASES}
    assert phases <= covered


def test_the_fields_it_reads_exist_in_the_crd() -> None:
    schema = yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    status = schema["properties"]["status"]["properties"]
    script = SCRIPT.read_text()
    for field in ("phase", "revision", "weight", "health", "message", "observedGeneration",
                  "conditions", "approval"):  # fmt: skip
        assert f"status.{field}" in script
        assert field in status, field
    assert {"type", "status", "reason", "message"} <= set(
        status["conditions"]["items"]["properties"]
    )
    assert "key" in status["approval"]["properties"]
    assert "revision" in schema["properties"]["spec"]["properties"]["canary"]["properties"]


def test_the_harness_has_no_string_library_as_argo_cd_has_none(
    harness: Path, tmp_path: Path
) -> None:
    script = tmp_path / "uses-string.lua"
    script.write_text('return {status = string.format("%s", "Healthy"), message = ""}\n')
    done = subprocess.run(
        [harness, script], input="{}", capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    assert "format" in done.stderr


def test_a_status_argo_cd_does_not_know_is_refused(harness: Path, tmp_path: Path) -> None:
    script = tmp_path / "bad.lua"
    script.write_text('return {status = "Fine", message = "?"}\n')
    done = subprocess.run(
        [harness, script], input="{}", capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    assert 'status "Fine"' in done.stderr


def test_argocd_cm_embeds_the_current_script() -> None:
    rendered = subprocess.run(
        [sys.executable, "-c", "import runpy; print(runpy.run_path('scripts/render-argocd-cm')"
         "['render'](), end='')"],
        capture_output=True, text=True, cwd=REPO, timeout=30, check=True,
    ).stdout  # fmt: skip
    committed = (REPO / "gitops" / "argocd" / "argocd-cm.yaml").read_text()
    assert committed == rendered, "gitops/argocd/argocd-cm.yaml is stale: run make argocd-cm"
    data = yaml.safe_load(committed)["data"]
    assert data["resource.customizations.health.canarygate.io_CanaryGate"] == SCRIPT.read_text()
