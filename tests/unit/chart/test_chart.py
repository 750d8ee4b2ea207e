"""charts/canarygate: the CRD copy and values table match their sources, `helm lint` passes,
and what `helm template` renders holds the chart's promises (hardening, least privilege,
flags the operator accepts). helm is the project's build (scripts/helm; CI builds it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from canarygate.cli.main import build_parser
from canarygate.cli.operating import settings_from
from lab import chart
from lab.chart import HelmError, render

# Values that switch on every optional part at once: a render that covers every template.
EVERYTHING: dict[str, Any] = {
    "scope": "namespaced",
    "watchNamespaces": ["shop", "pay"],
    "replicaCount": 2,
    "rbac": {"providers": {"gatewayAPI": True, "istio": True, "nginx": True, "replicas": True}},
    "notifications": {"secrets": [{"name": "slack"}, {"name": "pager", "namespace": "shop"}]},
    "prometheus": {"address": "http://prometheus.monitoring:9090"},
    "serviceMonitor": {"enabled": True},
    "admissionPolicy": {"enabled": True},
    "verdict": {
        "enabled": True,
        "tokenSecrets": [{"name": "verdict-tokens", "namespace": "shop"}],
        "flaggerCanaries": True,
        "tlsSecret": "verdict-tls",
        "audiences": ["canarygate"],
    },
}

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def only(docs: Iterable[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = of_kind(docs, kind)
    return doc


def container(docs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    [found] = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return found


def rules(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for doc in docs if doc["kind"] in ("Role", "ClusterRole") for rule in doc["rules"]]


def grants(docs: Iterable[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every rule."""
    return {
        (group, resource, verb)
        for rule in rules(docs)
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def run_args(docs: Iterable[dict[str, Any]]) -> argparse.Namespace:
    found = container(docs)
    assert found["command"] == ["canarygate"]
    parsed: argparse.Namespace = build_parser().parse_args(found["args"])
    return parsed


# -- generated parts ---------------------------------------------------------------------------


def test_the_chart_crd_is_a_byte_copy_of_crds_and_the_values_table_is_current() -> None:
    assert chart.crd_drift() == []
    assert chart.docs_drift() == []
    assert [copy.name for _, copy in chart.crd_pairs()] == ["canarygate.io_canarygates.yaml"]


def test_the_drift_check_names_a_changed_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    copy = tmp_path / "crds"
    copy.mkdir()
    (copy / "canarygate.io_canarygates.yaml").write_text("# edited in the chart\n")
    (copy / "stray.yaml").write_text("{}\n")
    monkeypatch.setattr(chart, "CRD_COPY", copy)
    problems = chart.crd_drift()
    assert len(problems) == 2
    assert "differs from" in problems[0]
    assert "stray.yaml has no source" in problems[1]
    chart.copy_crds()
    assert chart.crd_drift() == []


def test_every_value_needs_a_description() -> None:
    text = """\
# -- documented, with its children
block:
  inner: 1
plain:
  # -- documented leaf
  leaf: true
  bare: 2
# -- a flow mapping is one row
flow: {a: 1}
undocumented: x
"""
    rows, missing = chart.value_docs(text)
    assert [(row.key, row.default) for row in rows] == [
        ("block", {"inner": 1}),
        ("plain.leaf", True),
        ("flow", {"a": 1}),
    ]
    assert missing == ["plain.bare", "undocumented"]


# -- helm lint and the schema -------------------------------------------------------------------


@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_helm_lint_passes(values: dict[str, Any], tmp_path: Path) -> None:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(chart.yaml.safe_dump(values))
    out = chart.helm("lint", "--strict", str(chart.CHART), "-f", str(values_file))
    assert "1 chart(s) linted, 0 chart(s) failed" in out


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"scope": "tenant"}, "value must be one of 'cluster', 'namespaced'"),
        ({"watchNamespace": ["shop"]}, "additional properties 'watchNamespace' not allowed"),
        ({"watchNamespaces": ["shop"]}, "watchNamespaces needs scope: namespaced"),
        ({"logFormat": "yaml"}, "value must be one of 'json', 'text'"),
        ({"replicaCount": -1}, "minimum"),
        ({"notifications": {"secrets": [{"namespace": "x"}]}}, "missing property 'name'"),
        ({"admissionPolicy": {"groups": ["it's"]}}, "does not match pattern"),
        ({"admissionPolicy": {"validationActions": ["Allow"]}}, "value must be one of"),
    ],
)
def test_bad_values_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match=message):
        render(values)


