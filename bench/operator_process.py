"""`canarygate run` for benchmarks: the same operator, its evaluation clock pinned to an instant.

The fixture Prometheus holds 31 days of history ending at `lab.histories.FIXTURE_NOW`; an
operator evaluating "now" would find nothing there. This entry point runs the real operator
(same runtime, same code paths) with every evaluation made at that instant, so a benchmark
measures a steady state over real data. Not a product command.

    python -m bench.operator_process --kubeconfig K --prometheus URL -n NS \\
        --health-address H:P --metrics-address H:P [--at RFC3339]
        [--verdict-address H:P --verdict-token-secret NS/NAME --verdict-rate-limit N]
"""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import datetime

from canarygate.evaluating import Connection
from canarygate.operator import RunSettings, run
from canarygate.operator.authenticating import AuthSettings
from canarygate.operator.receivers import SecretRef
from canarygate.operator.runtime import RuntimeSettings
from canarygate.operator.verdict_serving import VerdictApiSettings
from lab.histories import FIXTURE_NOW


def dump_memory(path: str) -> None:
    """What the heap holds, for a benchmark that asks (SIGUSR1): live objects by type (top 40)
    in `path`, and the allocator's arenas on stderr (the operator's log), to tell live data
    from fragmentation."""
    import collections
    import gc

    objects = gc.get_objects()
    counts = collections.Counter(type(o).__name__ for o in objects)
    functions = collections.Counter(
        getattr(o, "__qualname__", "?") for o in objects if type(o).__name__ == "function"
    )
    with open(path, "a") as out:
        out.write(f"--- {datetime.now().isoformat()}: {sum(counts.values())} objects in gc\n")
        out.writelines(f"{count:9d} {name}\n" for name, count in counts.most_common(40))
        out.write("functions:\n")
        out.writelines(f"{count:9d} {name}\n" for name, count in functions.most_common(8))
    sys._debugmallocstats()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("-n", "--namespace", action="append", default=[])
    parser.add_argument("--health-address", required=True)
    parser.add_argument("--metrics-address", required=True)
    parser.add_argument("--at", default=FIXTURE_NOW.isoformat())
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--no-window-cache", action="store_true")
    parser.add_argument("--memory-dump", metavar="PATH", help="on SIGUSR1, append heap figures")
    parser.add_argument("--verdict-address")
    parser.add_argument("--verdict-token-secret", action="append", default=[])
    parser.add_argument("--verdict-rate-limit", type=float, default=20.0)
    args = parser.parse_args()
    secrets = tuple(SecretRef(*ref.split("/", 1)) for ref in args.verdict_token_secret)
    at = datetime.fromisoformat(args.at)
    if args.memory_dump:
        signal.signal(signal.SIGUSR1, lambda *_: dump_memory(args.memory_dump))
    return run(
        RunSettings(
            kubeconfig=args.kubeconfig,
            namespaces=tuple(args.namespace),
            health_address=args.health_address,
            metrics_address=args.metrics_address,
            log_level=args.log_level,
            runtime=RuntimeSettings(
                connection=Connection(fallback_address=args.prometheus),
                clock=lambda: at,
                window_cache=not args.no_window_cache,
            ),
            verdict=VerdictApiSettings(
                address=args.verdict_address,
                auth=AuthSettings(token_secrets=secrets, token_review=not secrets),
                rate=args.verdict_rate_limit,
                burst=2 * args.verdict_rate_limit,
            ),
        )
    )


if __name__ == "__main__":
    sys.exit(main())
