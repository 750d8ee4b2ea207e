"""The `canarygate` command. `evaluate` follows the CLI contract in DESIGN.md to the letter:
exit 0 whenever a decision was produced (unknown health is a decision), exit 2 for an
invalid spec or invalid arguments, with exactly one `canarygate: ...` line on stderr.

Exit 1 is the last resort: an exception nobody expected is reported in one line too
(`canarygate: internal error: ...`), with a traceback only when CANARYGATE_DEBUG=1. Every
known kind of bad input has its own message and exit 2; none of them should ever get here.
`check` gives exit 1 a meaning (rolled back), so its last resort is its error code, 4.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NoReturn

from canarygate import __version__
from canarygate.api.converting import to_gate_spec
from canarygate.api.loading import ManifestError, UnreadableManifest, load_gates
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.approving import add_approve_parser, run_approve
from canarygate.cli.arguments import UsageError, parse_time, whole_number
from canarygate.cli.checking import add_check_parser, run_check
from canarygate.cli.controlling import add_control_parsers, run_control
from canarygate.cli.explaining import explanation_text
from canarygate.cli.operating import add_run_parser, run_operator
from canarygate.cli.options import (
    PROMETHEUS_ENV,
    add_connection_options,
    add_manifest_option,
    add_prometheus_options,
    check_connection_arguments,
    prometheus_configs,
)
from canarygate.cli.readings import EXIT_CODES, Outcome
from canarygate.cli.rendering import decision_document, decision_table
from canarygate.cli.replaying import add_replay_parser, run_replay
from canarygate.cli.rules import add_rules_parser, run_rules
from canarygate.cli.sanitising import printable
from canarygate.core.decisions import Decision
from canarygate.core.errors import ConfigurationError, SpecError
from canarygate.core.explaining import explain
from canarygate.core.matrix import matrix_as_markdown
from canarygate.evaluating import ClientPool, evaluate_everywhere
from canarygate.metrics import PrometheusConfig
from canarygate.webhooks import WebhookCaller

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
EXIT_CHECK_ERROR = EXIT_CODES[Outcome.ERROR]
DEBUG_ENV = "CANARYGATE_DEBUG"
_TIME_OPTIONS = frozenset({"--at", "--from", "--to"})

__all__ = ["PROMETHEUS_ENV", "build_parser", "main", "parse_time"]


class _Parser(argparse.ArgumentParser):
    """argparse prints its usage and a message on several lines, then exits; the contract
    wants one line and a return code, so its errors become UsageError."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="canarygate",
        description="Gate canary releases on customer-journey SLOs, burn rates and release risk.",
    )
    parser.add_argument("--version", action="version", version=f"canarygate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a CanaryGate once against Prometheus and print the decision",
        description="Evaluate once, offline from Kubernetes. Exit 0 when a decision was "
        "produced (unknown health holds), 2 for an invalid spec or arguments.",
    )
    add_manifest_option(evaluate)
    add_prometheus_options(evaluate)
    evaluate.add_argument(
        "--at", metavar="TIME", help="evaluation instant, RFC 3339 or unix seconds (default now)"
    )
    evaluate.add_argument(
        "--weight",
        type=whole_number(0, 100, "percent"),
        metavar="N",
        help="current canary percent, 0..100 (default status.weight, else 0)",
    )
    evaluate.add_argument("-o", "--output", choices=("json", "table"), default="table")
    evaluate.add_argument(
        "--explain",
        action="store_true",
        help="also say, rule by rule, which thresholds, windows and numbers decided",
    )
    add_connection_options(evaluate)

    add_run_parser(commands)
    add_check_parser(commands)
    add_approve_parser(commands)
    add_control_parsers(commands)
    add_replay_parser(commands)
    add_rules_parser(commands)
    commands.add_parser("matrix", help="print the default health x risk matrix as Markdown")
    return parser


