"""charts/canarygate against the real API server:

- `helm template` (defaults with the CRD; then every optional part at once: namespaced scope,
  two replicas, every provider, receivers' Secrets, Prometheus credentials, ServiceMonitor)
  applied with a server-side dry run: every object passes the API server's validation;
- the operator authenticated as the chart's ServiceAccount (the chart's RBAC applied, a
  token for its account, the Deployment's own command and args run with that token's
  kubeconfig, by lab.chart's helpers as `make demo ARGS=--chart` runs them): a healthy canary
  promoted, a failing one rolled back, a receiver's Secret read, the Lease held. A missing
  permission would stop the rollout; an excessive one shows in `kubectl auth can-i` as that
  account (no delete, no provider switched off, no Secret but the receiver's, nothing outside
  the watched namespaces).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from lab import scenarios as sc
from lab.chart import account_kubeconfig, operator_command, render, render_text
from lab.stage import Operator, StageError, TargetedPrometheus, start_operator
from tests.e2e.helpers import Cluster, wait_until
from tests.e2e.operator_fixtures import Scenario, Stage, history_steps, managed_weights

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
RELEASE = "canarygate-e2e"
WEBHOOK_SECRET = "canarygate-e2e-webhook"
ACCOUNT = RELEASE  # the chart's ServiceAccount: the release's full name
RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"


def make_namespace(cluster: Cluster, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cluster.client.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


def drop_namespace(cluster: Cluster, name: str) -> None:
    with contextlib.suppress(ApiError):
        cluster.client.delete(Namespace, name)


def dry_run(cluster: Cluster, manifest: str) -> list[str]:
    """Server-side apply, dry run: the API server validates every object (schemas, unknown
    fields, admission) and stores nothing. Returns kubectl's line per object."""
    out = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts",
        "--field-manager=helm", "--validate=strict", "--filename=-", stdin=manifest,
    )  # fmt: skip
    return out.splitlines()


def kinds_and_names(manifest: str) -> list[str]:
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    return sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)


@pytest.fixture(scope="module")
def servicemonitor_crd(cluster: Cluster) -> None:
    """The ServiceMonitor CRD (e2e/cluster/up and crds install it; a cluster started before
    it was added to them gets it here, idempotently)."""
    if not cluster.kubectl("get", "crd", "servicemonitors.monitoring.coreos.com", check=False):
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig),
               "CANARYGATE_KUBECTL": cluster.kubectl_path}  # fmt: skip
        subprocess.run(
            [sys.executable, str(REPO / "e2e" / "cluster" / "crds")], env=env, check=True,
            timeout=300,
        )  # fmt: skip


# -- the dry runs --------------------------------------------------------------------------------


def test_the_default_chart_with_its_crd_passes_a_server_side_dry_run(cluster: Cluster) -> None:
    namespace = make_namespace(cluster, "cg-chart")
    try:
        manifest = render_text(release="dry", namespace=namespace, include_crds=True)
        lines = dry_run(cluster, manifest)
        assert len(lines) == len(kinds_and_names(manifest)) == 6
        assert all(line.endswith("serverside-applied (server dry run)") for line in lines), lines
        assert any(line.startswith("customresourcedefinition") for line in lines)
        assert any(line.startswith("clusterrole.rbac") for line in lines)
        assert any(line.startswith("deployment.apps/dry-canarygate") for line in lines)
    finally:
        drop_namespace(cluster, namespace)


