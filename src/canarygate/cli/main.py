"""The `canarygate` command. `evaluate` follows the CLI contract in DESIGN.md to the letter:
exit 0 whenever a decision was produced (unknown health is a decision), exit 2 for an
invalid spec or invalid arguments, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from canarygate import __version__
from canarygate.api.loading import load_gates
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.rendering import decision_document, decision_table
from canarygate.core import defaults
from canarygate.core.decisions import Decision
from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError
from canarygate.core.matrix import matrix_as_markdown
from canarygate.evaluating import (
    ClientPool,
    Connection,
    MissingAddress,
    evaluate_everywhere,
    prometheus_config,
)
from canarygate.metrics.prometheus import PrometheusConfig

EXIT_OK = 0
EXIT_INVALID = 2
PROMETHEUS_ENV = "CANARYGATE_PROMETHEUS_URL"


class UsageError(Exception):
    """Bad command-line input; reported like an invalid spec (exit 2)."""


def parse_time(text: str) -> datetime:
    """RFC 3339 (`2026-01-15T12:00:00Z`, offsets allowed) or unix seconds (`1768478400.5`)."""
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--at: {text!r} is neither RFC 3339 (2026-01-15T12:00:00Z) nor unix seconds"
        ) from None
    # RFC 3339 always carries an offset; a bare local time is read as UTC, not machine time.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _weight(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole percent") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..100")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    evaluate.add_argument("-f", "--filename", required=True, type=Path, help="gate YAML, or -")
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
        type=_weight,
        metavar="N",
        help="current canary percent (default status.weight, else 0)",
    )
    evaluate.add_argument("-o", "--output", choices=("json", "table"), default="table")
    auth = evaluate.add_argument_group("Prometheus connection")
    auth.add_argument("--timeout", default=None, metavar="DURATION", help="per-query timeout")
    auth.add_argument(
        "--retries",
        type=int,
        default=defaults.QUERY_RETRIES,
        help=f"retries per query (default {defaults.QUERY_RETRIES})",
    )
    auth.add_argument("--bearer-token-file", type=Path, metavar="PATH")
    auth.add_argument(
        "--basic-auth-file", type=Path, metavar="PATH", help="file holding user:password"
    )
    auth.add_argument("--ca-file", type=Path, metavar="PATH", help="CA bundle for HTTPS")
    auth.add_argument("--insecure-skip-verify", action="store_true")

    commands.add_parser("matrix", help="print the default health x risk matrix as Markdown")
    return parser


def _read_secret(path: Path | None, flag: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as error:
        raise UsageError(f"{flag}: cannot read {path}: {error.strerror}") from None


def _connection(args: argparse.Namespace) -> Connection:
    """The command line's part of the Prometheus precedence (see `evaluating.Connection`)."""
    timeout = None
    if args.timeout:
        try:
            timeout = parse_duration(args.timeout, field="--timeout")
        except SpecError as error:
            raise UsageError(str(error)) from None
    basic = _read_secret(args.basic_auth_file, "--basic-auth-file")
    basic_auth: tuple[str, str] | None = None
    if basic is not None:
        user, colon, password = basic.partition(":")
        if not colon:
            raise UsageError("--basic-auth-file must hold user:password")
        basic_auth = (user, password)
    if args.retries < 0:
        raise UsageError("--retries must be 0 or more")
    return Connection(
        address=args.prometheus,
        fallback_address=os.environ.get(PROMETHEUS_ENV),
        timeout=timeout,
        retries=args.retries,
        bearer_token=_read_secret(args.bearer_token_file, "--bearer-token-file"),
        basic_auth=basic_auth,
        ca_file=str(args.ca_file) if args.ca_file else None,
        insecure_skip_verify=args.insecure_skip_verify,
    )


async def _evaluate_all(
    gates: Sequence[CanaryGate],
    configs: Sequence[PrometheusConfig],
    at: datetime,
    weight: int | None,
) -> list[Decision]:
    async with ClientPool() as pool:
        return await evaluate_everywhere(gates, configs, pool, at, weight=weight)


def _run_evaluate(args: argparse.Namespace) -> int:
    at = parse_time(args.at) if args.at else datetime.now(UTC)
    gates = load_gates(args.filename)
    connection = _connection(args)
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            return _run_evaluate(args)
        if args.command == "matrix":
            print(matrix_as_markdown())
            return EXIT_OK
    except SpecError as error:
        print(f"canarygate: invalid spec: {error.field}: {error.message}", file=sys.stderr)
        return EXIT_INVALID
    except UsageError as error:
        print(f"canarygate: {error}", file=sys.stderr)
        return EXIT_INVALID
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
