"""`make demo-replay`: `canarygate replay` on examples/storefront-gate.yaml over the fixture's
week of storefront history (lab/histories.py: two canary blips, a customer blip, an exporter
gap and Tuesday's incident), and the picture docs/replay.md shows.

Starts a real Prometheus on the synthetic histories, replays the week with the canary held at
25 % (what the gate would have said at every minute) and draws it, then replays a rollout that
starts during Tuesday's incident. With --serve it keeps Prometheus running. No Kubernetes.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from canarygate.cli.main import main as canarygate
from lab.fixture_prometheus import fixture_blocks, start_fixture_prometheus

ROOT = Path(__file__).resolve().parents[1]
GATE = "examples/storefront-gate.yaml"
PICTURE = "replay-storefront-week.png"
REPLAYS = [
    (
        "the week, the canary held at 25 %: what would the gate have said?",
        ["--from", "2026-01-08T12:00:00Z", "--to", "2026-01-15T12:00:00Z", "--weight-path",
         "fixed:25"],
        True,
    ),
    (
        "a rollout started during Tuesday's incident, the weight moving as the gate decides",
        ["--from", "2026-01-13T12:15:00Z", "--to", "2026-01-13T20:00:00Z"],
        False,
    ),
]  # fmt: skip


def run(serve: bool, plot_dir: Path) -> int:
    print("Preparing the fixture Prometheus (31 days of synthetic history)...", flush=True)
    fixture_blocks()
    prometheus = start_fixture_prometheus()
    try:
        for story, window, drawn in REPLAYS:
            args = ["replay", "-f", str(ROOT / GATE), "--prometheus", prometheus.url, *window]
            shown = ["replay", "-f", GATE, "--prometheus", prometheus.url, *window]
            if drawn:
                picture = plot_dir / PICTURE
                args += ["--plot", str(picture)]
                shown += ["--plot", _relative(picture)]
            print(f"\n### {story}\n$ canarygate {' '.join(shown)}\n", flush=True)
            code = canarygate(args)
            if code != 0:
                return code
        print(f"\nDrawn: {_relative(plot_dir / PICTURE)}")
        print(f"Fixture Prometheus: {prometheus.url}")
        if serve:
            print("Serving until Ctrl-C. Try --plot replay.html, -o json, --step 5m.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        else:
            print("Run `make demo-replay ARGS=--serve` to keep it running and try the CLI.")
    finally:
        prometheus.stop()
    return 0


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m lab.demo_replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--serve", action="store_true", help="keep Prometheus running")
    parser.add_argument(
        "--plot-dir",
        type=Path,
        default=ROOT / "docs" / "images",
        help=f"where {PICTURE} is drawn (default docs/images, docs/replay.md's picture)",
    )
    arguments = parser.parse_args()
    sys.exit(run(arguments.serve, arguments.plot_dir))
