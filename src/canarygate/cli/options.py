"""The options every command that asks Prometheus shares (`evaluate`, `replay`): the manifest,
the address and how to reach it, each checked before anything is sent, and the command
line's part of the Prometheus precedence (`evaluating.Connection`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from canarygate.api.fields import TIMEOUT_BOUNDS
from canarygate.api.loading import MAX_MANIFEST_BYTES
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.arguments import (
    MAX_RETRIES,
    UsageError,
    check_address,
    check_ca_file,
    parse_timeout,
    read_basic_auth,
    read_bearer_token,
    whole_number,
)
from canarygate.core import defaults
from canarygate.evaluating import Connection, MissingAddress, prometheus_config
from canarygate.metrics import PrometheusConfig

PROMETHEUS_ENV = "CANARYGATE_PROMETHEUS_URL"


def add_manifest_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        required=True,
        type=Path,
        help=f"gate YAML, or - for stdin (UTF-8, at most {MAX_MANIFEST_BYTES >> 20} MiB)",
    )


def add_prometheus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help=f"Prometheus base URL (default: spec.prometheus.address, then ${PROMETHEUS_ENV})",
    )


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    auth = parser.add_argument_group("Prometheus connection")
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


def check_connection_arguments(args: argparse.Namespace) -> None:
    """The address and timeout given on the command line, before a file is read."""
    if args.prometheus is not None:
        check_address(args.prometheus, source="--prometheus")
    if args.timeout is not None:
        parse_timeout(args.timeout)


def connection(args: argparse.Namespace, gates: Sequence[CanaryGate]) -> Connection:
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


def prometheus_configs(
    args: argparse.Namespace, gates: Sequence[CanaryGate]
) -> list[PrometheusConfig]:
    """The Prometheus each gate is asked, or a UsageError when one has none."""
    chosen = connection(args, gates)
    try:
        return [prometheus_config(gate, chosen) for gate in gates]
    except MissingAddress:
        raise UsageError(
            "no Prometheus address: pass --prometheus, set spec.prometheus.address "
            f"or ${PROMETHEUS_ENV}"
        ) from None