def test_every_optional_part_passes_a_server_side_dry_run(
    cluster: Cluster, servicemonitor_crd: None
) -> None:
    namespaces = [make_namespace(cluster, "cg-chart") for _ in range(3)]
    release_namespace, watched = namespaces[0], namespaces[1:]
    values = {
        "scope": "namespaced",
        "watchNamespaces": watched,
        "replicaCount": 2,
        "rbac": {"providers": dict.fromkeys(("gatewayAPI", "istio", "nginx", "replicas"), True)},
        "notifications": {"secrets": [{"name": "hook"}, {"name": "hook", "namespace": watched[0]}]},
        "prometheus": {
            "address": "https://prometheus.monitoring:9090",
            "bearerTokenSecret": {"name": "prom-token"},
            "basicAuthSecret": {"name": "prom-basic"},
            "caConfigMap": {"name": "prom-ca"},
        },
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}},
        "extraEnv": [{"name": "TZ", "value": "UTC"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "admissionPolicy": {"enabled": True, "groups": ["release-managers"]},
    }
    try:
        manifest = render_text(values, release="dry", namespace=release_namespace)
        objects = kinds_and_names(manifest)
        lines = dry_run(cluster, manifest)
        assert len(lines) == len(objects)
        assert all(line.endswith("serverside-applied (server dry run)") for line in lines), lines
        assert "ServiceMonitor/dry-canarygate" in objects
        assert "PodDisruptionBudget/dry-canarygate" in objects
        assert objects.count("Role/dry-canarygate") == 2
        assert objects.count("Role/dry-canarygate-notifications") == 2
        assert "Role/dry-canarygate-leader-election" in objects
        assert "ValidatingAdmissionPolicy/dry-canarygate-exposure" in objects
        assert "ValidatingAdmissionPolicyBinding/dry-canarygate-exposure" in objects
        assert not [o for o in objects if o.startswith("Cluster")]
    finally:
        for namespace in namespaces:
            drop_namespace(cluster, namespace)


def test_a_mistake_in_a_rendered_object_is_caught_by_the_dry_run(cluster: Cluster) -> None:
    """The dry run is a real check: an unknown field in the Deployment fails it."""
    namespace = make_namespace(cluster, "cg-chart")
    try:
        manifest = render_text(release="dry", namespace=namespace).replace(
            "revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  revisionHistoryLimitt: 5"
        )
        with pytest.raises(pytest.fail.Exception, match="revisionHistoryLimitt"):
            dry_run(cluster, manifest)
    finally:
        drop_namespace(cluster, namespace)


# -- the operator as the chart's ServiceAccount ----------------------------------------------------


class Receiver:
    """A webhook receiver on loopback: records every POST body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(self.rfile.read(length))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ChartStage(Stage):
    """The module's operator, started as the chart's Deployment would start it: the chart
    rendered for the stage's namespaces, its ServiceAccount and RBAC applied for real, and
    `canarygate run` with the Deployment's args, authenticated with a token of that account."""

    def __init__(
        self,
        cluster: Cluster,
        prometheus: TargetedPrometheus,
        log_dir: Path,
        release_namespace: str,
        receiver_url: str,
    ) -> None:
        super().__init__(cluster, prometheus, log_dir)
        self.release_namespace = release_namespace
        self.receiver_url = receiver_url
        self.args: list[str] = []

    def values(self) -> dict[str, Any]:
        return {
            "scope": "namespaced",
            "watchNamespaces": self.namespaces,
            "replicaCount": 2,  # leader election: the Lease rights are exercised too
            "prometheus": {"address": self.prometheus.url},
            "notifications": {"secrets": [{"name": WEBHOOK_SECRET}]},
            "logFormat": "text",
        }

    def apply_rbac(self) -> list[dict[str, Any]]:
        docs = render(self.values(), release=RELEASE, namespace=self.release_namespace)
        rbac = [doc for doc in docs if doc["kind"] in RBAC_KINDS]
        self.cluster.kubectl(
            "apply", "--server-side", "--field-manager=helm", "--force-conflicts",
            "--filename=-", stdin=yaml.safe_dump_all(rbac),
        )  # fmt: skip
        return docs

    def start_operator(self) -> Operator:
        assert self.operator is None or not self.operator.alive(), "the operator is running"
        operator = operator_command(self.apply_rbac())
        assert operator.command == ["canarygate"]
        self.args = operator.flags
        kubeconfig = account_kubeconfig(
            self.cluster.kubectl, self.cluster.kubeconfig, ACCOUNT, self.release_namespace,
            self.log_dir / "account.kubeconfig",
        )  # fmt: skip
        self.operator = start_operator(
            kubeconfig=kubeconfig,
            prometheus=None,
            log_dir=self.log_dir,
            extra=self.args,
            wait=False,
            program=operator.program(),
        )
        try:
            self.operator.wait_ready()
        except StageError:
            pytest.fail(f"the operator did not start as {ACCOUNT}:\n{self.operator.log_tail()}")
        return self.operator

    def can(self, verb: str, resource: str, namespace: str | None) -> bool:
        """`kubectl auth can-i` as the chart's ServiceAccount."""
        where = [f"--namespace={namespace}"] if namespace else ["--all-namespaces"]
        answer = self.cluster.kubectl(
            "auth", "can-i", verb, resource, *where,
            f"--as=system:serviceaccount:{self.release_namespace}:{ACCOUNT}", check=False,
        )  # fmt: skip
        return answer.strip() == "yes"

    def close(self) -> None:
        super().close()
        drop_namespace(self.cluster, self.release_namespace)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="module")
