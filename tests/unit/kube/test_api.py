"""KubeApi requests: paths, verbs, bodies, optimistic concurrency, Events, bounds."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx2
import pytest

from canarygate.kube import Conflict, Forbidden, GateRef, KubeUnavailable
from canarygate.traffic import ObjectRef
from tests.unit.kube.support import eventually, make_api, params, status

DEPLOYMENT = ObjectRef("apps", "v1", "Deployment", "deployments", "shop", "web")
SERVICE = ObjectRef("", "v1", "Service", "services", "shop", "web")
ROUTE = ObjectRef("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", "shop", "r")
VIRTUAL_SERVICE = ObjectRef(
    "networking.istio.io", "v1", "VirtualService", "virtualservices", "shop", "vs"
)


class Recorder:
    def __init__(self, answer: Any = None) -> None:
        self.requests: list[httpx2.Request] = []
        self.answer = answer

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer(request) if callable(self.answer) else self.answer
        body = json.loads(request.content) if request.content else {"kind": "Thing"}
        return httpx2.Response(200, json=body)

    @property
    def last(self) -> httpx2.Request:
        return self.requests[-1]


async def test_get_gate_reads_the_custom_resource() -> None:
    recorder = Recorder(httpx2.Response(200, json={"kind": "CanaryGate", "spec": {}}))
    api = make_api(recorder)
    assert await api.get_gate("shop", "checkout") == {"kind": "CanaryGate", "spec": {}}
    assert recorder.last.method == "GET"
    assert (
        recorder.last.url.path
        == "/apis/canarygate.io/v1alpha1/namespaces/shop/canarygates/checkout"
    )
    assert recorder.last.headers["authorization"] == "Bearer t"  # lightkube's auth is used


async def test_status_patch_is_a_conditional_merge_patch_of_the_subresource() -> None:
    recorder = Recorder()
    api = make_api(recorder, field_manager="canarygate-test")
    await api.patch_gate_status(
        "shop", "checkout", {"phase": "Progressing", "intent": None}, resource_version="42"
    )
    request = recorder.last
    assert request.method == "PATCH"
    assert request.url.path.endswith("/namespaces/shop/canarygates/checkout/status")
    assert request.headers["content-type"] == "application/merge-patch+json"
    assert params(request) == {"fieldManager": "canarygate-test"}
    assert json.loads(request.content) == {
        "metadata": {"resourceVersion": "42"},
        "status": {"phase": "Progressing", "intent": None},  # null deletes the key
    }
    assert api.stats.requests["patch"] == 1


async def test_writes_without_a_resource_version_are_refused_before_sending() -> None:
    recorder = Recorder()
    api = make_api(recorder)
    with pytest.raises(ValueError, match="resourceVersion is required"):
        await api.patch_gate_status("shop", "a", {}, resource_version="")
    with pytest.raises(ValueError, match="resourceVersion is required"):
        await api.set_gate_finalizers("shop", "a", [], resource_version="")
    assert recorder.requests == []


async def test_finalizers_are_set_on_the_main_resource_with_concurrency_control() -> None:
    recorder = Recorder()
    api = make_api(recorder)
    await api.set_gate_finalizers("shop", "a", ["canarygate.io/x"], resource_version="9")
    assert recorder.last.url.path == "/apis/canarygate.io/v1alpha1/namespaces/shop/canarygates/a"
    assert recorder.last.headers["content-type"] == "application/merge-patch+json"
    assert json.loads(recorder.last.content) == {
        "metadata": {"resourceVersion": "9", "finalizers": ["canarygate.io/x"]}
    }


async def test_read_objects_builds_core_and_custom_paths_and_omits_missing_ones() -> None:
    paths = {
        "/apis/apps/v1/namespaces/shop/deployments/web": {"kind": "Deployment"},
        "/api/v1/namespaces/shop/services/web": {"kind": "Service"},
        "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/r": {"kind": "HTTPRoute"},
    }

    def answer(request: httpx2.Request) -> httpx2.Response:
        found = paths.get(request.url.path)
        return httpx2.Response(200, json=found) if found else status(404, "not found")

    api = make_api(Recorder(answer))
    read = await api.read_objects([DEPLOYMENT, SERVICE, ROUTE, VIRTUAL_SERVICE, DEPLOYMENT])
    assert read == {
        DEPLOYMENT: {"kind": "Deployment"},
        SERVICE: {"kind": "Service"},
        ROUTE: {"kind": "HTTPRoute"},
    }
    assert api.stats.requests["get"] == 4  # the duplicate was read once


async def test_read_objects_raises_the_first_failure_other_than_not_found() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if "virtualservices" in request.url.path:
            return status(403, "virtualservices is forbidden")
        return status(503, "etcd is down") if "httproutes" in request.url.path else status(404, "")

    api = make_api(Recorder(answer))
    with pytest.raises(Forbidden, match=r"virtualservices\.networking\.istio\.io shop/vs"):
        await api.read_objects([DEPLOYMENT, VIRTUAL_SERVICE, ROUTE])
    with pytest.raises(KubeUnavailable, match="httproutes"):
        await api.read_objects([ROUTE, VIRTUAL_SERVICE])


async def test_replace_puts_the_whole_body_and_a_stale_version_is_a_conflict() -> None:
    recorder = Recorder()
    api = make_api(recorder)
    body = {"metadata": {"name": "r", "namespace": "shop", "resourceVersion": "5"}, "spec": {}}
    await api.replace_object(ROUTE, body)
    assert recorder.last.method == "PUT"
    assert (
        recorder.last.url.path == "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/r"
    )
    assert json.loads(recorder.last.content) == {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", **body
    }  # fmt: skip
    assert api.stats.requests["update"] == 1

    recorder.answer = status(409, "the object has been modified", "Conflict")
    with pytest.raises(Conflict, match=r"^update httproutes.gateway.networking.k8s.io shop/r: 409"):
        await api.replace_object(ROUTE, body)


async def test_replace_refuses_a_body_without_version_or_for_another_object() -> None:
    recorder = Recorder()
    api = make_api(recorder)
    with pytest.raises(ValueError, match="no resourceVersion"):
        await api.replace_object(ROUTE, {"metadata": {"name": "r", "namespace": "shop"}})
    with pytest.raises(ValueError, match="another object"):
        await api.replace_object(ROUTE, {"metadata": {"name": "x", "resourceVersion": "1"}})
    assert recorder.requests == []


GATE = GateRef(namespace="shop", name="checkout", uid="u-1", resource_version="77")


async def test_an_event_is_a_core_v1_event_on_the_gate() -> None:
    recorder = Recorder()
    api = make_api(recorder)
    await api.emit_event(GATE, type="Warning", reason="RolledBack", message="error rate 3%")
    request = recorder.last
    assert request.method == "POST"
    assert request.url.path == "/api/v1/namespaces/shop/events"
    event = json.loads(request.content)
    name = event["metadata"].pop("name")
    assert name.startswith("checkout.")
    assert len(name) == len("checkout.") + 16
    assert event == {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"namespace": "shop"},
        "involvedObject": {
            "apiVersion": "canarygate.io/v1alpha1",
            "kind": "CanaryGate",
            "namespace": "shop",
            "name": "checkout",
            "uid": "u-1",
            "resourceVersion": "77",
        },
        "type": "Warning",
        "reason": "RolledBack",
        "message": "error rate 3%",
        "action": "RolledBack",
        "source": {"component": "canarygate"},
        "reportingComponent": "canarygate",
        "reportingInstance": "canarygate-0",
        "firstTimestamp": "2026-01-15T12:00:00Z",
        "lastTimestamp": "2026-01-15T12:00:00Z",
        "eventTime": "2026-01-15T12:00:00.123456Z",
        "count": 1,
    }


async def test_event_names_are_unique() -> None:
    recorder = Recorder()
    api = make_api(recorder)
    for _ in range(20):
        await api.emit_event(GATE, type="Normal", reason="Advanced", message="10% -> 25%")
    names = {json.loads(r.content)["metadata"]["name"] for r in recorder.requests}
    assert len(names) == 20


@pytest.mark.parametrize(
    "failure", [status(500, "boom"), status(403, "events is forbidden"), httpx2.ConnectError("x")]
)
async def test_emit_event_never_raises_it_logs_and_counts(
    failure: httpx2.Response | Exception, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    api = make_api(answer)
    with caplog.at_level(logging.WARNING, logger="canarygate.kube"):
        await api.emit_event(GATE, type="Normal", reason="Advanced", message="m")
    assert api.stats.events_failed == 1
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "could not post Event Advanced on shop/checkout" in record.getMessage()


async def test_writes_and_reads_are_bounded_separately() -> None:
    release = asyncio.Event()
    in_flight = {"PATCH": 0, "GET": 0}
    peak = {"PATCH": 0, "GET": 0}

    async def handler(request: httpx2.Request) -> httpx2.Response:
        in_flight[request.method] += 1
        peak[request.method] = max(peak[request.method], in_flight[request.method])
        await release.wait()
        in_flight[request.method] -= 1
        return httpx2.Response(200, json={})

    api = make_api(handler, max_writes=2, max_reads=3)
    writes = [
        asyncio.create_task(api.patch_gate_status("ns", f"g{i}", {}, resource_version="1"))
        for i in range(6)
    ]
    reads = [asyncio.create_task(api.get_gate("ns", f"g{i}")) for i in range(6)]
    # Both bounds fill up, each on its own: saturated writes do not hold reads back.
    await eventually(
        "two writes and three reads in flight", lambda: in_flight == {"PATCH": 2, "GET": 3}
    )
    release.set()
    await asyncio.gather(*writes, *reads)
    assert peak == {"PATCH": 2, "GET": 3}
    assert api.stats.requests["patch"] == 6
    assert api.stats.requests["get"] == 6
