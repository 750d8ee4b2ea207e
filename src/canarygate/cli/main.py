"""The `canarygate` command. `evaluate` follows the CLI contract in DESIGN.md to the letter:
exit 0 whenever a decision was produced (unknown health is a decision), exit 2 for an
invalid spec or invalid arguments, with exactly one `canarygate: ...` line on stderr.

Exit 1 is the last resort: an exception nobody expected is reported in one line too
(`canarygate: internal error: ...`), with a traceback only when CANARYGATE_DEBUG=1. Every
known kind of bad input has its own message and exit 2; none of them should ever get here.
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
from pathlib import Path
from typing import NoReturn

from canarygate import __version__
from canarygate.api.fields import TIMEOUT_BOUNDS
from canarygate.api.loading import MAX_MANIFEST_BYTES, ManifestError, UnreadableManifest, load_gates
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.arguments import (
    MAX_RETRIES,
    UsageError,
    check_address,
    check_ca_file,
    parse_time,
    parse_timeout,
    read_basic_auth,
    read_bearer_token,
    whole_number,
)
from canarygate.cli.operating import add_run_parser, run_operator
from canarygate.cli.rendering import decision_document, decision_table
from canarygate.cli.sanitising import printable
from canarygate.core import defaults
from canarygate.core.decisions import Decision
from canarygate.core.errors import ConfigurationError, SpecError
from canarygate.core.matrix import matrix_as_markdown
from canarygate.evaluating import (
    ClientPool,
    Connection,
    MissingAddress,
    evaluate_everywhere,
    prometheus_config,
)
from canarygate.metrics import PrometheusConfig

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
PROMETHEUS_ENV = "CANARYGATE_PROMETHEUS_URL"
DEBUG_ENV = "CANARYGATE_DEBUG"

__all__ = ["build_parser", "main", "parse_time"]


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
    evaluate.add_argument(
        "-f",
        "--filename",
        required=True,
        type=Path,
        help=f"gate YAML, or - for stdin (UTF-8, at most {MAX_MANIFEST_BYTES >> 20} MiB)",
    )
    evaluate.add_argument(
        "--prometheus",
        metavar="URL",
        help=f"Prometheus base URL (default: spec.prometheus.address, then ${PROMETHEUS_ENV})",
    )
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
    auth = evaluate.add_argument_group("Prometheus connection")
    auth.add_argument(
        "--timeout",
        default=None,
        metavar="DURATION",
        help=f"per-query timeout, {TIMEOUT_BOUNDS.shortest}..{TIMEOUT_BOUNDS.longest} "
        f"(default spec.prometheus.timeout, else {defaults.QUERY_TIMEOUT})",
    )
    auth.add_argument(
        "--retries",
        type=whole_number(0, MAX_RETRIES, "number"),
        default=defaults.QUERY_RETRIES,
        metavar="N",
        help=f"retries per query, 0..{MAX_RETRIES} (default {defaults.QUERY_RETRIES})",
    )
    auth.add_argument("--bearer-token-file", type=Path, metavar="PATH")
    auth.add_argument(
        "--basic-auth-file", type=Path, metavar="PATH", help="file holding user:password"
    )
    auth.add_argument("--ca-file", type=Path, metavar="PATH", help="PEM CA bundle for HTTPS")
    auth.add_argument("--insecure-skip-verify", action="store_true")

    add_run_parser(commands)
    commands.add_parser("matrix", help="print the default health x risk matrix as Markdown")
    return parser


def _numbers_kept_as_values(argv: Sequence[str]) -> list[str]:
    """`--at -1e20` is a value, not an option: argparse only knows `-5` and `-.5` as
    negative numbers, so a negative number after --at is glued to it (`--at=-1e20`)."""
    joined: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--at":
            value = next(tokens, None)
            if value is None:
                joined.append(token)
            elif value.startswith("-") and _is_number(value):
                joined.append(f"--at={value}")
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


def _connection(args: argparse.Namespace, gates: Sequence[CanaryGate]) -> Connection:
    """The command line's part of the Prometheus precedence (see `evaluating.Connection`).
    The variable is checked only when a gate will use it: a broken default nobody needs
    should not fail a run."""
    fallback = os.environ.get(PROMETHEUS_ENV) or None
    needed = args.prometheus is None and any(gate.spec.prometheus is None for gate in gates)
    if fallback is not None and needed:
        check_address(fallback, source=f"${PROMETHEUS_ENV}")
    return Connection(
        address=args.prometheus,
        fallback_address=fallback,
        timeout=parse_timeout(args.timeout) if args.timeout is not None else None,
        retries=args.retries,
        bearer_token=read_bearer_token(args.bearer_token_file) if args.bearer_token_file else None,
        basic_auth=read_basic_auth(args.basic_auth_file) if args.basic_auth_file else None,
        ca_file=check_ca_file(args.ca_file) if args.ca_file else None,
        insecure_skip_verify=args.insecure_skip_verify,
    )


def _check_arguments(args: argparse.Namespace) -> datetime:
    """Everything the command line says, before a file is read; returns the instant."""
    if args.prometheus is not None:
        check_address(args.prometheus, source="--prometheus")
    if args.timeout is not None:
        parse_timeout(args.timeout)
    return parse_time(args.at) if args.at is not None else datetime.now(UTC)


async def _evaluate_all(
    gates: Sequence[CanaryGate],
    configs: Sequence[PrometheusConfig],
    at: datetime,
    weight: int | None,
) -> list[Decision]:
    async with ClientPool() as pool:
        return await evaluate_everywhere(gates, configs, pool, at, weight=weight)


def _run_evaluate(args: argparse.Namespace) -> int:
    at = _check_arguments(args)
    gates = load_gates(args.filename)
    connection = _connection(args, gates)
    try:
        configs = [prometheus_config(gate, connection) for gate in gates]
    except MissingAddress:
        raise UsageError(
            "no Prometheus address: pass --prometheus, set spec.prometheus.address "
            f"or ${PROMETHEUS_ENV}"
        ) from None
    decisions = asyncio.run(_evaluate_all(gates, configs, at, args.weight))
    if args.output == "json":
        documents = [decision_document(g, d) for g, d in zip(gates, decisions, strict=True)]
        payload = documents[0] if len(documents) == 1 else documents
        print(json.dumps(payload, indent=2))
    else:
        print("\n\n".join(decision_table(g, d) for g, d in zip(gates, decisions, strict=True)))
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
    except Exception as error:  # the last resort: documented in the README
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        _say(f"internal error: {type(error).__name__}: {error} (set {DEBUG_ENV}=1 for a traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
