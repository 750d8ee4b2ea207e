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
import sys
from datetime import datetime

from canarygate.evaluating import Connection
from canarygate.operator import RunSettings, run
from canarygate.operator.authenticating import AuthSettings
from canarygate.operator.receivers import SecretRef
from canarygate.operator.runtime import RuntimeSettings
from canarygate.operator.verdict_serving import VerdictApiSettings
from lab.histories import FIXTURE_NOW


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("-n", "--namespace", action="append", default=[])
    parser.add_argument("--health-address", required=True)
    parser.add_argument("--metrics-address", required=True)
    parser.add_argument("--at", default=FIXTURE_NOW.isoformat())
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--verdict-address")
    parser.add_argument("--verdict-token-secret", action="append", default=[])
    parser.add_argument("--verdict-rate-limit", type=float, default=20.0)
    args = parser.parse_args()
    secrets = tuple(SecretRef(*ref.split("/", 1)) for ref in args.verdict_token_secret)
    at = datetime.fromisoformat(args.at)
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
