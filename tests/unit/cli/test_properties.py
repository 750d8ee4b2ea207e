"""Property: whatever file `canarygate evaluate` is given, main() returns 0 or 2, never raises;
on 2 it prints exactly one printable `canarygate: ...` line on stderr and nothing on stdout;
on 0 a JSON decision. The files are mutations of examples/checkout-gate.yaml (values of
any type at any path, deleted and unknown keys, edits of its text) and random bytes or
YAML-ish text. Prometheus is unreachable (discard port, no retries), so runs stay fast."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canarygate.cli.main import main
from tests.fixtures.invalid_gates import EXAMPLE, example_gate

ARGS = ["--prometheus", "http://127.0.0.1:9", "--retries", "0", "-o", "json"]
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
Path_ = tuple[str | int, ...]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties") / "gate.yaml"


def check(path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["evaluate", "-f", str(path), *ARGS])
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert out.getvalue() == ""
        line, newline, rest = err.getvalue().partition("\n")
        assert (newline, rest) == ("\n", ""), err.getvalue()
        assert line.startswith("canarygate: ")
        assert line.isprintable()
        assert "internal error" not in line
    else:
        assert err.getvalue() == ""
        decisions = json.loads(out.getvalue())
        for decision in decisions if isinstance(decisions, list) else [decisions]:
            assert decision["action"] == "hold"  # silence never advances


def paths_in(node: Any, prefix: Path_ = ()) -> list[Path_]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths_in(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths_in(child, (*prefix, index))
    return found


EXAMPLE_DOCUMENT = example_gate()
PATHS = [p for p in paths_in(EXAMPLE_DOCUMENT) if p]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["99.9", "yes", "5", "1m", "300y", "0s", "2026-01-15", "http://[::1", ""]),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
mutation = st.tuples(st.sampled_from(PATHS), st.sampled_from(["set", "delete", "add"]), values)


def mutated(mutations: list[tuple[Path_, str, Any]]) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE_DOCUMENT)
    for path, action, value in mutations:
        parent: Any = document
        for part in path[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = path[-1]
            if action == "delete" and isinstance(parent, dict):
                parent.pop(last, None)
            elif action == "add" and isinstance(parent, dict):
                parent[f"{last}Typo"] = value
            elif isinstance(parent, (dict, list)):
                with contextlib.suppress(IndexError, TypeError):
                    parent[last] = value
    return document


@SETTINGS
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_gates(manifest: Path, mutations: list[tuple[Path_, str, Any]]) -> None:
    manifest.write_text(yaml.safe_dump(mutated(mutations), allow_unicode=True))
    check(manifest)


@SETTINGS
@given(
    position=st.floats(min_value=0, max_value=1),
    cut=st.integers(min_value=0, max_value=20),
    insert=st.text(
        alphabet=st.sampled_from(list("-:[]{}&*!|>'\"%@#,? \n\t\x00\x1bay0.~")), max_size=12
    ),
)
def test_edited_texts(manifest: Path, position: float, cut: int, insert: str) -> None:
    text = EXAMPLE.read_text()
    at = int(position * len(text))
    manifest.write_text(text[:at] + insert + text[at + cut :])
    check(manifest)


@SETTINGS
@given(content=st.binary(max_size=400))
def test_random_bytes(manifest: Path, content: bytes) -> None:
    manifest.write_bytes(content)
    check(manifest)


@SETTINGS
@given(text=st.text(max_size=300))
def test_random_text(manifest: Path, text: str) -> None:
    manifest.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(manifest)


def test_the_property_can_fail(manifest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: an exception escaping as a second stderr line is caught by `check`."""

    def two_lines(*_: object) -> None:
        raise RuntimeError("first\nsecond")

    monkeypatch.setattr("canarygate.cli.main.load_gates", two_lines)
    monkeypatch.delenv("CANARYGATE_DEBUG", raising=False)
    manifest.write_text(EXAMPLE.read_text())
    with pytest.raises(AssertionError):
        check(manifest)
