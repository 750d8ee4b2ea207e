"""Wait for CustomResourceDefinitions to be established, by polling their conditions.

`kubectl wait --for=condition=Established` fails at once, instead of waiting, when it reads a
CRD the API server has stored but not yet given any status (`.status.conditions accessor
error: <nil>`): a race on every freshly applied CRD, which failed CI once. Reading the
conditions ourselves treats "no conditions yet" as "not yet"."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

#: Runs kubectl with these arguments and returns its stdout; raises on failure.
RunKubectl = Callable[..., str]


class CRDsNotEstablished(RuntimeError):
    """The CRDs did not all report Established=True in time."""


def not_established(document: dict[str, Any]) -> list[str]:
    """The names in a `kubectl get crd ... -o json` answer (one object or a List) whose
    Established condition is not True."""
    items = document.get("items") if document.get("kind") == "List" else [document]
    waiting = []
    for item in items or []:
        conditions = (item.get("status") or {}).get("conditions") or []
        if not any(
            c.get("type") == "Established" and c.get("status") == "True" for c in conditions
        ):
            waiting.append(str((item.get("metadata") or {}).get("name", "?")))
    return waiting


def wait_established(
    run: RunKubectl, names: Iterable[str], *, timeout: float = 120.0, interval: float = 0.5
) -> None:
    """Poll until every named CRD is Established; CRDsNotEstablished naming the laggards, or
    the last kubectl error, after `timeout` seconds."""
    wanted = list(names)
    deadline = time.monotonic() + timeout
    while True:
        try:
            waiting = not_established(json.loads(run("get", "crd", *wanted, "--output=json")))
        except Exception as error:  # a CRD not yet visible is "not yet", like no conditions
            waiting, last = wanted, f"{error}"
        else:
            last = f"not established: {', '.join(waiting)}"
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise CRDsNotEstablished(f"CRDs not established within {timeout:.0f}s; {last}")
        time.sleep(interval)
