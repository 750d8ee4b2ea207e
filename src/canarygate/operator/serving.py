"""The operator's HTTP surface: /healthz, /readyz and /metrics (aiohttp, which kopf brings).

- /readyz is 503 until the first complete list of CanaryGates: before that the operator does
  not know every gate, so it must not be counted as serving.
- /healthz is 503 when the scheduler loop (and, with leader election, the Lease loop) has not
  come round for `stuck_after` seconds (each wakes at least every few seconds even with
  nothing to do), so a wedged process gets restarted. A standby replica is live and ready:
  it keeps its records current, ready to take over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def parse_address(text: str) -> tuple[str, int]:
    """`host:port`, `:port` or `[::1]:port`; raises ValueError with a one-line reason."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


def make_app(
    *,
    registry: CollectorRegistry,
    ready: Callable[[], bool],
    last_loop: Callable[[], float],
    stuck_after: float = 60.0,
    health: bool = True,
    metrics: bool = True,
) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        idle = time.monotonic() - last_loop()
        if idle > stuck_after:
            return web.Response(status=503, text=f"scheduler stuck for {idle:.0f}s\n")
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if not ready():
            return web.Response(status=503, text="not ready: first list of CanaryGates pending\n")
        return web.Response(text="ok\n")

    async def metrics_page(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    if health:
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
    if metrics:
        app.router.add_get("/metrics", metrics_page)
    return app


async def serve(app: web.Application, address: str) -> web.AppRunner:
    host, port = parse_address(address)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