def stage(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    canarygate_crd: None,
    stage_prometheus: TargetedPrometheus,
    receiver: Receiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ChartStage]:
    """Overrides operator_fixtures' stage for this module: the operator as the chart runs it."""
    release_namespace = make_namespace(cluster, "cg-release")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": WEBHOOK_SECRET, "namespace": release_namespace},
        "data": {
            key: base64.b64encode(value.encode()).decode()
            for key, value in {"url": receiver.url, "format": "json"}.items()
        },
    }
    cluster.kubectl("apply", "--filename=-", stdin=json.dumps(secret))
    tests = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    scenarios = [t for t in tests if "scenario" in getattr(t, "fixturenames", ())]
    stage = ChartStage(
        cluster, stage_prometheus, tmp_path_factory.mktemp("chart-stage"), release_namespace,
        receiver.url,
    )  # fmt: skip
    try:
        stage.add_namespaces(max(1, len(scenarios)))
        stage.start_operator()
        yield stage
    finally:
        stage.close()


def prepare(scenario: Scenario, *, errors: float = 0.0) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    simulator = scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    if errors:
        simulator.set_faults(errorRatio=errors)
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
        )
    )


def weights(scenario: Scenario) -> list[tuple[Any, Any]]:
    return managed_weights(scenario.must_get("HTTPRoute", ROUTE), STABLE, CANARY)


def test_as_the_chart_account_a_healthy_canary_is_promoted(
    scenario: Scenario, receiver: Receiver
) -> None:
    prepare(scenario)

    status = scenario.wait_phase("web", "Promoted", timeout=120)

    assert history_steps(status) == [
        ("hold", 0, 0),
        ("advance", 0, 20),
        ("advance", 20, 60),
        ("promote", 60, 100),
    ]
    assert weights(scenario) == [(0, 100)]
    event = scenario.wait_event("web", "Promoted")  # Events: create was enough
    assert event["type"] == "Normal"
    gate = scenario.gate("web")
    assert gate is not None
    assert "canarygate.io/restore-traffic" in gate["metadata"]["finalizers"]
    # The receiver's Secret was read by name (the only Secret the account may get).
    wait_until("a notification posted to the receiver", lambda: receiver.bodies, timeout=60)
    # The Lease in the release namespace is held by this operator.
    stage = scenario.stage
    assert isinstance(stage, ChartStage)
    # No request of the operator's was refused (kopf's own included).
    assert "forbidden" not in stage.operator_log(400).lower()
    lease = json.loads(
        stage.cluster.kubectl(
            "get", "lease", RELEASE, f"--namespace={stage.release_namespace}", "--output=json"
        )
    )
    assert lease["spec"]["holderIdentity"]


def test_as_the_chart_account_a_failing_canary_is_rolled_back_and_its_gate_released(
    scenario: Scenario,
) -> None:
    prepare(scenario, errors=0.05)

    status = scenario.wait_phase("web", "RolledBack", timeout=120)

    assert history_steps(status) == [("hold", 0, 0), ("advance", 0, 20), ("rollback", 20, 0)]
    assert weights(scenario) == [(100, 0)]
    assert scenario.wait_event("web", "RolledBack")["type"] == "Warning"
    # Deleting the gate: the operator restores the route and removes its finalizer (patch).
    scenario.delete("CanaryGate", "web")
    wait_until("the gate to be released", lambda: scenario.gate("web") is None, timeout=60)
    assert (
        scenario.must_get("HTTPRoute", ROUTE)["metadata"]
        .get("labels", {})
        .get("canarygate.io/managed-weights")
        is None
    )


