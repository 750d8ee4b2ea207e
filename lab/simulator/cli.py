"""`python -m lab.simulator`: parse flags, then run the generator, the weight poller
and the HTTP server until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from lightkube import Client, KubeConfig

from canarygate.core.errors import SpecError
from lab.simulator.faults import Faults, InvalidFaults
from lab.simulator.generating import Simulator, SimulatorConfig
from lab.simulator.polling import (
    PROVIDERS,
    Target,
    poll_weights,
    traffic_backend,
    weight_reader,
)
from lab.simulator.serving import make_server

log = logging.getLogger("lab.simulator")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lab.simulator",
        description="Serve synthetic journey metrics split between stable and canary by the "
        "live weight of a traffic object.",
    )
    parser.add_argument("--provider", choices=PROVIDERS, default="gatewayAPI")
    parser.add_argument("--namespace", default="default")
    parser.add_argument(
        "--object", dest="name", default="", help="HTTPRoute, VirtualService or canary Ingress name"
    )
    parser.add_argument("--stable", default="", help="stable backend / destination / Deployment")
    parser.add_argument("--canary", default="", help="canary backend / destination / Deployment")
    parser.add_argument(
        "--stable-subset", default="", help="istio: the stable destination's subset"
    )
    parser.add_argument(
        "--canary-subset", default="", help="istio: the canary destination's subset"
    )
    parser.add_argument("--weight", type=float, default=0.0, help="canary %% (static provider)")
    parser.add_argument("--kubeconfig", default=None, help="default: $KUBECONFIG, ~/.kube/config")
    parser.add_argument("--journeys", default="login,checkout,search")
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s per journey")
    parser.add_argument("--baseline-error-ratio", type=float, default=0.0)
    parser.add_argument("--tick", type=float, default=0.1, help="seconds between batches")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument(
        "--faults", default="", help='initial faults as JSON, e.g. {"errorRatio": 0.1}'
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9464, help="0 picks a free port")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    needs = {
        "gatewayAPI": ("name", "stable", "canary"),
        "istio": ("name", "stable", "canary"),
        "nginx": ("name",),
        "replicas": ("stable", "canary"),
        "static": (),
    }
    missing = [
        f"--{'object' if n == 'name' else n}" for n in needs[args.provider] if not getattr(args, n)
    ]
    if missing:
        parser.error(f"--provider {args.provider} needs {', '.join(missing)}")
    if not 0.0 <= args.weight <= 100.0:
        parser.error("--weight must be within [0, 100]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = SimulatorConfig(
        journeys=tuple(j.strip() for j in args.journeys.split(",") if j.strip()),
        rate=args.rate,
        baseline_error_ratio=args.baseline_error_ratio,
    )
    simulator = Simulator(config, provider=args.provider)
    if args.faults:
        try:
            simulator.set_faults(Faults.from_json(json.loads(args.faults)))
        except (ValueError, InvalidFaults) as error:
            print(f"error: --faults: {error}", file=sys.stderr)
            return 2
    target = Target(
        args.provider,
        args.namespace,
        args.name,
        args.stable,
        args.canary,
        args.weight,
        stable_subset=args.stable_subset,
        canary_subset=args.canary_subset,
    )
    if args.provider != "static":
        try:
            traffic_backend(target)  # refuse flags that cannot work before connecting
        except SpecError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    client = None
    if args.provider != "static":
        config_file = KubeConfig.from_file(args.kubeconfig) if args.kubeconfig else None
        client = Client(config=config_file, field_manager="canarygate-simulator")
    read = weight_reader(target, client)

    stop = threading.Event()
    server = make_server(simulator, args.host, args.port)
    host, port = str(server.server_address[0]), server.server_port
    threads = [
        threading.Thread(target=server.serve_forever, name="http", daemon=True),
        threading.Thread(
            target=_generate, args=(simulator, args.tick, stop), name="generator", daemon=True
        ),
        threading.Thread(
            target=poll_weights,
            args=(simulator, read),
            kwargs={"interval": args.poll_interval, "stop": stop},
            name="poller",
            daemon=True,
        ),
    ]

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for thread in threads:
        thread.start()
    # The one line on stdout: where to scrape (useful with --port 0).
    print(f"serving on http://{host}:{port}/metrics", flush=True)
    log.info(
        "%s traffic, %.1f req/s per journey %s",
        args.provider,
        config.rate,
        ", ".join(config.journeys),
    )
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


def _generate(simulator: Simulator, tick: float, stop: threading.Event) -> None:
    """Advance by the real elapsed time at every tick: the rate holds even when a tick is
    late, and the request count stays exact (see CarryCounter)."""
    last = time.monotonic()
    while not stop.wait(tick):
        now = time.monotonic()
        simulator.advance(now - last)
        last = now
