"""GateInformer against a fake API server: paging, watch resume (bookmarks), 410 relists
(HTTP status and ERROR event), deletions seen by relisting, resilience, stop()."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx2
import pytest

from canarygate.kube import Deleted, GateInformer, InformerEvent, Synced, Upsert
from tests.unit.kube.support import TINY, FakeServer, Watch, eventually, gate, make_api, status


class Consumer:
    def __init__(self) -> None:
        self.events: list[InformerEvent] = []

    def __call__(self, event: InformerEvent) -> None:
        self.events.append(event)

    def upserted(self) -> list[str]:
        return [e.body["metadata"]["name"] for e in self.events if isinstance(e, Upsert)]

    def deleted(self) -> list[Deleted]:
        return [e for e in self.events if isinstance(e, Deleted)]

    def synced(self) -> list[Synced]:
        return [e for e in self.events if isinstance(e, Synced)]


@asynccontextmanager
async def running(
    server: FakeServer,
    consumer: object,
    namespaces: Sequence[str] | None = None,
    **options: object,
) -> AsyncIterator[GateInformer]:
    api = make_api(server)
    informer = GateInformer(
        api, namespaces, consumer, backoff=TINY, denied_backoff=TINY, watch_timeout=60,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip
    task = asyncio.create_task(informer.run())
    try:
        yield informer
    finally:
        informer.stop()
        await asyncio.wait_for(task, timeout=5)
        await api.close()


async def next_watch(server: FakeServer) -> Watch:
    return await asyncio.wait_for(server.watches.get(), timeout=5)


async def test_a_paged_list_delivers_every_gate_then_synced_then_watches() -> None:
    server = FakeServer()
    for i in range(1200):
        server.add(gate("shop", f"g{i:04d}"))
    consumer = Consumer()
    async with running(server, consumer) as informer:
        await asyncio.wait_for(informer.synced.wait(), timeout=5)
        watch = await next_watch(server)

    lists = server.lists()
    assert [r.url.path for r in lists] == ["/apis/canarygate.io/v1alpha1/canarygates"] * 3
    assert [dict(r.url.params) for r in lists] == [
        {"limit": "500"},
        {"limit": "500", "continue": "500:1300"},
        {"limit": "500", "continue": "1000:1300"},
    ]
    assert len(consumer.upserted()) == 1200
    assert isinstance(consumer.events[-1], Synced)
    assert len(consumer.events) == 1201
    assert consumer.events[-1].keys == {("shop", f"g{i:04d}") for i in range(1200)}
    first = consumer.events[0]
    assert isinstance(first, Upsert)
    assert first.body["apiVersion"] == "canarygate.io/v1alpha1"  # filled in for list items
    assert watch.params == {
        "watch": "true",
        "resourceVersion": "1300",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": watch.params["timeoutSeconds"],
    }
    assert 60 <= int(watch.params["timeoutSeconds"]) <= 120


async def test_watch_events_become_upserts_and_deletions() -> None:
    server = FakeServer()
    consumer = Consumer()
    async with running(server, consumer) as informer:
        watch = await next_watch(server)
        assert informer.synced.is_set()
        assert consumer.events == [Synced(frozenset())]
        watch.send("ADDED", gate("shop", "a", rv=201))
        watch.send("MODIFIED", gate("shop", "a", rv=202))
        watch.send("DELETED", gate("shop", "a", rv=203))
        await eventually("three events", lambda: len(consumer.events) == 4)
    assert consumer.upserted() == ["a", "a"]
    assert consumer.deleted() == [Deleted("shop", "a", "uid-shop-a")]


async def test_a_closed_watch_resumes_from_the_last_bookmark() -> None:
    server = FakeServer()
    consumer = Consumer()
    async with running(server, consumer):
        first = await next_watch(server)
        first.send("ADDED", gate("shop", "a", rv=150))
        first.send("BOOKMARK", {"kind": "CanaryGate", "metadata": {"resourceVersion": "180"}})
        first.close()
        second = await next_watch(server)
        assert second.params["resourceVersion"] == "180"
        second.send("MODIFIED", gate("shop", "a", rv=190))
        second.close()
        third = await next_watch(server)
        assert third.params["resourceVersion"] == "190"
    assert len(server.lists()) == 1  # a normal close never relists
    assert consumer.upserted() == ["a", "a"]


@pytest.mark.parametrize("how", ["http", "event"])
async def test_410_gone_relists_and_reports_gates_deleted_meanwhile(how: str) -> None:
    server = FakeServer()
    server.add(gate("shop", "kept"))
    server.add(gate("shop", "dropped"))
    consumer = Consumer()
    async with running(server, consumer) as informer:
        watch = await next_watch(server)
        del server.gates[("shop", "dropped")]
        server.add(gate("shop", "new"))
        if how == "http":
            server.watch_errors.append(status(410, "too old resource version", "Expired"))
            watch.close()
        else:
            watch.send("ERROR", {"kind": "Status", "code": 410, "reason": "Expired",
                                 "message": "too old resource version: 1 (150)"})  # fmt: skip
        relisted = await next_watch(server)
        assert relisted.params["resourceVersion"] == str(server.version)
        assert informer._api.stats.relists == 1

    assert len(server.lists()) == 2
    synced = consumer.synced()
    assert [s.keys for s in synced] == [
        {("shop", "kept"), ("shop", "dropped")},
        {("shop", "kept"), ("shop", "new")},
    ]
    assert consumer.deleted() == [Deleted("shop", "dropped", "uid-shop-dropped")]
    # The Deleted comes before the Synced that no longer lists it.
    assert consumer.events.index(consumer.deleted()[0]) < consumer.events.index(synced[1])


async def test_an_error_event_other_than_410_rewatches_from_the_last_version() -> None:
    server = FakeServer()
    consumer = Consumer()
    async with running(server, consumer) as informer:
        watch = await next_watch(server)
        watch.send("ADDED", gate("shop", "a", rv=170))
        watch.send("ERROR", {"kind": "Status", "code": 500, "message": "internal error"})
        again = await next_watch(server)
        assert again.params["resourceVersion"] == "170"
        assert informer._api.stats.watch_restarts == 1
    assert len(server.lists()) == 1


async def test_an_expired_continue_token_restarts_the_list() -> None:
    server = FakeServer()
    for i in range(3):
        server.add(gate("shop", f"g{i}"))
    server.list_errors = [
        status(500, "etcd hiccup"),  # the first page fails outright: retried
    ]
    consumer = Consumer()
    original = server._page
    calls = {"n": 0}

    def page(namespace: str | None, limit: int, token: str | None) -> httpx2.Response:
        calls["n"] += 1
        if token and calls["n"] == 2:
            return status(410, "The provided continue parameter is too old", "Expired")
        return original(namespace, limit, token)

    server._page = page  # type: ignore[method-assign]
    async with running(server, consumer, page_size=2) as informer:
        await asyncio.wait_for(informer.synced.wait(), timeout=5)
    continues = [r.url.params.get("continue") for r in server.lists()]
    assert continues == [None, None, "2:103", None, "2:103"]
    assert consumer.synced()[0].keys == {("shop", "g0"), ("shop", "g1"), ("shop", "g2")}


async def test_connection_errors_and_5xx_are_retried_until_the_list_succeeds() -> None:
    server = FakeServer()
    server.add(gate("shop", "a"))
    server.list_errors = [
        httpx2.ConnectError("connection refused"),
        status(503, "unavailable"),
        status(429, "slow down"),
        httpx2.ReadTimeout("timed out"),
    ]
    consumer = Consumer()
    async with running(server, consumer) as informer:
        await asyncio.wait_for(informer.synced.wait(), timeout=5)
        server.watch_errors = [httpx2.ConnectError("refused"), status(502, "bad gateway")]
        (await next_watch(server)).close()  # the first watch
        resumed = await next_watch(server)
        assert resumed.params["resourceVersion"] == "101"
        assert informer._api.stats.errors["KubeUnavailable"] == 6
    assert len(server.lists()) == 5
    assert consumer.upserted() == ["a"]


async def test_access_denied_is_logged_clearly_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeServer()
    server.list_errors = [status(403, 'canarygates.canarygate.io is forbidden: User "x"')] * 2
    async with running(server, Consumer()) as informer:
        with caplog.at_level(logging.ERROR, logger="canarygate.kube"):
            await asyncio.wait_for(informer.synced.wait(), timeout=5)
    denied = [r for r in caplog.records if "access denied" in r.getMessage()]
    assert len(denied) == 2
    assert "needs list and watch on canarygates.canarygate.io" in denied[0].getMessage()


async def test_a_missing_crd_is_named(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer()
    server.list_errors = [status(404, "the server could not find the requested resource")]
    async with running(server, Consumer()) as informer:
        with caplog.at_level(logging.ERROR, logger="canarygate.kube"):
            await asyncio.wait_for(informer.synced.wait(), timeout=5)
    assert any("is the CanaryGate CRD installed?" in r.getMessage() for r in caplog.records)


async def test_a_new_uid_under_the_same_name_is_a_deletion_then_an_upsert() -> None:
    server = FakeServer()
    server.add(gate("shop", "a", uid="old"))
    consumer = Consumer()
    async with running(server, consumer):
        watch = await next_watch(server)
        watch.send("ADDED", gate("shop", "a", uid="new", rv=300))
        await eventually("the replacement", lambda: len(consumer.events) == 4)
    assert consumer.events[2] == Deleted("shop", "a", "old")
    assert isinstance(consumer.events[3], Upsert)
    assert consumer.events[3].body["metadata"]["uid"] == "new"


async def test_namespaces_are_listed_each_and_synced_together() -> None:
    server = FakeServer()
    for namespace in ("a", "b", "c"):
        server.add(gate(namespace, "g"))
    consumer = Consumer()
    async with running(server, consumer, namespaces=["a", "b", "a"]) as informer:
        await asyncio.wait_for(informer.synced.wait(), timeout=5)
        watches = {(await next_watch(server)).path for _ in range(2)}
    assert {r.url.path for r in server.lists()} == {
        "/apis/canarygate.io/v1alpha1/namespaces/a/canarygates",
        "/apis/canarygate.io/v1alpha1/namespaces/b/canarygates",
    }
    assert watches == {r.url.path for r in server.lists()}
    assert consumer.synced() == [Synced(frozenset({("a", "g"), ("b", "g")}))]


async def test_a_failing_handler_is_reported_and_informing_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeServer()
    server.add(gate("shop", "a"))
    seen: list[InformerEvent] = []

    async def handler(event: InformerEvent) -> None:
        seen.append(event)
        if isinstance(event, Upsert):
            raise RuntimeError("consumer bug")

    with caplog.at_level(logging.ERROR, logger="canarygate.kube"):
        async with running(server, handler) as informer:
            watch = await next_watch(server)
            watch.send("ADDED", gate("shop", "b", rv=300))
            await eventually("the watched gate", lambda: len(seen) == 3)
            assert informer.synced.is_set()
    assert any("handler failed on Upsert" in r.getMessage() for r in caplog.records)


async def test_an_unreadable_watch_line_rewatches_without_a_relist() -> None:
    server = FakeServer()
    async with running(server, Consumer()):
        watch = await next_watch(server)
        watch.send_raw(b"{not json\n")
        again = await next_watch(server)
        assert again.params["resourceVersion"] == watch.params["resourceVersion"]
    assert len(server.lists()) == 1


async def test_stop_ends_run_while_a_watch_is_open() -> None:
    server = FakeServer()
    api = make_api(server)
    informer = GateInformer(api, None, Consumer(), backoff=TINY)
    task = asyncio.create_task(informer.run())
    await next_watch(server)  # open, and never closed by the server
    informer.stop()
    await asyncio.wait_for(task, timeout=5)
    assert task.done()
    assert task.exception() is None
    await api.close()


def test_no_namespaces_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        GateInformer(make_api(FakeServer()), [], Consumer())
