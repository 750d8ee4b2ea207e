"""`make demo-evaluate`: the offline CLI, `canarygate evaluate`, on the example gates against a
fixture Prometheus.

Starts a real Prometheus on synthetic histories (see histories.py), runs `canarygate
evaluate` on examples/*.yaml at the fixture's instant, and prints what a user would see.
With --serve it keeps Prometheus running so you can try the CLI yourself. No Kubernetes.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from canarygate.cli.main import main as canarygate
from lab.fixture_prometheus import fixture_blocks, start_fixture_prometheus
from lab.histories import FIXTURE_NOW

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STORIES = [
    ("checkout-gate.yaml", "25", "a healthy release at 25 %: customers fine, canary fine"),
    ("payments-gate.yaml", None, "a risky release during an incident, canary failing"),
    ("signup-gate.yaml", "50", "the last step of a release while one region burns its budget"),
]


def run(serve: bool) -> int:
    print("Preparing the fixture Prometheus (31 days of synthetic history)...", flush=True)
    fixture_blocks()
    prometheus = start_fixture_prometheus()
    at = FIXTURE_NOW.isoformat().replace("+00:00", "Z")
    try:
        for name, weight, story in STORIES:
            args = ["evaluate", "-f", str(EXAMPLES / name), "--prometheus", prometheus.url]
            args += ["--at", at] + (["--weight", weight] if weight else [])
            shown = ["examples/" + name if a == str(EXAMPLES / name) else a for a in args]
            print(f"\n### {story}\n$ canarygate {' '.join(shown)}\n", flush=True)
            code = canarygate(args)
            if code != 0:
                return code
        print(f"\nFixture Prometheus: {prometheus.url} (history ends {at}).")
        if serve:
            print("Serving until Ctrl-C. Try:")
            print(f"  .venv/bin/canarygate evaluate -f examples/checkout-gate.yaml "
                  f"--prometheus {prometheus.url} --at {at} -o json")  # fmt: skip
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        else:
            print("Run `make demo-evaluate ARGS=--serve` to keep it running and try the CLI.")
    finally:
        prometheus.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m lab.demo_evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--serve", action="store_true", help="keep Prometheus running")
    sys.exit(run(parser.parse_args().serve))
