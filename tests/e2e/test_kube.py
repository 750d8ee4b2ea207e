"""canarygate.kube against a real API server: the informer (list, watch, restarts, 410),
optimistic concurrency on gate status and finalizers, Events, and read/replace of an
HTTPRoute. Runs unchanged on the local control plane and on kind."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

from canarygate.kube import (
    Conflict,
    Deleted,
    GateInformer,
    GateRef,
    InformerEvent,
    KubeApi,
    KubeError,
    NotFound,
    Synced,
    Upsert,
    connect,
)
from canarygate.traffic import ObjectRef
from tests.e2e.helpers import Cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
CanaryGate = create_namespaced_resource("canarygate.io", "v1alpha1", "CanaryGate", "canarygates")
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
SPEC: dict[str, Any] = {
    "journeys": [
        {
            "name": "checkout",
            "objective": 99.9,
            "sli": {
                "good": 'sum(rate(http_requests_total{code!~"5.."}[{{window}}]))',
                "total": "sum(rate(http_requests_total[{{window}}]))",
            },
        }
    ],
    "canary": {
        "traffic": {
            "provider": "gatewayAPI",
            "gatewayAPI": {"httpRoute": "r", "stableBackend": "s", "canaryBackend": "c"},
        },
        "steps": [10, 50, 100],
    },
}


@pytest.fixture(scope="module")
def crd(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", f"--filename={CRD}")
    cluster.wait_crds_established("canarygates.canarygate.io")
    # Served a moment after Established.
    wait_until(
        "CanaryGates to be served",
        lambda: cluster.kubectl(
            "get", "--raw=/apis/canarygate.io/v1alpha1/canarygates?limit=1", check=False
        ),
        timeout=30,
        interval=0.2,
    )


@pytest.fixture
async def api(cluster: Cluster, crd: None) -> AsyncIterator[KubeApi]:
    async with connect(str(cluster.kubeconfig), field_manager="canarygate-e2e") as api:
        yield api


@pytest.fixture
def unique() -> str:
    return f"k{uuid.uuid4().hex[:6]}"


async def until(what: str, probe: Callable[[], Any], within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while not (value := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)
    return value


async def watch_answer_from(api: KubeApi, namespace: str, version: str) -> int | None:
    """The status code a watch from `version` is refused with (HTTP or ERROR event)."""
    try:
        async with api.watch_gates(
            namespace, resource_version=version, timeout_seconds=5
        ) as events:
            first = await anext(events)
    except KubeError as error:
        return error.status
    return int(first["object"]["code"]) if first["type"] == "ERROR" else None


async def create_gate(cluster: Cluster, namespace: str, name: str) -> Any:
    gate = CanaryGate(metadata=ObjectMeta(name=name, namespace=namespace), spec=SPEC)
    return await asyncio.to_thread(cluster.client.create, gate)


async def delete_gate(cluster: Cluster, namespace: str, name: str) -> None:
    await asyncio.to_thread(cluster.client.delete, CanaryGate, name, namespace=namespace)


class Seen:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.events: list[InformerEvent] = []

    def __call__(self, event: InformerEvent) -> None:
        self.events.append(event)

    def upserts(self, name: str) -> list[dict[str, Any]]:
        return [
            e.body for e in self.events
            if isinstance(e, Upsert) and e.body["metadata"]["name"] == name
        ]  # fmt: skip

    def deleted(self, name: str) -> list[Deleted]:
        return [e for e in self.events if isinstance(e, Deleted) and e.name == name]

    def synced(self) -> list[Synced]:
        return [e for e in self.events if isinstance(e, Synced)]

    def mine(self, keys: frozenset[tuple[str, str]]) -> set[str]:
        return {name for _, name in keys if name.startswith(self.prefix)}


async def test_informer_lists_then_follows_changes_across_watch_restarts(
    cluster: Cluster, namespace: str, api: KubeApi, unique: str
) -> None:
    existing = [f"{unique}-{i}" for i in range(3)]
    for name in existing:
        await create_gate(cluster, namespace, name)
    seen = Seen(unique)
    # The server ends each watch after 1-2 s, so this test crosses several watch restarts.
    informer = GateInformer(api, [namespace], seen, watch_timeout=1, page_size=2)
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), timeout=30)
        [synced] = seen.synced()
        assert seen.mine(synced.keys) == set(existing)
        assert all(seen.upserts(name) for name in existing)
        assert api.stats.requests["list"] >= 2  # page_size 2: paged with a continue token

        added = await create_gate(cluster, namespace, f"{unique}-new")
        await until("the new gate", lambda: seen.upserts(f"{unique}-new"))

        patch = {"metadata": {"labels": {"touched": "yes"}}}
        await asyncio.to_thread(
            cluster.client.patch, CanaryGate, f"{unique}-new", patch,
            namespace=namespace, patch_type=PatchType.MERGE,
        )  # fmt: skip
        await until(
            "the modification",
            lambda: any(
                (b["metadata"].get("labels") or {}).get("touched") == "yes"
                for b in seen.upserts(f"{unique}-new")
            ),
        )
        await delete_gate(cluster, namespace, f"{unique}-new")
        await until("the deletion", lambda: seen.deleted(f"{unique}-new"))
        assert seen.deleted(f"{unique}-new") == [
            Deleted(namespace, f"{unique}-new", added.metadata.uid)
        ]

        watches = api.stats.requests["watch"]
        await until("a watch restart", lambda: api.stats.requests["watch"] > watches)
        await create_gate(cluster, namespace, f"{unique}-after")
        await until("a gate created after the restart", lambda: seen.upserts(f"{unique}-after"))
        assert api.stats.relists == 0  # a normal close resumes, it never relists
        assert len(seen.synced()) == 1
    finally:
        informer.stop()
        await asyncio.wait_for(task, timeout=10)
    for name in [*existing, f"{unique}-after"]:
        await delete_gate(cluster, namespace, name)


async def test_an_expired_resource_version_is_a_410_and_the_informer_relists(
    cluster: Cluster, namespace: str, api: KubeApi, unique: str
) -> None:
    await create_gate(cluster, namespace, f"{unique}-a")
    # What the API server does with a long-compacted version: a 410, as an HTTP status or
    # as a watch ERROR event (servers differ); the informer handles both.
    assert await watch_answer_from(api, namespace, "1") == 410

    seen = Seen(unique)
    informer = GateInformer(api, [namespace], seen)
    informer._versions[namespace] = "1"  # as if the last watch ended long ago
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), timeout=30)
    finally:
        informer.stop()
        await asyncio.wait_for(task, timeout=10)
    assert api.stats.relists == 1
    assert f"{unique}-a" in seen.mine(seen.synced()[0].keys)
    await delete_gate(cluster, namespace, f"{unique}-a")


async def test_status_patches_are_conditional_and_none_removes_a_key(
    cluster: Cluster, namespace: str, api: KubeApi, unique: str
) -> None:
    await create_gate(cluster, namespace, unique)
    gate = await api.get_gate(namespace, unique)
    read_version = gate["metadata"]["resourceVersion"]
    patched = await api.patch_gate_status(
        namespace, unique, {"phase": "Progressing", "weight": 10}, resource_version=read_version
    )
    assert patched["status"] == {"phase": "Progressing", "weight": 10}
    with pytest.raises(Conflict, match=rf"^patch canarygates\.canarygate\.io/status {namespace}/"):
        await api.patch_gate_status(
            namespace, unique, {"weight": 25}, resource_version=read_version
        )
    assert api.stats.conflicts == 1

    current = patched["metadata"]["resourceVersion"]
    cleared = await api.patch_gate_status(
        namespace, unique, {"weight": None}, resource_version=current
    )
    assert cleared["status"] == {"phase": "Progressing"}
    assert (await api.get_gate(namespace, unique))["status"] == {"phase": "Progressing"}
    await delete_gate(cluster, namespace, unique)


async def test_finalizers_are_set_and_cleared_with_concurrency_control(
    cluster: Cluster, namespace: str, api: KubeApi, unique: str
) -> None:
    await create_gate(cluster, namespace, unique)
    version = (await api.get_gate(namespace, unique))["metadata"]["resourceVersion"]
    held = await api.set_gate_finalizers(
        namespace, unique, ["canarygate.io/e2e"], resource_version=version
    )
    assert held["metadata"]["finalizers"] == ["canarygate.io/e2e"]
    with pytest.raises(Conflict):
        await api.set_gate_finalizers(namespace, unique, [], resource_version=version)

    released = await api.set_gate_finalizers(
        namespace, unique, [], resource_version=held["metadata"]["resourceVersion"]
    )
    assert "finalizers" not in released["metadata"]
    await delete_gate(cluster, namespace, unique)
    with pytest.raises(NotFound, match=rf"^get canarygates\.canarygate\.io {namespace}/{unique}"):
        await api.get_gate(namespace, unique)  # no finalizer left: deleted at once


async def test_events_are_visible_through_the_api_and_kubectl_describe(
    cluster: Cluster, namespace: str, api: KubeApi, unique: str
) -> None:
    created = await create_gate(cluster, namespace, unique)
    ref = GateRef(namespace, unique, created.metadata.uid, created.metadata.resourceVersion)
    await api.emit_event(ref, type="Warning", reason="RolledBack", message=f"{unique} fails")
    assert api.stats.events_failed == 0

    events = await asyncio.to_thread(
        lambda: list(
            cluster.client.list(Event, namespace=namespace, fields={"involvedObject.name": unique})
        )
    )
    [event] = events
    assert (event.type, event.reason, event.message) == ("Warning", "RolledBack", f"{unique} fails")
    assert event.involvedObject.uid == created.metadata.uid
    assert event.involvedObject.kind == "CanaryGate"
    assert event.reportingComponent == "canarygate"
    described = await asyncio.to_thread(
        cluster.kubectl, "describe", "canarygate", unique, f"--namespace={namespace}"
    )
    assert "RolledBack" in described
    assert f"{unique} fails" in described

    # A failure is counted, never raised: no such namespace.
    await api.emit_event(
        GateRef(f"{unique}-nowhere", unique, "uid"), type="Normal", reason="Advanced", message="m"
    )
    assert api.stats.events_failed == 1
    await delete_gate(cluster, namespace, unique)


async def test_an_httproute_is_read_and_replaced_conditionally(
    cluster: Cluster, namespace: str, api: KubeApi, unique: str
) -> None:
    route = HTTPRoute(
        metadata=ObjectMeta(name=unique, namespace=namespace),
        spec={
            "parentRefs": [{"name": "gateway"}],
            "rules": [{"backendRefs": [
                {"name": "stable", "port": 80, "weight": 100},
                {"name": "canary", "port": 80, "weight": 0},
            ]}],
        },
    )  # fmt: skip
    await asyncio.to_thread(cluster.client.create, route)
    ref = ObjectRef("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", namespace, unique)
    missing = ObjectRef("apps", "v1", "Deployment", "deployments", namespace, f"{unique}-none")
    read = await api.read_objects([ref, missing])
    assert list(read) == [ref]  # the missing Deployment is simply absent
    live = read[ref]
    live["spec"]["rules"][0]["backendRefs"][0]["weight"] = 90
    live["spec"]["rules"][0]["backendRefs"][1]["weight"] = 10
    replaced = await api.replace_object(ref, live)
    weights = [b["weight"] for b in replaced["spec"]["rules"][0]["backendRefs"]]
    assert weights == [90, 10]
    assert replaced["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]

    live["spec"]["rules"][0]["backendRefs"][1]["weight"] = 50  # from the stale read
    with pytest.raises(Conflict, match=r"^update httproutes\.gateway\.networking\.k8s\.io "):
        await api.replace_object(ref, live)
    again = (await api.read_objects([ref]))[ref]
    assert [b["weight"] for b in again["spec"]["rules"][0]["backendRefs"]] == [90, 10]