# -- the Deployment ------------------------------------------------------------------------------


def test_the_pod_is_hardened_with_probes_and_resources() -> None:
    docs = render()
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    found = container(docs)
    security = found["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert found["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert found["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert found["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert found["resources"]["limits"]["memory"] == "512Mi"
    assert {p["name"]: p["containerPort"] for p in found["ports"]} == {
        "metrics": 8080,
        "health": 8081,
    }
    # The only writable path is an emptyDir.
    assert found["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"][0]["name"] == "tmp"
    assert "emptyDir" in pod["volumes"][0]


def test_the_default_args_are_flags_canarygate_run_accepts(tmp_path: Path) -> None:
    docs = render()
    args = run_args(docs)
    assert args.all_namespaces is True
    assert args.namespace == []
    assert args.leader_elect is False
    # The operator takes them as it would in the pod (a kubeconfig stands in for the
    # in-cluster login).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    args.kubeconfig = str(kubeconfig)
    settings = settings_from(args)
    assert (settings.metrics_address, settings.health_address) == (":8080", ":8081")
    assert settings.namespaces == ()
    assert settings.log_format == "json"
    assert only(docs, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_every_setting_reaches_its_flag(tmp_path: Path) -> None:
    docs = render(EVERYTHING | {"logFormat": "text", "concurrency": 8}, namespace="ops")
    args = run_args(docs)
    assert args.namespace == ["shop", "pay"]
    assert args.all_namespaces is False
    assert args.prometheus == "http://prometheus.monitoring:9090"
    assert args.leader_elect is True
    assert args.lease_namespace == "ops"
    assert args.lease_name == "canarygate"
    assert args.notify_secret == ["ops/slack", "shop/pager"]
    assert args.log_format == "text"
    assert args.concurrency == 8
    deployment = only(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pdb = only(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    monitor = only(docs, "ServiceMonitor")
    service = next(
        d for d in of_kind(docs, "Service") if d["metadata"]["name"].endswith("-metrics")
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()


def test_prometheus_credentials_are_mounted_where_the_flags_point() -> None:
    docs = render(
        {
            "prometheus": {
                "address": "https://prometheus.monitoring:9090",
                "bearerTokenSecret": {"name": "prom-token"},
                "caConfigMap": {"name": "prom-ca", "key": "bundle.pem"},
                "retries": 0,
                "timeout": "10s",
            }
        }
    )
    args = run_args(docs)
    assert args.retries == 0
    assert args.timeout == "10s"
    found = container(docs)
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in found["volumeMounts"]}

    def source_of(path: str) -> tuple[str, str]:
        directory, _, filename = path.rpartition("/")
        return mounts[directory], filename

    volume, filename = source_of(args.bearer_token_file)
    [secret] = volumes[volume]["projected"]["sources"]
    assert secret["secret"] == {"name": "prom-token", "items": [{"key": "token", "path": filename}]}
    volume, filename = source_of(args.ca_file)
    assert volumes[volume]["configMap"] == {
        "name": "prom-ca",
        "items": [{"key": "bundle.pem", "path": filename}],
    }
    assert all(m.get("readOnly") for m in found["volumeMounts"] if m["name"] != "tmp")


def test_one_replica_has_no_pdb_and_no_lease() -> None:
    docs = render()
    assert of_kind(docs, "PodDisruptionBudget") == []
    assert not [d for d in docs if "leader-election" in d["metadata"]["name"]]
    assert ("coordination.k8s.io", "leases", "get") not in grants(docs)


def test_zero_replicas_scale_the_operator_away_and_keep_its_rights() -> None:
    docs = render({"replicaCount": 0, "podDisruptionBudget": {"enabled": True}})
    deployment = only(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 0
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "affinity" not in deployment["spec"]["template"]["spec"]
    assert of_kind(docs, "PodDisruptionBudget") == []  # minAvailable 1 of 0 pods would block
    assert not [d for d in docs if "leader-election" in d["metadata"]["name"]]
    assert grants(docs) == grants(render())
    # Leader election asked for: the Lease rights come, as they would with one replica.
    elected = render({"replicaCount": 0, "leaderElection": {"enabled": True}})
    assert ("coordination.k8s.io", "leases", "update") in grants(elected)


# -- the chart's operator as a process (lab.chart, for make demo --chart and the e2e tests) -----


def test_the_operator_command_is_the_containers_without_its_listening_addresses() -> None:
    docs = render(EVERYTHING, namespace="ops")
    operator = chart.operator_command(docs)
    assert operator.command == container(docs)["command"] == ["canarygate"]
    assert operator.flags == [
        arg
        for arg in container(docs)["args"][1:]
        if not arg.startswith(("--metrics-address", "--health-address", "--verdict-address"))
    ]
    assert "--namespace=shop" in operator.flags
    assert "--leader-elect" in operator.flags
    assert not [f for f in operator.flags if "address" in f and "prometheus" not in f]
    parsed = build_parser().parse_args(["run", *operator.flags])
    assert parsed.notify_secret == ["ops/slack", "shop/pager"]
    program = Path(operator.program()[0])
    assert program.name == "canarygate"
    assert program.parent == Path(sys.executable).parent


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ([], "found 0"),
        ([{"kind": "Service"}], "found 0"),
        (
            [{"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
                {"command": ["canarygate"], "args": ["evaluate"]}]}}}}],
            "expected `canarygate run",
        ),
    ],
)  # fmt: skip
def test_a_manifest_without_the_charts_operator_is_refused(
    docs: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        chart.operator_command(docs)


ADMIN = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {"name": "other", "cluster": {"server": "https://other:6443"}},
        {"name": "local", "cluster": {"server": "https://127.0.0.1:6443",
                                       "certificate-authority-data": "Q0E="}},
    ],
    "users": [{"name": "admin", "user": {"token": "admin-token"}}],
    "contexts": [
        {"name": "o", "context": {"cluster": "other", "user": "admin"}},
        {"name": "l", "context": {"cluster": "local", "user": "admin"}},
    ],
    "current-context": "l",
}  # fmt: skip


