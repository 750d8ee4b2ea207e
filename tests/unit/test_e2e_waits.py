"""The end-to-end tests' wait: what counts as an answer (the harness is code too)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import arrived, wait_until


@pytest.mark.parametrize("value", [None, False, [], "", {}, (), set(), b""])
def test_nothing_yet_is_not_an_answer(value: object) -> None:
    assert not arrived(value)


@pytest.mark.parametrize("value", [0, 0.0, True, [0], "x", {"a": 1}, object()])
def test_zero_and_anything_with_content_are_answers(value: object) -> None:
    assert arrived(value)


def test_wait_until_waits_past_an_empty_list() -> None:
    answers = iter([[], [], ["first version"]])
    assert wait_until("a watch to list", lambda: next(answers), timeout=5, interval=0) == [
        "first version"
    ]
