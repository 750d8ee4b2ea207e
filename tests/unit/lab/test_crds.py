"""Waiting for CRDs: a CRD the API server has not yet given conditions is "not yet", the
race that made `kubectl wait` fail in CI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lab import crds


def crd(name: str, conditions: list[dict[str, str]] | None) -> dict[str, Any]:
    status = {} if conditions is None else {"conditions": conditions}
    return {"kind": "CustomResourceDefinition", "metadata": {"name": name}, "status": status}


ESTABLISHED = [
    {"type": "NamesAccepted", "status": "True"},
    {"type": "Established", "status": "True"},
]


def test_a_crd_without_conditions_is_not_established() -> None:
    assert crds.not_established(crd("a.example.io", None)) == ["a.example.io"]
    assert crds.not_established(crd("a.example.io", [])) == ["a.example.io"]


def test_a_list_names_only_the_crds_still_waiting() -> None:
    listing = {
        "kind": "List",
        "items": [
            crd("a.example.io", ESTABLISHED),
            crd("b.example.io", [{"type": "Established", "status": "False"}]),
            crd("c.example.io", [{"type": "NamesAccepted", "status": "True"}]),
        ],
    }
    assert crds.not_established(listing) == ["b.example.io", "c.example.io"]


def test_waiting_polls_through_missing_conditions_and_kubectl_errors() -> None:
    answers: list[object] = [
        RuntimeError('crd "a.example.io" not found'),
        crd("a.example.io", None),
        crd("a.example.io", ESTABLISHED),
    ]
    calls: list[tuple[str, ...]] = []

    def run(*args: str) -> str:
        calls.append(args)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return json.dumps(answer)

    crds.wait_established(run, ["a.example.io"], timeout=5, interval=0)
    assert calls == [("get", "crd", "a.example.io", "--output=json")] * 3


def test_waiting_gives_up_naming_what_is_not_established() -> None:
    def run(*args: str) -> str:
        return json.dumps(crd("a.example.io", None))

    with pytest.raises(crds.CRDsNotEstablished, match=r"not established: a\.example\.io"):
        crds.wait_established(run, ["a.example.io"], timeout=0, interval=0)