def test_an_account_kubeconfig_reaches_the_current_cluster_with_the_token_alone(
    tmp_path: Path,
) -> None:
    asked: list[tuple[str, ...]] = []

    def kubectl(*args: str) -> str:
        asked.append(args)
        return "account-token\n"

    admin = tmp_path / "admin"
    admin.write_text(chart.yaml.safe_dump(ADMIN))
    path = tmp_path / "account.kubeconfig"
    path.write_text("an older one")
    chart.account_kubeconfig(kubectl, admin, "canarygate", "ops", path, duration="24h")

    assert asked == [("create", "token", "canarygate", "--namespace=ops", "--duration=24h")]
    assert path.stat().st_mode & 0o777 == 0o600
    config = chart.yaml.safe_load(path.read_text())
    assert config["clusters"] == [ADMIN["clusters"][1]]
    [user] = config["users"]
    assert user == {"name": "system:serviceaccount:ops:canarygate",
                    "user": {"token": "account-token"}}  # fmt: skip
    [context] = config["contexts"]
    assert context["context"] == {"cluster": "local", "user": user["name"]}
    assert config["current-context"] == context["name"]
    assert "admin-token" not in path.read_text()


# -- RBAC --------------------------------------------------------------------------------------


def test_no_rule_deletes_anything_in_any_configuration() -> None:
    for values in ({}, EVERYTHING, EVERYTHING | {"scope": "cluster", "watchNamespaces": []}):
        docs = render(values)
        verbs = {verb for rule in rules(docs) for verb in rule["verbs"]}
        assert not verbs & {"delete", "deletecollection", "*"}
        assert all("*" not in rule["resources"] for rule in rules(docs))
        assert all("*" not in rule["apiGroups"] for rule in rules(docs))


def test_every_rule_is_commented_with_why() -> None:
    for template in (chart.CHART / "templates").glob("*.yaml"):
        lines = template.read_text().splitlines()
        for index, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:"):
                # The nearest line above that is not a template action is the comment.
                above = [t.strip() for t in lines[:index] if not t.strip().startswith("{{")]
                assert above[-1].startswith("#"), (
                    f"{template.name}:{index + 1}: a rule without a comment saying why"
                )


def test_cluster_scope_grants_the_gates_events_and_gateway_api_only() -> None:
    docs = render()
    [role] = of_kind(docs, "ClusterRole")
    [binding] = of_kind(docs, "ClusterRoleBinding")
    assert of_kind(docs, "Role") == []
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "canarygate", "namespace": "canarygate"}
    ]
    assert grants(docs) == {
        ("canarygate.io", "canarygates", "get"),
        ("canarygate.io", "canarygates", "list"),
        ("canarygate.io", "canarygates", "watch"),
        ("canarygate.io", "canarygates", "patch"),
        ("canarygate.io", "canarygates/status", "patch"),
        ("", "events", "create"),
        ("gateway.networking.k8s.io", "httproutes", "get"),
        ("gateway.networking.k8s.io", "httproutes", "update"),
    }