def test_the_chart_account_has_no_right_it_does_not_need(stage: ChartStage) -> None:
    watched = stage.namespaces[0]
    release = stage.release_namespace
    elsewhere = make_namespace(stage.cluster, "cg-chart")
    try:
        # What the operator needs, where it needs it.
        for verb, resource in [
            ("list", "canarygates.canarygate.io"),
            ("watch", "canarygates.canarygate.io"),
            ("patch", "canarygates.canarygate.io"),
            ("patch", "canarygates.canarygate.io/status"),
            ("create", "events"),
            ("get", "httproutes.gateway.networking.k8s.io"),
            ("update", "httproutes.gateway.networking.k8s.io"),
        ]:
            assert stage.can(verb, resource, watched), f"{verb} {resource} in {watched}"
        assert stage.can("get", f"secrets/{WEBHOOK_SECRET}", release)
        assert stage.can("get", f"leases.coordination.k8s.io/{RELEASE}", release)
        assert stage.can("update", f"leases.coordination.k8s.io/{RELEASE}", release)

        # Nothing deletes, in any namespace it can reach.
        for namespace in (watched, release):
            for resource in (
                "canarygates.canarygate.io", "httproutes.gateway.networking.k8s.io", "events",
                "leases.coordination.k8s.io", "secrets",
            ):  # fmt: skip
                assert not stage.can("delete", resource, namespace), f"delete {resource}"
                assert not stage.can("deletecollection", resource, namespace)
        # The spec is not the operator's to write; a route is updated, never patched.
        assert not stage.can("update", "canarygates.canarygate.io", watched)
        assert not stage.can("create", "canarygates.canarygate.io", watched)
        assert not stage.can("patch", "httproutes.gateway.networking.k8s.io", watched)
        # Providers switched off: no rights on their objects.
        for resource in (
            "virtualservices.networking.istio.io",
            "ingresses.networking.k8s.io",
            "deployments.apps",
        ):
            assert not stage.can("get", resource, watched), resource
            assert not stage.can("update", resource, watched), resource
        # Secrets: the receiver's, by name, and nothing else.
        assert not stage.can("list", "secrets", release)
        assert not stage.can("watch", "secrets", release)
        assert not stage.can("get", "secrets/another", release)
        assert not stage.can("get", "secrets", watched)
        # Another Lease is not its to renew.
        assert not stage.can("update", "leases.coordination.k8s.io/another", release)
        # Namespaced scope: nothing outside the watched namespaces, nothing cluster-wide.
        assert not stage.can("list", "canarygates.canarygate.io", elsewhere)
        assert not stage.can("update", "httproutes.gateway.networking.k8s.io", elsewhere)
        assert not stage.can("create", "events", elsewhere)
        assert not stage.can("list", "canarygates.canarygate.io", None)
        assert not stage.can("list", "namespaces", None)
    finally:
        drop_namespace(stage.cluster, elsewhere)


def test_cluster_scope_grants_every_namespace_and_still_nothing_more(cluster: Cluster) -> None:
    """The default (scope: cluster) RBAC applied for real and asked the same questions."""
    namespace = make_namespace(cluster, "cg-chart")
    release = f"cluster-{uuid.uuid4().hex[:6]}"
    docs = render(release=release, namespace=namespace)
    rbac = [doc for doc in docs if doc["kind"] in RBAC_KINDS]
    manifest = yaml.safe_dump_all(rbac)
    account = f"system:serviceaccount:{namespace}:{release}-canarygate"

    def can(verb: str, resource: str, *where: str) -> bool:
        answer = cluster.kubectl("auth", "can-i", verb, resource, *where, f"--as={account}",
                                 check=False)  # fmt: skip
        return answer.strip() == "yes"

    try:
        cluster.kubectl("apply", "--server-side", "--field-manager=helm", "--filename=-",
                        stdin=manifest)  # fmt: skip
        assert can("list", "canarygates.canarygate.io", "--all-namespaces")
        assert can("update", "httproutes.gateway.networking.k8s.io", "--all-namespaces")
        assert can("create", "events", "--namespace=default")
        assert not can("update", "virtualservices.networking.istio.io", "--all-namespaces")
        assert not can("get", "secrets", "--all-namespaces")
        assert not can("get", "leases.coordination.k8s.io", f"--namespace={namespace}")
        for resource in ("canarygates.canarygate.io", "httproutes.gateway.networking.k8s.io"):
            assert not can("delete", resource, "--all-namespaces")
    finally:
        cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "--filename=-",
                        stdin=manifest, check=False)  # fmt: skip
        drop_namespace(cluster, namespace)
