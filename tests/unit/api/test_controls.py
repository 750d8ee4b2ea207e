"""Manual controls as annotation values: written by the CLI, read by the operator."""

from __future__ import annotations

import pytest

from canarygate.api.controls import control_value, controls_of, parse_control
from canarygate.core.controls import Control, ControlKind


def test_a_value_written_by_the_cli_reads_back_as_the_same_control() -> None:
    value = control_value(
        ControlKind.PROMOTE, "v2", by="alice", reason="hotfix verified", at="2026-01-15T12:00:00Z"
    )
    assert value == (
        '{"revision":"v2","by":"alice","reason":"hotfix verified","at":"2026-01-15T12:00:00Z"}'
    )
    assert parse_control(ControlKind.PROMOTE, value) == Control(
        ControlKind.PROMOTE, "v2", by="alice", reason="hotfix verified", at="2026-01-15T12:00:00Z"
    )


def test_a_clearance_names_the_red_episode() -> None:
    value = control_value(
        ControlKind.CLEAR_FREEZE, "2026-01-15T10:02:00Z", by="bob", reason=None, at="x"
    )
    assert value.startswith('{"redSince":"2026-01-15T10:02:00Z"')
    assert parse_control(ControlKind.CLEAR_FREEZE, value).target == "2026-01-15T10:02:00Z"


def test_a_bare_value_names_the_revision() -> None:
    assert parse_control(ControlKind.PAUSE, " v2 ") == Control(ControlKind.PAUSE, "v2")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "names no revision"),
        ("v2 v3", "names no revision"),
        ("{not json", "neither JSON nor a bare name"),
        ('{"revision":["v2"]}', "names no revision"),
        ('{"by":"alice"}', "names no revision"),
        ('{"revision":"v2","by":7}', "by must be text"),
    ],
)
def test_an_unreadable_value_is_a_control_with_a_problem(value: str, problem: str) -> None:
    control = parse_control(ControlKind.PAUSE, value)
    assert control.problem is not None
    assert problem in control.problem


def test_every_control_annotation_of_a_gate_is_read_in_order() -> None:
    metadata = {
        "annotations": {
            "canarygate.io/abort": "v2",
            "canarygate.io/pause": '{"revision":"v1"}',
            "canarygate.io/approve": "v2/25",
            "unrelated": "x",
        }
    }
    assert [(c.kind, c.target) for c in controls_of(metadata)] == [
        (ControlKind.PAUSE, "v1"),
        (ControlKind.ABORT, "v2"),
    ]
    assert controls_of({}) == ()


def test_long_texts_are_clipped() -> None:
    control = parse_control(ControlKind.PAUSE, '{"revision":"v2","reason":"' + "x" * 5000 + '"}')
    assert control.reason is not None
    assert len(control.reason) == 1024