def _numbers_kept_as_values(argv: Sequence[str]) -> list[str]:
    """`--at -1e20` is a value, not an option: argparse only knows `-5` and `-.5` as
    negative numbers, so a negative number after a time option is glued to it
    (`--at=-1e20`)."""
    joined: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token in _TIME_OPTIONS:
            value = next(tokens, None)
            if value is None:
                joined.append(token)
            elif value.startswith("-") and _is_number(value):
                joined.append(f"{token}={value}")
            else:
                joined += [token, value]
        else:
            joined.append(token)
    return joined


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_arguments(args: argparse.Namespace) -> datetime:
    """Everything the command line says, before a file is read; returns the instant."""
    check_connection_arguments(args)
    return parse_time(args.at) if args.at is not None else datetime.now(UTC)


async def _evaluate_all(
    gates: Sequence[CanaryGate],
    configs: Sequence[PrometheusConfig],
    at: datetime,
    weight: int | None,
) -> list[Decision]:
    caller = WebhookCaller()
    try:
        async with ClientPool() as pool:
            return await evaluate_everywhere(gates, configs, pool, at, weight=weight, caller=caller)
    finally:
        await caller.aclose()


def _run_evaluate(args: argparse.Namespace) -> int:
    at = _check_arguments(args)
    gates = load_gates(args.filename)
    configs = prometheus_configs(args, gates)
    decisions = asyncio.run(_evaluate_all(gates, configs, at, args.weight))
    pairs = list(zip(gates, decisions, strict=True))
    if args.output == "json":
        documents = [decision_document(g, d) for g, d in pairs]
        if args.explain:
            for document, (gate, decision) in zip(documents, pairs, strict=True):
                document["explain"] = list(explain(to_gate_spec(gate), decision))
        payload = documents[0] if len(documents) == 1 else documents
        print(json.dumps(payload, indent=2))
    else:
        tables = [
            decision_table(g, d)
            + (explanation_text(explain(to_gate_spec(g), d)) if args.explain else "")
            for g, d in pairs
        ]
        print("\n\n".join(tables))
    return EXIT_OK


def _say(message: str) -> None:
    """The one line on stderr: whatever the message holds, it stays one printable line."""
    print(f"canarygate: {printable(message)}", file=sys.stderr)


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(
            _numbers_kept_as_values(sys.argv[1:] if argv is None else argv)
        )
    except UsageError as error:
        _say(str(error))
        return EXIT_INVALID
    except SystemExit as done:  # --help and --version print and exit 0
        return done.code if isinstance(done.code, int) else EXIT_OK
    try:
        if args.command == "evaluate":
            return _run_evaluate(args)
        if args.command == "run":
            return run_operator(args)
        if args.command == "check":
            return run_check(args)
        if args.command == "approve":
            return run_approve(args)
        if getattr(args, "control", None) is not None:
            return run_control(args)
        if args.command == "replay":
            return run_replay(args)
        if args.command == "rules":
            return run_rules(args)
        print(matrix_as_markdown())
        return EXIT_OK
    except UnreadableManifest as error:
        _say(str(error))
    except ManifestError as error:
        _say(f"invalid spec: {error}")
    except SpecError as error:
        _say(f"invalid spec: {error.field}: {error.message}")
    except (UsageError, ConfigurationError) as error:
        _say(str(error))
    except Exception as error:
        # `check` exits 1 for a rollback, so its last resort is its error code, 4.
        if args.command != "check" or os.environ.get(DEBUG_ENV) == "1":
            raise
        _say(_internal(error))
        return EXIT_CHECK_ERROR
    return EXIT_INVALID


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`); say nothing more on a pipe that is gone, and
        # keep Python from complaining about it again when it flushes at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_INTERNAL
    except Exception as error:  # the last resort: documented in docs/cli.md
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        _say(_internal(error))
        return EXIT_INTERNAL


def _internal(error: Exception) -> str:
    return f"internal error: {type(error).__name__}: {error} (set {DEBUG_ENV}=1 for a traceback)"


if __name__ == "__main__":
    sys.exit(main())
