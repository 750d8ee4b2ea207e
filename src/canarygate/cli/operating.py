"""`canarygate run`: parse and check the operator's flags, then hand over to the operator.

Everything that can be wrong with the flags is reported before the operator starts, in one
line and exit 2, like every other canarygate command.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

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
from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError
from canarygate.evaluating import Connection
from canarygate.kube import KubeError
from canarygate.kube.connecting import load_config
from canarygate.kube.leasing import LeaseSettings
from canarygate.operator import RunSettings, run
from canarygate.operator.authenticating import AuthSettings
from canarygate.operator.notifying import NotificationSettings
from canarygate.operator.receivers import SecretRef
from canarygate.operator.rollouts import RolloutSettings
from canarygate.operator.runtime import RuntimeSettings
from canarygate.operator.serving import parse_address
from canarygate.operator.verdict_serving import VerdictApiSettings
from canarygate.operator.verdicts import VerdictSettings

PROMETHEUS_ENV = "CANARYGATE_PROMETHEUS_URL"
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # DNS-1123 subdomain


def add_run_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="run the operator: gate every CanaryGate, moving traffic step by step",
        description="Run the canarygate operator until SIGTERM or SIGINT. In a cluster it "
        "uses its ServiceAccount; outside, --kubeconfig or $KUBECONFIG.",
    )
    parser.add_argument(
        "--kubeconfig", metavar="PATH", help="default: $KUBECONFIG, then in-cluster"
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable)",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="watch every namespace (default)"
    )
    parser.add_argument(
        "--prometheus",
        metavar="URL",
        help=f"Prometheus for gates that name none (default ${PROMETHEUS_ENV})",
    )
    parser.add_argument(
        "--metrics-address",
        default="0.0.0.0:8080",
        metavar="HOST:PORT",
        help="serve /metrics here (default 0.0.0.0:8080; 'off' to disable)",
    )
    parser.add_argument(
        "--health-address",
        default="0.0.0.0:8081",
        metavar="HOST:PORT",
        help="serve /healthz and /readyz here (default 0.0.0.0:8081; 'off' to disable)",
    )
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--log-level",
        type=str.lower,  # DEBUG and debug alike, as Python's and kopf's own levels are spelt
        choices=("debug", "info", "warning", "error"),
        default="info",
    )
    ha = parser.add_argument_group("several replicas")
    ha.add_argument(
        "--leader-elect",
        action="store_true",
        help="act only while holding a Lease; other replicas wait, ready to take over",
    )
    ha.add_argument(
        "--lease-namespace",
        metavar="NS",
        help="where the Lease lives (default $POD_NAMESPACE, else default)",
    )
    ha.add_argument("--lease-name", default="canarygate", metavar="NAME")
    ha.add_argument(
        "--lease-duration",
        default="15s",
        metavar="DURATION",
        help="a standby takes over after the Lease went this long unrenewed (default 15s)",
    )
    notify = parser.add_argument_group("notifications (see docs/notifications.md)")
    notify.add_argument(
        "--notify-secret",
        action="append",
        default=[],
        metavar="NAMESPACE/NAME",
        help="post every transition to the webhook this Secret describes (keys: url, "
        "optional token and format json|slack); repeatable",
    )
    notify.add_argument(
        "--notify-timeout", default="5s", metavar="DURATION", help="one post (default 5s)"
    )
    notify.add_argument(
        "--notify-retry-for",
        default="2m",
        metavar="DURATION",
        help="keep retrying one notification this long, then give up (default 2m)",
    )
    verdict = parser.add_argument_group(
        "the verdict API for Argo Rollouts, Kargo and Flagger (see docs/verdict-api.md)"
    )
    verdict.add_argument(
        "--verdict-address",
        default="off",
        metavar="HOST:PORT",
        help="serve the verdict API here (default off)",
    )
    verdict.add_argument(
        "--verdict-token-secret",
        action="append",
        default=[],
        metavar="NAMESPACE/NAME",
        help="a Secret whose keys are callers and values their tokens; such a token reads "
        "the gates of the Secret's namespace only (repeatable)",
    )
    verdict.add_argument(
        "--verdict-no-token-review",
        action="store_true",
        help="accept only the tokens of --verdict-token-secret (no TokenReview of "
        "ServiceAccount tokens)",
    )
    verdict.add_argument(
        "--verdict-audience",
        action="append",
        default=[],
        metavar="AUDIENCE",
        help="audiences a reviewed token must have been issued for (repeatable)",
    )
    verdict.add_argument(
        "--verdict-max-age",
        default="2m",
        metavar="DURATION",
        help="never answer from an evaluation older than this (default 2m; an evaluation is "
        "also too old after the gate's interval + 10s)",
    )
    verdict.add_argument(
        "--verdict-rate-limit",
        type=float,
        default=20.0,
        metavar="PER_SECOND",
        help="requests per second per caller, bursts of twice that (default 20)",
    )
    verdict.add_argument("--verdict-tls-cert-file", metavar="PATH", help="serve HTTPS")
    verdict.add_argument("--verdict-tls-key-file", metavar="PATH")
    tuning = parser.add_argument_group("tuning")
    tuning.add_argument(
        "--concurrency",
        type=whole_number(1, 1024, "number"),
        default=64,
        metavar="N",
        help="gates processed at once (default 64)",
    )
    tuning.add_argument(
        "--status-heartbeat",
        default="10m",
        metavar="DURATION",
        help="refresh the evidence in a gate's status at least this often even when nothing "
        "changed (default 10m)",
    )
    auth = parser.add_argument_group("the default Prometheus (--prometheus) only")
    auth.add_argument("--timeout", metavar="DURATION", help="per-query timeout")
    auth.add_argument(
        "--retries",
        type=whole_number(0, MAX_RETRIES, "number"),
        default=defaults.QUERY_RETRIES,
        metavar="N",
    )
    auth.add_argument("--bearer-token-file", metavar="PATH")
    auth.add_argument("--basic-auth-file", metavar="PATH", help="file holding user:password")
    auth.add_argument("--ca-file", metavar="PATH", help="PEM CA bundle for HTTPS")
    auth.add_argument("--insecure-skip-verify", action="store_true")


def _listen_address(text: str, flag: str) -> str | None:
    if text.lower() in ("off", "none", ""):
        return None
    try:
        parse_address(text)
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from None
    return text


def settings_from(args: argparse.Namespace) -> RunSettings:
    """Every flag checked; a RunSettings the operator can start from."""
    for namespace in args.namespace:
        if not _NAMESPACE.match(namespace):
            raise UsageError(f"--namespace: {namespace!r} is not a namespace name")
    try:
        load_config(args.kubeconfig)
    except KubeError as error:
        raise UsageError(f"--kubeconfig: {error}") from None
    prometheus = args.prometheus or os.environ.get(PROMETHEUS_ENV) or None
    if prometheus is not None:
        source = "--prometheus" if args.prometheus else f"${PROMETHEUS_ENV}"
        check_address(prometheus, source=source)
    heartbeat = _seconds(args.status_heartbeat, "--status-heartbeat")
    connection = Connection(
        fallback_address=prometheus,
        timeout=parse_timeout(args.timeout) if args.timeout else None,
        retries=args.retries,
        bearer_token=read_bearer_token(Path(args.bearer_token_file))
        if args.bearer_token_file
        else None,
        basic_auth=read_basic_auth(Path(args.basic_auth_file)) if args.basic_auth_file else None,
        ca_file=check_ca_file(Path(args.ca_file)) if args.ca_file else None,
        insecure_skip_verify=args.insecure_skip_verify,
        credentials_only_for_fallback=True,
    )
    return RunSettings(
        leader_election=_lease(args),
        kubeconfig=args.kubeconfig,
        namespaces=tuple(dict.fromkeys(args.namespace)),
        metrics_address=_listen_address(args.metrics_address, "--metrics-address"),
        health_address=_listen_address(args.health_address, "--health-address"),
        log_format=args.log_format,
        log_level=args.log_level.upper(),
        runtime=RuntimeSettings(
            connection=connection,
            concurrency=args.concurrency,
            rollouts=RolloutSettings(heartbeat_seconds=heartbeat),
        ),
        notifications=_notifications(args),
        verdict=_verdict(args),
    )


def _lease(args: argparse.Namespace) -> LeaseSettings | None:
    """Lease timing from its duration: renew every 2 s, give up leading after 2/3 of it."""
    if not args.leader_elect:
        return None
    namespace = args.lease_namespace or os.environ.get("POD_NAMESPACE") or "default"
    if not _NAMESPACE.match(namespace):
        raise UsageError(f"--lease-namespace: {namespace!r} is not a namespace name")
    if not _OBJECT_NAME.match(args.lease_name):
        raise UsageError(f"--lease-name: {args.lease_name!r} is not an object name")
    duration = _seconds(args.lease_duration, "--lease-duration")
    if not 6 <= duration <= 300:
        raise UsageError("--lease-duration: must be between 6s and 5m")
    return LeaseSettings(
        namespace=namespace,
        name=args.lease_name,
        duration=duration,
        renew_deadline=duration * 2 / 3,
        renew_every=2.0,
    )


def _notifications(args: argparse.Namespace) -> NotificationSettings:
    refs = [_secret_ref(text, "--notify-secret") for text in args.notify_secret]
    timeout = _seconds(args.notify_timeout, "--notify-timeout")
    if not 1 <= timeout <= 60:
        raise UsageError("--notify-timeout: must be between 1s and 1m")
    retry_for = _seconds(args.notify_retry_for, "--notify-retry-for")
    if retry_for > 3600:
        raise UsageError("--notify-retry-for: must be at most 1h")
    return NotificationSettings(
        secrets=tuple(dict.fromkeys(refs)), timeout_seconds=timeout, retry_for_seconds=retry_for
    )


def _secret_ref(text: str, flag: str) -> SecretRef:
    namespace, slash, name = text.partition("/")
    if not slash or not _NAMESPACE.match(namespace) or not _OBJECT_NAME.match(name):
        raise UsageError(f"{flag}: {text!r} is not NAMESPACE/NAME of a Secret")
    return SecretRef(namespace, name)


def _verdict(args: argparse.Namespace) -> VerdictApiSettings:
    address = _listen_address(args.verdict_address, "--verdict-address")
    refs = tuple(
        dict.fromkeys(_secret_ref(t, "--verdict-token-secret") for t in args.verdict_token_secret)
    )
    if address is not None and args.verdict_no_token_review and not refs:
        raise UsageError(
            "--verdict-no-token-review: then --verdict-token-secret must name at least one Secret"
        )
    max_age = _seconds(args.verdict_max_age, "--verdict-max-age")
    if not 1 <= max_age <= 3600:
        raise UsageError("--verdict-max-age: must be between 1s and 1h")
    rate = args.verdict_rate_limit
    if not 0.1 <= rate <= 100_000:
        raise UsageError("--verdict-rate-limit: must be between 0.1 and 100000 per second")
    for audience in args.verdict_audience:
        if not audience or len(audience) > 256:
            raise UsageError(f"--verdict-audience: {audience!r} is not an audience")
    cert, key = args.verdict_tls_cert_file, args.verdict_tls_key_file
    if bool(cert) != bool(key):
        raise UsageError("--verdict-tls-cert-file and --verdict-tls-key-file go together")
    for flag, path in (("--verdict-tls-cert-file", cert), ("--verdict-tls-key-file", key)):
        if path and not Path(path).is_file():
            raise UsageError(f"{flag}: {path}: no such file")
    return VerdictApiSettings(
        address=address,
        verdicts=VerdictSettings(max_age_seconds=max_age),
        auth=AuthSettings(
            token_secrets=refs,
            token_review=not args.verdict_no_token_review,
            audiences=tuple(dict.fromkeys(args.verdict_audience)),
        ),
        rate=rate,
        burst=max(1.0, 2 * rate),
        tls_cert_file=cert,
        tls_key_file=key,
    )


def _seconds(text: str, flag: str) -> float:
    try:
        return parse_duration(text, field=flag).seconds
    except SpecError as error:
        raise UsageError(f"{flag}: {error.message}") from None


def run_operator(args: argparse.Namespace) -> int:
    return run(settings_from(args))
