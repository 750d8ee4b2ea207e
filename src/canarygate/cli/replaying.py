"""`canarygate replay`: a gate evaluated at every step of a past range, as the operator would
have evaluated it, printed as a timeline of changes and a summary (or `-o json`), optionally
drawn (`--plot`, the `plot` extra).

Every argument is checked before anything is fetched (one `canarygate: ...` line and exit 2
otherwise), the plot's library included. Progress goes to stderr on long ranges.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from canarygate.api.converting import to_gate_spec, to_gate_state
from canarygate.api.fields import INTERVAL_BOUNDS
from canarygate.api.loading import load_gates
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.arguments import UsageError, parse_time, whole_number
from canarygate.cli.options import (
    add_connection_options,
    add_manifest_option,
    add_prometheus_options,
    check_connection_arguments,
    prometheus_configs,
)
from canarygate.cli.replay_rendering import replay_document, replay_table
from canarygate.core.durations import Duration, parse_duration
from canarygate.core.errors import SpecError
from canarygate.evaluating import ClientPool
from canarygate.metrics import PrometheusConfig
from canarygate.metrics.ranges import Grid
from canarygate.replaying import Replay, WeightPath, WeightPathError, replay_gate

# A replay keeps every decision in memory: this bounds it (about 69 days at a 1m step).
MAX_EVALUATIONS: Final = 100_000
# Ranges longer than this many evaluations show their progress.
PROGRESS_FROM: Final = 1_440
PLOT_FORMATS: Final = (".html", ".png", ".svg", ".pdf")


def add_replay_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="evaluate a CanaryGate at every step of a past range, as the operator would have",
        description="Replay a gate over history: fetch the range once (range queries), decide "
        "at every step carrying the gate's state, print the changes and a summary. Exit 0 when "
        "a replay was produced, 2 for an invalid spec or arguments.",
    )
    add_manifest_option(parser)
    add_prometheus_options(parser)
    parser.add_argument(
        "--from", dest="start", required=True, metavar="TIME", help="RFC 3339 or unix seconds"
    )
    parser.add_argument("--to", dest="end", metavar="TIME", help="default now")
    parser.add_argument(
        "--step",
        metavar="DURATION",
        help="time between evaluations (default spec.canary.interval: what the operator does)",
    )
    parser.add_argument(
        "--weight-path",
        default="simulate",
        metavar="simulate|fixed:N",
        help="simulate: the weight moves as the decisions say (default); fixed:N: held at N%%",
    )
    parser.add_argument(
        "--weight",
        type=whole_number(0, 100, "percent"),
        metavar="N",
        help="the canary's percent at the start (default status.weight, else 0)",
    )
    parser.add_argument("-o", "--output", choices=("json", "table"), default="table")
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="also draw the replay: .html, .png, .svg or .pdf (needs the plot extra: "
        "pip install 'canarygate[plot]')",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_connection_options(parser)


def run_replay(args: argparse.Namespace) -> int:
    start, end = _range(args)
    path = _weight_path(args.weight_path)
    if args.plot is not None:
        _check_plot(args.plot)
    check_connection_arguments(args)
    gate = _one_gate(args.filename)
    spec = to_gate_spec(gate)
    step = _step(args.step) if args.step is not None else spec.canary.interval
    grid = Grid.between(start, end, step.milliseconds)
    if grid.count > MAX_EVALUATIONS:
        raise UsageError(
            f"--from/--to/--step: {grid.count:,} evaluations; at most {MAX_EVALUATIONS:,} "
            "(use a larger --step or a shorter range)"
        )
    (config,) = prometheus_configs(args, [gate])
    progress = _Progress(sys.stderr) if not args.quiet and grid.count > PROGRESS_FROM else None
    remembered = to_gate_state(gate.status, weight=args.weight)
    replay = asyncio.run(_replay(gate, config, grid, path, remembered, progress))
    _warn_about_fetching(replay)
    table = replay_table(gate, step, replay)
    if args.plot is not None:
        from canarygate.plotting import plot_replay  # the optional extra, only when asked

        # An HTML page carries the timeline and the summary under its picture.
        plot_replay(gate, spec, replay, args.plot, report=table)
    if args.output == "json":
        print(json.dumps(replay_document(gate, step, replay), indent=2))
    else:
        print(table)
    return 0


async def _replay(
    gate: CanaryGate,
    config: PrometheusConfig,
    grid: Grid,
    path: WeightPath,
    remembered: Any,
    progress: _Progress | None,
) -> Replay:
    async with ClientPool() as pool:
        client = pool.client_for(config)
        try:
            return await replay_gate(
                to_gate_spec(gate), remembered, client, grid, path, progress=progress
            )
        finally:
            if progress is not None:
                progress.done()


def _range(args: argparse.Namespace) -> tuple[datetime, datetime]:
    start = parse_time(args.start, option="--from")
    end = parse_time(args.end, option="--to") if args.end is not None else datetime.now(UTC)
    if end < start:
        raise UsageError(f"--to ({_shown(end)}) is before --from ({_shown(start)})")
    return start, end


def _shown(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _weight_path(text: str) -> WeightPath:
    try:
        return WeightPath.parse(text)
    except WeightPathError as error:
        raise UsageError(f"--weight-path: {error}") from None


def _step(text: str) -> Duration:
    try:
        INTERVAL_BOUNDS.check(text)
        return parse_duration(text, field="--step")
    except SpecError as error:
        raise UsageError(f"--step: {error.message}") from None
    except ValueError as error:
        raise UsageError(f"--step: {error}") from None


def _check_plot(path: Path) -> None:
    if path.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"--plot: {path} must end in {', '.join(PLOT_FORMATS)}")
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot needs matplotlib: pip install 'canarygate[plot]'")
    if not path.parent.is_dir():
        raise UsageError(f"--plot: {path.parent} is not a directory")


def _one_gate(filename: Path) -> CanaryGate:
    gates = load_gates(filename)
    if len(gates) != 1:
        raise UsageError(
            f"replay takes one CanaryGate; {filename} holds {len(gates)} (split the file)"
        )
    return gates[0]


def _warn_about_fetching(replay: Replay) -> None:
    stats = replay.fetch
    if stats.unavailable_chunks:
        first = stats.failures[0] if stats.failures else "unavailable"
        print(
            f"replay: warning: {stats.unavailable_chunks} of {stats.requests_planned} range "
            f"requests got no answer ({first}); their points count as silence",
            file=sys.stderr,
        )


class _Progress:
    """One line on stderr, rewritten in place on a terminal, else a line per quarter."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.shown: set[tuple[str, int]] = set()

    def __call__(self, phase: str, done: int, total: int) -> None:
        share = done * 100 // max(total, 1)
        text = f"replay: {phase} {done:,}/{total:,} ({share}%)"
        if self.live:
            self.stream.write(f"\r{text}\x1b[K")
            self.stream.flush()
            return
        quarter = share // 25
        if (phase, quarter) not in self.shown:
            self.shown.add((phase, quarter))
            print(text, file=self.stream, flush=True)

    def done(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
