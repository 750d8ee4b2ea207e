"""`canarygate check` against the live operator on the real control plane, authenticated as
the ServiceAccount of the Argo CD PostSync example (examples/pipelines/), so the example's
Role (get and watch of one gate, nothing else) is what the command really needs:

- `--wait` on a healthy canary exits 0 once promoted; for the next revision, while the
  operator has not started it, the previous revision's Promoted is not reported as success
  (exit 3 with a short timeout), and `--wait` exits 0 only once the new revision is promoted;
- `--wait` on a canary serving errors exits 1 once it is rolled back;
- a gate that holds (no data) times out with exit 3, reports in-progress without --wait, and
  a gate the Role does not name is refused (exit 4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import scenarios as sc
from lab.stage import Simulator
from tests.e2e.operator_fixtures import REPO, Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
HOOK = REPO / "examples" / "pipelines" / "argocd-postsync-job.yaml"


@dataclass(frozen=True)
class Checked:
    code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.stdout)
        return found


def hook_documents(namespace: str, gate: str) -> list[dict[str, Any]]:
    """The example's objects, for this namespace and gate."""
    text = HOOK.read_text().replace("namespace: shop", f"namespace: {namespace}")
    text = text.replace("checkout-v2", gate).replace("shop/", f"{namespace}/")
    return [d for d in yaml.safe_load_all(text) if d]


def as_hook_account(scenario: Scenario, gate: str, tmp_path: Path) -> Path:
    """Apply the example's ServiceAccount, Role and RoleBinding (the Job only as a server-side
    dry run: its image is not here), and return a kubeconfig holding that account's token."""
    documents = hook_documents(scenario.namespace, gate)
    kinds = [d["kind"] for d in documents]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding", "Job"]
    rbac = [d for d in documents if d["kind"] != "Job"]
    scenario.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(rbac))
    job = yaml.safe_dump(documents[-1])
    scenario.kubectl("apply", "--dry-run=server", "-f", "-", stdin=job)
    token = scenario.kubectl("create", "token", "canarygate-check", "--duration=1h").strip()
    admin = yaml.safe_load(scenario.cluster.kubeconfig.read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": "canarygate-check", "user": {"token": token}}],
        "contexts": [{"name": "hook", "context": {"cluster": admin["clusters"][0]["name"],
                                                 "user": "canarygate-check"}}],
        "current-context": "hook",
    }  # fmt: skip
    path = tmp_path / "hook.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def start_check(kubeconfig: Path, gate: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "KUBECONFIG")}
    return subprocess.Popen(
        [sys.executable, "-m", "canarygate", "check", gate, "-o", "json",
         "--progress", "plain", f"--kubeconfig={kubeconfig}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 180) -> Checked:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"canarygate check did not end within {timeout:.0f}s:\n{stderr}")
    return Checked(process.returncode, stdout, stderr)


def check(kubeconfig: Path, gate: str, *args: str) -> Checked:
    return finish(start_check(kubeconfig, gate, *args))


def prepare(scenario: Scenario) -> Simulator:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    return scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)


def create_gate(scenario: Scenario, label: str, **settings: Any) -> None:
    scenario.create(
        sc.gate("web", scenario.namespace, scenario=label,
                traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY), **settings)
    )  # fmt: skip


