"""The operator's judging side for benchmarks: the real runtime (scheduler, evaluation batches,
judge-only transitions), the real verdict API (tokens from a Secret, rate limits, coalescing)
and the real Prometheus client, with the Kubernetes API replaced by an in-memory store of
gates. Not a product command.

Why no API server: the benchmark measures what callers cost the operator and Prometheus; on
a development control plane shared with other runs, the API server's own load (thousands of
gates being created and deleted elsewhere) would decide the figures. The API server's part
(status writes on change, TokenReview and SubjectAccessReview caching) is tested end to end in
tests/e2e, and its request counts are reported here as the store counts them.

    python -m bench.verdict_operator --prometheus URL --gates N --interval 30s \\
        --verdict-address H:P --metrics-address H:P --tokens-file PATH [--at RFC3339]
        [--standby]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import itertools
import json
import random
import signal
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from canarygate.evaluating import Connection
from canarygate.kube import ApiStats, NotFound
from canarygate.operator.authenticating import Authenticator, AuthSettings
from canarygate.operator.observing import Observer
from canarygate.operator.receivers import SecretRef
from canarygate.operator.runtime import Runtime, RuntimeSettings
from canarygate.operator.serving import make_app, serve
from canarygate.operator.verdict_serving import VerdictApi, VerdictApiSettings, serve_verdicts
from canarygate.operator.verdicts import Verdicts
from lab.gates import error_rate_guardrail, sli
from lab.histories import FIXTURE_NOW

NAMESPACE = "bench"
TOKENS = SecretRef(NAMESPACE, "verdict-tokens")
# Healthy journeys and canaries of the fixture: every verdict is a pass, as in a calm week.
POOL = ["healthy", "checkout", "latency-ok", "search", "oldblip"]
APPS = ["steady", "checkout"]


def gate_name(index: int) -> str:
    return f"gate-{index:05d}"


def judged_gate(index: int, interval: str, chooser: random.Random) -> dict[str, Any]:
    """A judge-only gate: 3 journeys from the shared pool, a canary guardrail of its own."""
    journeys = [
        {"name": journey, "objective": 99.0, "sli": sli(journey)}
        for journey in chooser.sample(POOL, 3)
    ]
    return {
        "apiVersion": "canarygate.io/v1alpha1",
        "kind": "CanaryGate",
        "metadata": {
            "name": gate_name(index),
            "namespace": NAMESPACE,
            "uid": f"uid-{index}",
            "generation": 1,
            "resourceVersion": "1",
        },
        "spec": {
            "risk": {"level": "low"},
            "journeys": journeys,
            "canary": {
                "traffic": {"provider": "external"},
                "steps": [20, 50],
                "interval": interval,
                "guardrails": [error_rate_guardrail(chooser.choice(APPS))],
            },
        },
    }


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class MemoryStore:
    """The gate reads and writes a judge-only gate makes, kept in memory and counted in
    `stats` as canarygate.kube counts its requests. A judge-only gate reads and writes no
    other object; the token Secret is served from `tokens`."""

    def __init__(self, gates: list[dict[str, Any]], tokens: dict[str, str]) -> None:
        self.stats = ApiStats()
        self.gates = {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in gates}
        self.tokens = tokens
        self._versions = itertools.count(2)

    async def get_gate(self, namespace: str, name: str) -> dict[str, Any]:
        self.stats.requests["get"] += 1
        return copy.deepcopy(self.gates[(namespace, name)])

    async def patch_gate_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str
    ) -> dict[str, Any]:
        self.stats.requests["patch"] += 1
        body = self.gates[(namespace, name)]
        _merge(body.setdefault("status", {}), status)
        body["metadata"]["resourceVersion"] = str(next(self._versions))
        return copy.deepcopy(body)

    async def set_gate_finalizers(
        self, namespace: str, name: str, finalizers: list[str], *, resource_version: str
    ) -> dict[str, Any]:
        raise AssertionError("a judge-only gate takes no finalizer")

    async def read_objects(self, refs: Any) -> dict[Any, dict[str, Any]]:
        assert not list(refs), "a judge-only gate reads no routing object"
        return {}

    async def replace_object(self, ref: Any, body: Any) -> dict[str, Any]:
        raise AssertionError("a judge-only gate writes no routing object")

    async def emit_event(self, gate: Any, *, type: str, reason: str, message: str) -> None:
        self.stats.requests["create"] += 1

    # What the authenticator asks.
    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        self.stats.requests["get"] += 1
        if SecretRef(namespace, name) != TOKENS:
            raise NotFound(f"secret {namespace}/{name}")
        return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in self.tokens.items()}}

    async def review_token(self, token: str, audiences: Any = ()) -> Any:
        raise AssertionError("the benchmark's callers use Secret tokens")

    async def review_access(self, identity: Any, **_: Any) -> bool:
        raise AssertionError("the benchmark's callers use Secret tokens")


async def serve_until_stopped(args: argparse.Namespace) -> None:
    chooser = random.Random(7)
    gates = [judged_gate(i, args.interval, chooser) for i in range(args.gates)]
    tokens: dict[str, str] = json.loads(await asyncio.to_thread(Path(args.tokens_file).read_text))
    store = MemoryStore(gates, tokens)
    at = datetime.fromisoformat(args.at)
    observer = Observer()
    runtime = Runtime(
        store,
        RuntimeSettings(connection=Connection(fallback_address=args.prometheus), clock=lambda: at),
        observer,
    )
    observer.attach(lambda: store.stats, lambda: runtime.pool)
    for body in gates:
        runtime.remember(copy.deepcopy(body))
    runtime.synced_with([(NAMESPACE, g["metadata"]["name"]) for g in gates])
    settings = VerdictApiSettings(
        address=args.verdict_address,
        auth=AuthSettings(token_secrets=(TOKENS,), token_review=False),
    )
    verdicts = Verdicts(runtime, settings.verdicts, observer)
    runtime.on_evaluated = verdicts.evaluated
    runtime.callers_of = verdicts.callers_of
    authenticator = Authenticator(store, settings.auth)
    await authenticator.start()
    scheduler = asyncio.create_task(runtime.run())
    if args.standby:
        runtime.set_active(False)
    servers = [
        await serve_verdicts(
            VerdictApi(verdicts, authenticator, observer, settings), args.verdict_address
        ),
        await serve(
            make_app(
                registry=observer.registry,
                ready=runtime.synced.is_set,
                last_loop=lambda: runtime.last_loop,
            ),
            args.metrics_address,
        ),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runtime.stop()
    scheduler.cancel()
    for server in servers:
        await server.cleanup()
    await verdicts.close()
    await authenticator.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--gates", type=int, required=True)
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--verdict-address", required=True)
    parser.add_argument("--metrics-address", required=True)
    parser.add_argument("--tokens-file", required=True, help="JSON {caller: token}")
    parser.add_argument("--at", default=FIXTURE_NOW.isoformat())
    parser.add_argument(
        "--standby",
        action="store_true",
        help="run no scheduler, as a standby replica: every answer needs an evaluation at once",
    )
    asyncio.run(serve_until_stopped(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
