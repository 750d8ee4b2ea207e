"""`canarygate pause | resume | abort | promote | clear-freeze NS/NAME`: the manual controls.

Each command writes its control as an annotation on the CanaryGate (core.controls), naming
the revision it is meant for (the gate's `spec.canary.revision` unless `--revision` says
otherwise), who gives it (the user name the API server knows this connection by, from a
SelfSubjectReview) and why (`--reason`, required to force a promotion). The operator
acknowledges it in `status.controls`, an Event and the history. The write is a conditional
merge patch of the annotations (read again on a conflict).

`pause` and `abort` also take `--all -n NS`: every gate of the namespace, each with its own
revision, in one command: what responders need when an incident starts.

`resume` lifts a pause: it removes `canarygate.io/pause` and records who resumed in
`canarygate.io/resume`. `clear-freeze` ends a freeze after red health without waiting for
its cooldown: it names the red episode in progress (`status.freeze.redSince`), and refuses
when there is none.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from canarygate.api.controls import TEXT_LIMIT, control_value
from canarygate.cli.arguments import UsageError
from canarygate.core.controls import CONTROL_ANNOTATIONS, ControlKind
from canarygate.core.state import timestamp
from canarygate.kube import Conflict, KubeApi, KubeError, NotFound, connect

ATTEMPTS = 5
PAGE = 500
COMMANDS: dict[str, ControlKind] = {
    "pause": ControlKind.PAUSE,
    "resume": ControlKind.RESUME,
    "abort": ControlKind.ABORT,
    "promote": ControlKind.PROMOTE,
    "clear-freeze": ControlKind.CLEAR_FREEZE,
}
_HELP = {
    ControlKind.PAUSE: "hold a gate where it is (no step; a critical guardrail still rolls back)",
    ControlKind.RESUME: "lift a pause",
    ControlKind.ABORT: "send all traffic to stable now; it stays there until a new revision",
    ControlKind.PROMOTE: "force the promotion of a canary, whatever the evaluation says",
    ControlKind.CLEAR_FREEZE: "end a freeze after red health without waiting for its cooldown",
}
_DONE = {
    ControlKind.PAUSE: "paused",
    ControlKind.RESUME: "resumed",
    ControlKind.ABORT: "aborted",
    ControlKind.PROMOTE: "promotion forced for",
    ControlKind.CLEAR_FREEZE: "freeze cleared for",
}


def add_control_parsers(commands: Any) -> None:
    for command, kind in COMMANDS.items():
        parser = commands.add_parser(
            command,
            help=_HELP[kind],
            description=f"{_HELP[kind][0].upper()}{_HELP[kind][1:]}: the annotation "
            f"{CONTROL_ANNOTATIONS[kind]} on the CanaryGate, acknowledged by the operator in "
            "status.controls. Exit 0 once written, 2 when it cannot be.",
        )
        if kind in (ControlKind.PAUSE, ControlKind.ABORT):
            parser.add_argument("gate", metavar="NAMESPACE/NAME", nargs="?")
            parser.add_argument(
                "--all", action="store_true", help="every CanaryGate of the namespace (-n)"
            )
            parser.add_argument("-n", "--namespace", metavar="NS", help="with --all")
        else:
            parser.add_argument("gate", metavar="NAMESPACE/NAME")
        parser.add_argument(
            "--reason",
            required=kind is ControlKind.PROMOTE,
            metavar="TEXT",
            help="why (recorded with the control; required to force a promotion)",
        )
        if kind is not ControlKind.CLEAR_FREEZE:
            parser.add_argument("--revision", help="the revision meant (default: the gate's)")
        parser.add_argument("--kubeconfig", metavar="PATH")
        parser.set_defaults(control=kind)


def run_control(args: argparse.Namespace) -> int:
    kind: ControlKind = args.control
    reason = _reason(args.reason)
    every = bool(getattr(args, "all", False))
    if every:
        if args.gate:
            raise UsageError(f"--all names no gate: canarygate {kind} --all -n NAMESPACE")
        if not args.namespace:
            raise UsageError(f"--all needs the namespace: canarygate {kind} --all -n NAMESPACE")
        if args.revision:
            raise UsageError("--revision cannot be used with --all: each gate has its own")
        targets = None
    else:
        if getattr(args, "namespace", None):
            raise UsageError("-n/--namespace goes with --all; name one gate as NAMESPACE/NAME")
        if not args.gate:
            raise UsageError("name the gate as NAMESPACE/NAME, or use --all -n NAMESPACE")
        namespace, slash, name = args.gate.partition("/")
        if not slash or not namespace or not name:
            raise UsageError(f"{args.gate!r}: name the gate as NAMESPACE/NAME")
        targets = [(namespace, name)]
    try:
        done, failed = asyncio.run(_run(args, kind, reason, targets))
    except KubeError as error:
        raise UsageError(str(error)) from None
    for line in done:
        print(line)
    if failed:
        raise UsageError("; ".join(failed))
    if every and not done:
        print(f"no CanaryGate in namespace {args.namespace}")
    return 0


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    stripped = text.strip()
    if not stripped:
        raise UsageError("--reason: say why, in a few words")
    if len(stripped) > TEXT_LIMIT or not stripped.isprintable():
        raise UsageError(f"--reason: one line of printable text, at most {TEXT_LIMIT} characters")
    return stripped


async def _run(
    args: argparse.Namespace,
    kind: ControlKind,
    reason: str | None,
    targets: list[tuple[str, str]] | None,
) -> tuple[list[str], list[str]]:
    async with connect(args.kubeconfig) as api:
        by = await api.whoami()
        if targets is None:
            targets = [(args.namespace, name) for name in await _names(api, args.namespace)]
        results = await asyncio.gather(
            *(
                _one(api, kind, namespace, name, by, reason, getattr(args, "revision", None))
                for namespace, name in targets
            ),
            return_exceptions=True,
        )
    done: list[str] = []
    failed: list[str] = []
    for (namespace, name), result in zip(targets, results, strict=True):
        if isinstance(result, NotFound):
            failed.append(f"CanaryGate {namespace}/{name} not found")
        elif isinstance(result, (KubeError, UsageError)):
            failed.append(f"{namespace}/{name}: {result}" if len(targets) > 1 else str(result))
        elif isinstance(result, BaseException):
            raise result
        else:
            done.append(result)
    return done, failed


async def _names(api: KubeApi, namespace: str) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        page = await api.list_gates(namespace, limit=PAGE, continue_token=token)
        names += [str(g["metadata"]["name"]) for g in page.get("items") or []]
        token = (page.get("metadata") or {}).get("continue") or None
        if token is None:
            return sorted(names)


async def _one(
    api: KubeApi,
    kind: ControlKind,
    namespace: str,
    name: str,
    by: str | None,
    reason: str | None,
    revision: str | None,
) -> str:
    for _ in range(ATTEMPTS):
        gate = await api.get_gate(namespace, name)
        target = _target(kind, gate, revision)
        value = control_value(kind, target, by=by, reason=reason, at=timestamp(datetime.now(UTC)))
        changes: dict[str, str | None] = {CONTROL_ANNOTATIONS[kind]: value}
        if kind is ControlKind.RESUME:
            annotations = (gate.get("metadata") or {}).get("annotations") or {}
            if CONTROL_ANNOTATIONS[ControlKind.PAUSE] not in annotations:
                raise UsageError(f"CanaryGate {namespace}/{name} is not paused")
            changes[CONTROL_ANNOTATIONS[ControlKind.PAUSE]] = None
        try:
            await api.set_gate_annotations(
                namespace,
                name,
                changes,
                resource_version=str(gate["metadata"]["resourceVersion"]),
            )
        except Conflict:
            continue  # the gate changed meanwhile: read it again
        what = "the red episode of" if kind is ControlKind.CLEAR_FREEZE else "revision"
        return f"{_DONE[kind]} {namespace}/{name} ({what} {target})"
    raise UsageError(f"CanaryGate {namespace}/{name} kept changing; try again")


def _target(kind: ControlKind, gate: Mapping[str, Any], revision: str | None) -> str:
    if kind is ControlKind.CLEAR_FREEZE:
        freeze = (gate.get("status") or {}).get("freeze") or {}
        since = freeze.get("redSince")
        if not isinstance(since, str) or not since:
            raise UsageError("no freeze is in progress (status.freeze is empty): nothing to clear")
        return since
    spec_revision = ((gate.get("spec") or {}).get("canary") or {}).get("revision")
    chosen = revision or spec_revision
    if not chosen:
        raise UsageError("the gate names no revision (spec.canary.revision); give --revision")
    return str(chosen)
