"""Manual controls live, through the real CLI as its own process:

- `canarygate pause --all -n NS` holds every gate of a namespace where it is; one is resumed
  and moves on, one has its promotion forced (`--reason` recorded with who asked), then
  `canarygate abort --all -n NS` sends the others' traffic to stable at once; each control is
  acknowledged in status.controls, the history and an Event; an abort named for an earlier
  revision is ignored with the reason once the next rollout starts;
- `spec.enforcement: observe`: a gate decides, records and announces its whole rollout while
  its route never changes;
- the chart's admission policy: members of its groups may force a promotion, anyone else is
  refused by the API server, while pause stays open to all (two impersonated users, and two
  ServiceAccounts whose tokens the CLI uses).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import chart
from lab import scenarios as sc
from tests.e2e.operator_fixtures import REPO, Scenario, history_steps, managed_weights, sequence_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.usefixtures("own_crd")]

# Gates without guardrails step on every evaluation: with four steps they promoted 8 s after
# their first, which a slow machine could spend before the pause reached them. Nine steps give
# the test 18 s from the first step to the pause.
STEPS = list(range(10, 100, 10))
GATES = ("a", "b", "c", "d")


def canarygate(scenario: Scenario, *args: str, kubeconfig: Path | None = None) -> Any:
    return subprocess.run(
        [
            sys.executable, "-m", "canarygate", *args,
            f"--kubeconfig={kubeconfig or scenario.cluster.kubeconfig}",
        ],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip


def route(name: str) -> tuple[str, str, str]:
    return f"route-{name}", f"{name}-stable", f"{name}-canary"


def make_gates(scenario: Scenario, names: tuple[str, ...], **settings: Any) -> None:
    """One route per gate; one simulator (following the first route) serves the journey all
    of them read, so each gate's health is the scenario's. No guardrails: the other gates'
    canaries get no simulated traffic of their own."""
    for index, name in enumerate(names):
        obj, stable, canary = route(name)
        scenario.create(sc.http_route(obj, scenario.namespace, stable=stable, canary=canary))
        if index == 0:
            scenario.simulator("gatewayAPI", obj=obj, stable=stable, canary=canary)
    for name in names:
        obj, stable, canary = route(name)
        scenario.create(
            sc.gate(
                name, scenario.namespace, scenario=scenario.label,
                traffic=sc.gateway_traffic(obj, stable, canary), guardrails=[], **settings,
            )
        )  # fmt: skip


def weights(scenario: Scenario, name: str) -> list[tuple[int, int]]:
    obj, stable, canary = route(name)
    return managed_weights(scenario.must_get("HTTPRoute", obj), stable, canary)


def controls(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("controls") or []}


def whoami(scenario: Scenario) -> str:
    found = scenario.kubectl("auth", "whoami", "--output=jsonpath={.status.userInfo.username}")
    return found.strip()


def test_pause_resume_promote_and_abort_across_a_namespace(scenario: Scenario) -> None:
    make_gates(scenario, GATES, steps=STEPS, interval="2s")
    watches = {name: scenario.watch("HTTPRoute", route(name)[0]) for name in GATES}
    for name in GATES:
        scenario.wait_gate(name, f"{name} to take a step", lambda s: (s.get("weight") or 0) > 0)
    me = whoami(scenario)

    paused = canarygate(scenario, "pause", "--all", "-n", scenario.namespace, "--reason", "INC-7")
    assert paused.returncode == 0, paused.stderr
    assert sorted(paused.stdout.splitlines()) == [
        f"paused {scenario.namespace}/{name} (revision v1)" for name in GATES
    ]
    held: dict[str, int] = {}
    for name in GATES:
        status = scenario.wait_gate(
            name, f"{name} to acknowledge the pause",
            lambda s: controls(s).get("pause", {}).get("applied") is True
            and str(s.get("message", "")).startswith("hold: paused"),
        )  # fmt: skip
        pause = controls(status)["pause"]
        assert (pause["revision"], pause["by"], pause["reason"]) == ("v1", me, "INC-7")
        held[name] = status["weight"]
        entry = [h for h in status["history"] if h.get("control") == "pause"]
        assert [(h["action"], h["by"]) for h in entry] == [("hold", me)]
        assert scenario.wait_event(name, "Paused")["message"].startswith(
            f"pause by {me} (INC-7) of revision v1 acknowledged"
        )
    due = scenario.stage.operator_metric("canarygate_gates_due_total")
    scenario.steady(
        "every paused gate where it was",
        lambda: all(
            scenario.status(n)["weight"] == held[n] and weights(scenario, n)[0][1] == held[n]
            for n in GATES
        ),
        until=lambda: scenario.stage.operator_metric("canarygate_gates_due_total") >= due + 9,
        timeout=60,
    )

    resume_promote_and_abort(scenario, me, held, watches)


def resume_promote_and_abort(
    scenario: Scenario, me: str, held: dict[str, int], watches: dict[str, Any]
) -> None:
    # Lift the pause of one gate: it moves on; the others stay.
    resumed = canarygate(scenario, "resume", f"{scenario.namespace}/c", "--reason", "mitigated")
    assert resumed.returncode == 0, resumed.stderr
    status = scenario.wait_phase("c", "Promoted")  # it moved on, to the end
    assert "pause" not in controls(status)
    assert (controls(status)["resume"]["by"], controls(status)["resume"]["reason"]) == (
        me, "mitigated",
    )  # fmt: skip
    scenario.wait_event("c", "Resumed")

    # Force the promotion of one paused gate: a reason is required, who asked is recorded.
    refused = canarygate(scenario, "promote", f"{scenario.namespace}/b")
    assert refused.returncode == 2
    assert refused.stderr.startswith("canarygate: the following arguments are required: --reason")
    forced = canarygate(
        scenario, "promote", f"{scenario.namespace}/b", "--reason", "hotfix verified by hand"
    )
    assert forced.returncode == 0, forced.stderr
    status = scenario.wait_phase("b", "Promoted")
    assert weights(scenario, "b") == [(0, 100)]
    last = status["history"][-1]
    assert (last["action"], last["control"], last["by"]) == ("promote", "promote", me)
    assert "hotfix verified by hand" in last["reason"]
    assert scenario.wait_event("b", "ForcePromoted")["type"] == "Warning"

    # Abort the namespace: the running rollouts go to stable at once; the finished ones say so.
    aborted = canarygate(scenario, "abort", "--all", "-n", scenario.namespace, "--reason", "INC-7")
    assert aborted.returncode == 0, aborted.stderr
    for name in ("a", "d"):
        status = scenario.wait_phase(name, "RolledBack", timeout=30)
        assert weights(scenario, name) == [(100, 0)]
        last = status["history"][-1]
        assert (last["action"], last["control"], last["by"], last["weightTo"]) == (
            "rollback", "abort", me, 0,
        )  # fmt: skip
        assert controls(status)["abort"]["applied"] is True
        scenario.wait_event(name, "Aborted")  # posted after the status that says RolledBack
        assert scenario.event_reasons(name).count("Aborted") == 1
    for name in ("b", "c"):
        ignored = scenario.wait_gate(
            name, f"{name} to acknowledge the abort as ignored",
            lambda s: controls(s).get("abort", {}).get("applied") is False,
        )  # fmt: skip
        assert "already Promoted" in controls(ignored)["abort"]["message"]
        assert weights(scenario, name) == [(0, 100)]
        assert scenario.wait_event(name, "ControlIgnored")["type"] == "Warning"

    # Gate a's route: up to the paused weight, never beyond it, then straight back to stable.
    seen = sequence_of([weights_of(b, "a") for b in scenario.versions(watches["a"])])
    assert seen[-1] == (100, 0)
    assert max(canary for _, canary in seen) == held["a"]
    assert (
        scenario.stage.operator_metric(
            "canarygate_rollbacks_total", namespace=scenario.namespace, trigger="abort"
        )
        == 2
    )
    assert (
        scenario.stage.operator_metric(
            "canarygate_forced_promotions_total", namespace=scenario.namespace, name="b"
        )
        == 1
    )

    # The next revision of a starts afresh: the pause and the abort named v1, and are now
    # ignored, each once.
    scenario.patch("CanaryGate", "a", {"spec": {"canary": {"revision": "v2"}}})
    status = scenario.wait_gate("a", "a's v2 to take a step", lambda s: (s.get("weight") or 0) > 0)
    abort = controls(status)["abort"]
    assert abort["applied"] is False
    assert "names revision v1, and the gate rolls out revision v2" in abort["message"]
    assert controls(status)["pause"]["applied"] is False
    ignored = sorted(
        e["message"].split(" by ")[0]
        for e in scenario.events("a")
        if e["reason"] == "ControlIgnored"
    )
    assert ignored == ["abort", "pause"]


def weights_of(body: dict[str, Any], name: str) -> tuple[int, int]:
    _, stable, canary = route(name)
    [pair] = managed_weights(body, stable, canary)
    return pair


def test_an_observing_gate_records_its_rollout_and_never_moves_traffic(
    scenario: Scenario,
) -> None:
    make_gates(scenario, ("watched",), steps=[20, 60], interval="2s", enforcement="observe")
    watch = scenario.watch("HTTPRoute", route("watched")[0])
    status = scenario.wait_phase("watched", "Promoted", timeout=90)
    assert status["enforcement"] == "observe"
    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 20), ("advance", 20, 60), ("promote", 60, 100),
    ]  # fmt: skip
    assert {h.get("enforcement") for h in status["history"][1:]} == {"observe"}
    assert sequence_of([weights_of(b, "watched") for b in scenario.versions(watch)]) == [(100, 0)]
    assert weights(scenario, "watched") == [(100, 0)]
    columns = scenario.printer_columns("watched")
    assert (columns["ENFORCEMENT"], columns["PHASE"]) == ("observe", "Promoted")
    promoted = scenario.wait_event("watched", "Promoted")
    assert "observe only, no traffic moved" in promoted["message"]


# -- the chart's admission policy ---------------------------------------------------------------

RELEASE_MANAGERS = "canarygate-e2e:release-managers"


def account_kubeconfig(scenario: Scenario, namespace: str, account: str, path: Path) -> Path:
    token = scenario.cluster.kubectl(
        "create", "token", account, f"--namespace={namespace}", "--duration=1h"
    ).strip()
    admin = yaml.safe_load(scenario.cluster.kubeconfig.read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "e2e", "user": account}}],
        "current-context": account,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def test_the_admission_policy_reserves_promotion_for_its_group(
    scenario: Scenario, tmp_path: Path
) -> None:
    ns = scenario.namespace
    release = f"cg-vap-{uuid.uuid4().hex[:6]}"
    releasers = f"{ns}-rel"  # the namespace of the release managers' ServiceAccount
    scenario.cluster.kubectl("create", "namespace", releasers)
    values = {
        "scope": "namespaced",
        "watchNamespaces": [ns],
        "admissionPolicy": {
            "enabled": True,
            "groups": [RELEASE_MANAGERS, f"system:serviceaccounts:{releasers}"],
        },
    }
    docs = [
        d for d in chart.render(values, release=release, namespace=ns)
        if d["kind"].startswith("ValidatingAdmissionPolicy")
    ]  # fmt: skip
    assert len(docs) == 2
    try:
        scenario.cluster.kubectl("apply", "--filename=-", stdin=yaml.safe_dump_all(docs))
        _admission_cases(scenario, releasers, tmp_path)
    finally:
        for doc in reversed(docs):
            scenario.cluster.kubectl(
                "delete", doc["kind"].lower(), doc["metadata"]["name"], "--ignore-not-found",
                "--wait=false",
            )  # fmt: skip
        scenario.cluster.kubectl("delete", "namespace", releasers, "--wait=false")


def _admission_cases(scenario: Scenario, releasers: str, tmp_path: Path) -> None:
    ns = scenario.namespace
    rbac = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "oncall", "namespace": ns}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "lead", "namespace": releasers}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "gate-controls", "namespace": ns},
         "rules": [{"apiGroups": ["canarygate.io"], "resources": ["canarygates"],
                    "verbs": ["get", "list", "patch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "gate-controls", "namespace": ns},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "gate-controls"},
         "subjects": [
             {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
             {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"},
             {"kind": "ServiceAccount", "name": "oncall", "namespace": ns},
             {"kind": "ServiceAccount", "name": "lead", "namespace": releasers},
         ]},
    ]  # fmt: skip
    scenario.cluster.kubectl("apply", "--filename=-", stdin=yaml.safe_dump_all(rbac))
    make_gates(scenario, ("guarded",), steps=[20, 40, 60, 80], interval="2s")
    scenario.wait_gate("guarded", "the gate to take a step", lambda s: (s.get("weight") or 0) > 0)

    def annotate(user: str, groups: list[str], annotation: str) -> Any:
        group_flags = [f"--as-group={g}" for g in groups]
        return subprocess.run(
            [scenario.cluster.kubectl_path, f"--kubeconfig={scenario.cluster.kubeconfig}",
             f"--namespace={ns}", f"--as={user}", *group_flags, "annotate", "canarygate",
             "guarded", annotation, "--overwrite"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    # bob is outside the group: a promotion and an approval are refused, a pause is not.
    for annotation in ("canarygate.io/promote=v1", "canarygate.io/approve=v1/40"):
        refused = annotate("bob", ["oncall"], annotation)
        assert refused.returncode != 0
        assert "denied request: only members of" in refused.stderr, refused.stderr
        assert f"may set {annotation.split('=')[0]}" in refused.stderr
    allowed = annotate("bob", ["oncall"], "canarygate.io/pause=v1")
    assert allowed.returncode == 0, allowed.stderr
    # alice is in the group: her approval goes through.
    assert annotate("alice", [RELEASE_MANAGERS], "canarygate.io/approve=v1/40").returncode == 0
    annotations = scenario.must_get("CanaryGate", "guarded")["metadata"]["annotations"]
    assert "canarygate.io/promote" not in annotations
    assert annotations["canarygate.io/approve"] == "v1/40"

    # The CLI with a ServiceAccount's token: oncall (outside the group) may abort, not promote.
    oncall = account_kubeconfig(scenario, ns, "oncall", tmp_path / "oncall.kubeconfig")
    gate = f"{ns}/guarded"
    refused = canarygate(scenario, "promote", gate, "--reason", "ship", kubeconfig=oncall)
    assert refused.returncode == 2
    assert refused.stderr.startswith("canarygate: "), refused.stderr
    assert "denied request: only members of" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    # lead (a ServiceAccount of the releasers' namespace, a group the policy names) may.
    lead = account_kubeconfig(scenario, releasers, "lead", tmp_path / "lead.kubeconfig")
    forced = canarygate(scenario, "promote", gate, "--reason", "release call", kubeconfig=lead)
    assert forced.returncode == 0, forced.stderr
    status = scenario.wait_phase("guarded", "Promoted", timeout=60)
    promote = controls(status)["promote"]
    assert promote["by"] == f"system:serviceaccount:{releasers}:lead"
    assert promote["reason"] == "release call"
    value = json.loads(
        scenario.must_get("CanaryGate", "guarded")["metadata"]["annotations"][
            "canarygate.io/promote"
        ]
    )
    assert value["by"] == f"system:serviceaccount:{releasers}:lead"