@pytest.mark.parametrize(
    ("provider", "group", "resource"),
    [
        ("gatewayAPI", "gateway.networking.k8s.io", "httproutes"),
        ("istio", "networking.istio.io", "virtualservices"),
        ("nginx", "networking.k8s.io", "ingresses"),
        ("replicas", "apps", "deployments"),
    ],
)
def test_each_provider_switch_grants_its_own_objects_alone(
    provider: str, group: str, resource: str
) -> None:
    switches = dict.fromkeys(("gatewayAPI", "istio", "nginx", "replicas"), False)
    docs = render({"rbac": {"providers": switches | {provider: True}}})
    routing = {g for g in grants(docs) if g[0] not in ("canarygate.io", "")}
    assert routing == {(group, resource, "get"), (group, resource, "update")}
    assert not {g for g in grants(render({"rbac": {"providers": switches}})) if g[1] == resource}


def test_namespaced_scope_binds_a_role_in_each_watched_namespace_and_nothing_cluster_wide():
    docs = render({"scope": "namespaced", "watchNamespaces": ["shop", "pay"]}, namespace="ops")
    assert of_kind(docs, "ClusterRole") == []
    assert of_kind(docs, "ClusterRoleBinding") == []
    roles = {doc["metadata"]["namespace"]: doc for doc in of_kind(docs, "Role")}
    bindings = {doc["metadata"]["namespace"]: doc for doc in of_kind(docs, "RoleBinding")}
    assert set(roles) == set(bindings) == {"shop", "pay"}
    for namespace, binding in bindings.items():
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": roles[namespace]["metadata"]["name"],
        }
        assert binding["subjects"][0]["namespace"] == "ops"
    # Without a list: the release namespace alone.
    alone = render({"scope": "namespaced"}, namespace="ops")
    assert {doc["metadata"]["namespace"] for doc in of_kind(alone, "Role")} == {"ops"}
    assert run_args(alone).namespace == ["ops"]


def test_the_lease_and_the_receivers_secrets_are_granted_by_name() -> None:
    docs = render(EVERYTHING, namespace="ops")
    lease = next(d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-election"))
    assert lease["metadata"]["namespace"] == "ops"
    assert lease["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [run_args(docs).lease_name],
            "verbs": ["get", "update"],
        },
    ]
    secrets = {
        doc["metadata"]["namespace"]: doc["rules"]
        for doc in of_kind(docs, "Role")
        if doc["metadata"]["name"].endswith("-notifications")
    }
    assert secrets == {
        "ops": [
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["slack"],
             "verbs": ["get"]}
        ],
        "shop": [
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["pager"],
             "verbs": ["get"]}
        ],
    }  # fmt: skip
    # No other rule mentions Secrets.
    assert [g for g in grants(docs) if g[1] == "secrets"] == [("", "secrets", "get")]
    assert not [g for g in grants(render()) if g[1] == "secrets"]


def test_rbac_create_false_renders_no_rbac_and_needs_a_named_account() -> None:
    docs = render({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "mine"}})
    kinds = {doc["kind"] for doc in docs}
    assert not kinds & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
    assert "ServiceAccount" not in kinds
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "mine"
    with pytest.raises(HelmError, match=r"serviceAccount\.name is required"):
        render({"serviceAccount": {"create": False}})


def test_names_follow_the_release_and_the_image_the_app_version() -> None:
    docs = render({}, release="prod")
    assert {doc["metadata"]["name"] for doc in docs} == {
        "prod-canarygate",
        "prod-canarygate-metrics",
    }
    app_version = chart.yaml.safe_load((chart.CHART / "Chart.yaml").read_text())["appVersion"]
    assert container(docs)["image"] == f"ghcr.io/canarygate/canarygate:{app_version}"
    digest = "sha256:" + "a" * 64
    assert container(render({"image": {"digest": digest}}))["image"].endswith("@" + digest)


# -- the admission policy ------------------------------------------------------------------------


def test_the_admission_policy_is_off_by_default() -> None:
    kinds = {doc["kind"] for doc in render()}
    assert "ValidatingAdmissionPolicy" not in kinds
    assert "ValidatingAdmissionPolicyBinding" not in kinds


