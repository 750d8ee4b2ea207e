"""A fake Kubernetes API server behind httpx2.MockTransport (the transport lightkube 1.0
sends through), and a KubeApi wired to it. CanaryGates are served with paging and
scripted watches; any other request goes to a handler the test provides."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.config.models import Cluster, User

from canarygate.kube import Backoff, KubeApi

NOW = datetime(2026, 1, 15, 12, 0, 0, 123456, tzinfo=UTC)
GATES = "/apis/canarygate.io/v1alpha1"
TINY = Backoff(base=0.001, cap=0.005)

Handler = Callable[[httpx2.Request], httpx2.Response]


def make_api(handler: Any, **options: Any) -> KubeApi:
    config = KubeConfig.from_one(cluster=Cluster(server="https://k8s.test"), user=User(token="t"))
    client = AsyncClient(config, transport=httpx2.MockTransport(handler))
    return KubeApi(client, instance="canarygate-0", clock=lambda: NOW, **options)


def status(code: int, message: str, reason: str = "") -> httpx2.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip
    return httpx2.Response(code, json=body)


def params(request: httpx2.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.url.query.decode()).items()}


def gate(namespace: str, name: str, uid: str | None = None, rv: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "canarygate.io/v1alpha1",
        "kind": "CanaryGate",
        "metadata": {
            "namespace": namespace,
            "name": name,
            "uid": uid or f"uid-{namespace}-{name}",
            "resourceVersion": str(rv),
        },
        "spec": {"steps": [10, 100]},
    }


async def eventually(what: str, probe: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for a condition (never a blind sleep); fail naming it."""
    deadline = time.monotonic() + within
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class Watch:
    """One open watch: the test feeds it events and closes it."""

    params: dict[str, str]
    path: str
    _lines: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)

    def send(self, kind: str, obj: dict[str, Any]) -> None:
        self._lines.put_nowait(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    def send_raw(self, line: bytes) -> None:
        self._lines.put_nowait(line)

    def close(self) -> None:
        self._lines.put_nowait(None)

    async def stream(self) -> AsyncIterator[bytes]:
        while (line := await self._lines.get()) is not None:
            yield line


class FakeServer:
    """Serves CanaryGate lists (paged, namespaced or not) and watches.

    - `list_errors` / `watch_errors`: responses (or exceptions) used, in order, before serving.
    - each served watch is put on `watches` for the test to drive.
    """

    def __init__(self, other: Handler | None = None) -> None:
        self.gates: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 100
        self.requests: list[httpx2.Request] = []
        self.list_errors: list[httpx2.Response | Exception] = []
        self.watch_errors: list[httpx2.Response | Exception] = []
        self.watches: asyncio.Queue[Watch] = asyncio.Queue()
        self.other = other

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        metadata = body["metadata"]
        self.gates[(metadata["namespace"], metadata["name"])] = body
        return body

    def lists(self) -> list[httpx2.Request]:
        return [r for r in self.requests if r.url.path.endswith("canarygates") and
                params(r).get("watch") != "true"]  # fmt: skip

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path
        if not path.startswith(GATES) or not path.endswith("/canarygates"):
            assert self.other is not None, f"unexpected request {request.method} {path}"
            return self.other(request)
        query = params(request)
        namespace = path.split("/namespaces/")[1].split("/")[0] if "/namespaces/" in path else None
        if query.get("watch") == "true":
            if self.watch_errors:
                return _raise_or_return(self.watch_errors.pop(0))
            watch = Watch(query, path)
            self.watches.put_nowait(watch)
            return httpx2.Response(200, content=watch.stream())
        if self.list_errors:
            return _raise_or_return(self.list_errors.pop(0))
        return self._page(namespace, int(query["limit"]), query.get("continue"))

    def _page(self, namespace: str | None, limit: int, token: str | None) -> httpx2.Response:
        if token:
            offset, version = token.split(":")
        else:
            offset, version = "0", str(self.version)
        items = sorted(
            (b for (ns, _), b in self.gates.items() if namespace is None or ns == namespace),
            key=lambda b: (b["metadata"]["namespace"], b["metadata"]["name"]),
        )
        start = int(offset)
        page = [dict(item) for item in items[start : start + limit]]
        # Real list items carry no apiVersion/kind for some resources: the informer adds them.
        for item in page:
            item.pop("apiVersion", None)
        metadata: dict[str, Any] = {"resourceVersion": version}
        if start + limit < len(items):
            metadata["continue"] = f"{start + limit}:{version}"
        body = {"kind": "CanaryGateList", "metadata": metadata, "items": page}
        return httpx2.Response(200, json=body)


def _raise_or_return(item: httpx2.Response | Exception) -> httpx2.Response:
    if isinstance(item, Exception):
        raise item
    return item