def test_wait_exits_0_on_promotion_and_never_on_the_previous_revisions_promotion(
    scenario: Scenario, tmp_path: Path
) -> None:
    prepare(scenario)
    kubeconfig = as_hook_account(scenario, "web", tmp_path)
    gate = f"{scenario.namespace}/web"
    create_gate(scenario, scenario.label, revision="v1")

    promoted = check(kubeconfig, gate, "--wait", "--timeout", "150s")

    assert promoted.code == 0, promoted.stderr
    found = promoted.document
    assert (found["result"], found["revision"], found["phase"]) == ("promoted", "v1", "Promoted")
    assert found["weight"] == 100
    # Plain progress: a line per change, with weight, health and the last reason.
    lines = promoted.stderr.splitlines()
    assert any("Progressing, weight 20%, health green" in line for line in lines), lines
    assert len(lines) == len({line[10:] for line in lines})  # no line repeated

    # v2 while no operator runs: the status still says v1 Promoted, which is not v2's success.
    scenario.stage.stop_operator()
    scenario.patch("CanaryGate", "web", {"spec": {"canary": {"revision": "v2"}}})
    early = check(kubeconfig, gate, "--wait", "--timeout", "3s")
    assert early.code == 3, early.stderr
    assert early.document["result"] == "timed-out"
    assert early.document["message"] == (
        "waiting for the operator to start revision v2 (its status is for revision v1: Promoted)"
    )

    waiting = start_check(kubeconfig, gate, "--wait", "--timeout", "150s")
    assert waiting.stderr is not None
    first = waiting.stderr.readline()  # the wait has read the gate: now start the operator
    assert "waiting for the operator to start revision v2" in first
    scenario.stage.start_operator()
    second = finish(waiting)

    assert second.code == 0, second.stderr
    assert (second.document["result"], second.document["revision"]) == ("promoted", "v2")
    assert "Pending, weight 0%" in second.stderr


def test_wait_exits_1_on_a_rollback(scenario: Scenario, tmp_path: Path) -> None:
    simulator = prepare(scenario)
    simulator.set_faults(errorRatio=0.05)
    kubeconfig = as_hook_account(scenario, "web", tmp_path)
    create_gate(scenario, scenario.label, revision="v1")

    rolled_back = check(kubeconfig, f"{scenario.namespace}/web", "--wait", "--timeout", "150s")

    assert rolled_back.code == 1, rolled_back.stderr
    found = rolled_back.document
    assert (found["result"], found["revision"]) == ("rolled-back", "v1")
    assert found["phase"] == "RolledBack"
    assert found["weight"] == 0
    assert found["message"].startswith("rollback: guardrail error-rate failed")
    assert "RolledBack" in rolled_back.stderr.splitlines()[-1]


def test_a_holding_gate_times_out_and_another_gate_is_refused(
    scenario: Scenario, tmp_path: Path
) -> None:
    # No simulator: the journey's queries find nothing, so health is unknown and the gate
    # holds at 0 % for as long as it exists.
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    kubeconfig = as_hook_account(scenario, "web", tmp_path)
    gate = f"{scenario.namespace}/web"
    create_gate(scenario, f"{scenario.label}-silent", revision="v1")
    scenario.wait_gate("web", "a first hold", lambda s: s.get("action") == "hold")

    once = check(kubeconfig, gate)
    assert once.code == 3, once.stderr
    assert once.document["result"] == "in-progress"
    assert once.document["health"] == "unknown"

    timed_out = check(kubeconfig, gate, "--wait", "--timeout", "5s")
    assert timed_out.code == 3, timed_out.stderr
    found = timed_out.document
    assert found["result"] == "timed-out"
    assert found["weight"] == 0
    assert found["elapsedSeconds"] >= 5
    assert "health unknown" in timed_out.stderr

    text = finish(
        subprocess.Popen(
            [sys.executable, "-m", "canarygate", "check", gate, "--wait", "--timeout", "2s",
             "--progress", "none", f"--kubeconfig={kubeconfig}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
    )  # fmt: skip
    assert text.code == 3
    assert text.stdout.startswith(f"{gate} revision v1: timed out after 2s, still ")
    assert text.stderr == ""

    create_gate_named = sc.gate("other", scenario.namespace, scenario=scenario.label,
                                traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY))  # fmt: skip
    scenario.create(create_gate_named)
    refused = check(kubeconfig, f"{scenario.namespace}/other", "--wait", "--timeout", "30s")
    assert refused.code == 4
    assert refused.document["result"] == "error"
    assert "403" in refused.document["error"]
    assert refused.stderr.splitlines()[-1].startswith("canarygate: ")