def test_the_admission_policy_reserves_the_exposure_annotations_for_its_groups() -> None:
    docs = render(
        {
            "admissionPolicy": {"enabled": True, "groups": ["release", "sre:leads"]},
            "scope": "namespaced",
            "watchNamespaces": ["shop", "pay"],
        }
    )
    policy = only(docs, "ValidatingAdmissionPolicy")
    binding = only(docs, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    selector = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selector == [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["shop", "pay"]}
    ]
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    [resources] = spec["matchConstraints"]["resourceRules"]
    assert resources["resources"] == ["canarygates"]  # not canarygates/status: the operator's
    assert resources["operations"] == ["CREATE", "UPDATE"]
    variables = {v["name"]: v["expression"] for v in spec["variables"]}
    for annotation in (
        "canarygate.io/promote",
        "canarygate.io/approve",
        "canarygate.io/clear-freeze",
    ):
        assert f"'{annotation}'" in variables["changed"]
    for annotation in ("canarygate.io/pause", "canarygate.io/abort", "canarygate.io/resume"):
        assert annotation not in variables["changed"]
    assert variables["allowed"] == 'request.userInfo.groups.exists(g, g in ["release","sre:leads"])'
    [validation] = spec["validations"]
    assert "only members of release, sre:leads" in validation["messageExpression"]


def test_cluster_scope_binds_the_policy_in_every_namespace() -> None:
    docs = render({"admissionPolicy": {"enabled": True, "validationActions": ["Warn", "Audit"]}})
    binding = only(docs, "ValidatingAdmissionPolicyBinding")
    assert "matchResources" not in binding["spec"]
    assert binding["spec"]["validationActions"] == ["Warn", "Audit"]


# -- the verdict API -----------------------------------------------------------------------------


def test_the_verdict_api_is_off_by_default() -> None:
    docs = render()
    assert run_args(docs).verdict_address == "off"
    assert not [d for d in docs if d["metadata"]["name"].endswith("-verdict")]
    assert not {g for g in grants(docs) if g[1] in ("tokenreviews", "subjectaccessreviews")}


def test_the_verdict_api_gets_its_flags_port_service_and_tls(tmp_path: Path) -> None:
    docs = render(EVERYTHING, namespace="ops")
    args = run_args(docs)
    assert args.verdict_address == ":8082"
    assert args.verdict_token_secret == ["shop/verdict-tokens"]
    assert args.verdict_audience == ["canarygate"]
    assert (args.verdict_max_age, args.verdict_rate_limit) == ("2m", 20.0)
    service = next(
        d for d in of_kind(docs, "Service") if d["metadata"]["name"].endswith("-verdict")
    )
    [port] = service["spec"]["ports"]
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    assert (port["port"], port["targetPort"], ports["verdict"]) == (8082, "verdict", 8082)
    assert (
        service["spec"]["selector"] == only(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    )
    found = container(docs)
    mounts = {m["mountPath"]: m["name"] for m in found["volumeMounts"]}
    assert mounts[args.verdict_tls_cert_file.rpartition("/")[0]] == "verdict-tls"
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    tls = next(v for v in pod["volumes"] if v["name"] == "verdict-tls")
    assert tls["secret"]["secretName"] == "verdict-tls"
    assert {i["path"] for i in tls["secret"]["items"]} == {"tls.crt", "tls.key"}


def test_the_verdict_api_may_review_tokens_and_read_its_own_secrets_only() -> None:
    docs = render(EVERYTHING, namespace="ops")
    reviews = next(
        d for d in of_kind(docs, "ClusterRole") if d["metadata"]["name"].endswith("-verdict")
    )
    assert reviews["rules"] == [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
         "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"],
         "verbs": ["create"]},
    ]  # fmt: skip
    tokens = [d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-verdict-tokens")]
    assert [(d["metadata"]["namespace"], d["rules"]) for d in tokens] == [
        ("shop", [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["verdict-tokens"],
                   "verbs": ["get"]}]),
    ]  # fmt: skip
    assert ("flagger.app", "canaries", "get") in grants(docs)
    assert not {g for g in grants(docs) if g[0] == "flagger.app" and g[2] != "get"}
    without = render({"verdict": {"enabled": True}})
    assert ("flagger.app", "canaries", "get") not in grants(without)
    only_secrets = render(
        {"verdict": {"enabled": True, "tokenReview": False, "tokenSecrets": [{"name": "t"}]}}
    )
    assert run_args(only_secrets).verdict_no_token_review is True
    assert not {g for g in grants(only_secrets) if g[1] in ("tokenreviews", "subjectaccessreviews")}


def test_the_verdict_api_needs_a_way_in() -> None:
    with pytest.raises(HelmError, match=r"needs at least one verdict\.tokenSecrets"):
        render({"verdict": {"enabled": True, "tokenReview": False}})
