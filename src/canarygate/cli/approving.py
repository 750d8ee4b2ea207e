"""`canarygate approve NS/NAME`: approve the move a gate waits for (or a named one).

An approval is the annotation `canarygate.io/approve: <revision>/<step>` (or
`<revision>/promote`) on the CanaryGate; this command adds the right key to it, so nobody
has to spell the revision. Without `--step` or `--promote` it approves what the gate's
status says it waits for, and refuses (exit 2) when it waits for nothing: an approval given
blind would let a move through that nobody looked at.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from canarygate.cli.arguments import UsageError, whole_number
from canarygate.core.approval import APPROVE_ANNOTATION, PROMOTE, approvals_given
from canarygate.kube import Conflict, KubeError, NotFound, connect

ATTEMPTS = 5


def add_approve_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "approve",
        help="approve the step or promotion a CanaryGate waits for",
        description="Approve the move a gate waits for (status.approval), or a named one. "
        "Exit 0 once approved, 2 when there is nothing to approve or the gate is missing.",
    )
    parser.add_argument("gate", metavar="NAMESPACE/NAME")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--step", type=whole_number(1, 100, "percent"), metavar="N", help="approve the step to N%%"
    )
    which.add_argument("--promote", action="store_true", help="approve the promotion")
    parser.add_argument("--revision", help="the revision approved (default: the gate's)")
    parser.add_argument("--kubeconfig", metavar="PATH")


def run_approve(args: argparse.Namespace) -> int:
    namespace, slash, name = args.gate.partition("/")
    if not slash or not namespace or not name:
        raise UsageError(f"{args.gate!r}: name the gate as NAMESPACE/NAME")
    try:
        key = asyncio.run(_approve(args, namespace, name))
    except NotFound:
        raise UsageError(f"CanaryGate {namespace}/{name} not found") from None
    except KubeError as error:
        raise UsageError(str(error)) from None
    print(f"approved {key} on {namespace}/{name}")
    return 0


async def _approve(args: argparse.Namespace, namespace: str, name: str) -> str:
    async with connect(args.kubeconfig) as api:
        for _ in range(ATTEMPTS):
            gate = await api.get_gate(namespace, name)
            key = _key(args, gate)
            annotations = (gate.get("metadata") or {}).get("annotations") or {}
            given = approvals_given(annotations.get(APPROVE_ANNOTATION))
            if key in given:
                return key
            value = ",".join(sorted(given | {key}))
            try:
                await api.set_gate_annotations(
                    namespace,
                    name,
                    {APPROVE_ANNOTATION: value},
                    resource_version=str(gate["metadata"]["resourceVersion"]),
                )
            except Conflict:
                continue  # the gate changed meanwhile: read it again
            return key
    raise UsageError(f"CanaryGate {namespace}/{name} kept changing; try again")


def _key(args: argparse.Namespace, gate: dict[str, Any]) -> str:
    status = gate.get("status") or {}
    if args.step is None and not args.promote:
        waiting = (status.get("approval") or {}).get("key")
        if not waiting:
            raise UsageError("the gate waits for no approval; name one with --step N or --promote")
        return str(waiting)
    revision = args.revision or ((gate.get("spec") or {}).get("canary") or {}).get("revision")
    return f"{revision or '-'}/{PROMOTE if args.promote else args.step}"
