"""Reading manifests: kubectl's YAML, the limits a hostile file meets, and messages that say
where (source, line:column, document) and name each faulty field once."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from canarygate.api.loading import (
    MAX_MANIFEST_BYTES,
    ManifestError,
    UnreadableManifest,
    load_gates,
    parse_gate,
)
from canarygate.api.reading import MAX_DEPTH, YamlProblem, load_documents
from tests.fixtures.invalid_gates import EXAMPLE, TEXT_CASES, VALID_TEXTS, TextCase, edited


def write(tmp_path: Path, text: str | bytes, name: str = "gate.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def only_value(text: str) -> Any:
    (document,) = load_documents(text)
    return document.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15", "2026-01-15"),  # kubectl keeps timestamps as text
        ("2026-01-15T12:00:00Z", "2026-01-15T12:00:00Z"),
        ("1:30", "1:30"),  # no sexagesimal numbers
        ("1e3", 1000.0),
        ("1.0e3", 1000.0),
        ("-2.5E-1", -0.25),
        ("09", 9.0),
        ("0777", 511),
        ("0x1F", 31),
        ("1_000", 1000),
        ("y", True),
        ("yes", True),
        ("On", True),
        ("n", False),
        ("NO", False),
        ("off", False),
        ("~", None),
        ("null", None),
        ("=", "="),
        ("._", "._"),
        ('"99.9"', "99.9"),
        ("'yes'", "yes"),
    ],
)
def test_plain_scalars_read_as_kubectl_reads_them(text: str, expected: Any) -> None:
    assert only_value(f"a: {text}") == {"a": expected}


@pytest.mark.parametrize(("text", "sign"), [(".inf", 1), ("-.Inf", -1), ("+.INF", 1)])
def test_infinities_are_numbers_the_models_then_refuse(text: str, sign: int) -> None:
    assert only_value(f"a: {text}") == {"a": sign * math.inf}
    assert math.isnan(only_value("a: .nan")["a"])


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", (3, 1), "duplicate key 'a' (first at line 1)"),
        ("a: {b: 1, b: 2}\n", (1, 11), "duplicate key 'b'"),
        ("a: [1, 2\n", (2, 1), "not valid YAML: expected ',' or ']'"),
        ("a: 0x_\n", (0, 0), ""),  # not a number: a string, no error
        ("a: !!timestamp x\n", (1, 4), "cannot read this timestamp"),
        ("a: " + "9" * 5000 + "\n", (1, 4), "cannot read this int"),
        ("a: !!python/object:os.system x\n", (1, 4), "could not determine a constructor"),
        ("a: \x00\n", (1, 4), "character #x0000 is not allowed in YAML"),
        ("a: &x [*x]\n", (1, 4), "an alias refers to a node that contains it"),
    ],
)
def test_yaml_problems_say_where(text: str, where: tuple[int, int], message: str) -> None:
    if not message:
        assert only_value(text) == {"a": "0x_"}
        return
    with pytest.raises(YamlProblem) as raised:
        list(load_documents(text))
    assert (raised.value.line, raised.value.column) == where
    assert message in raised.value.message
    assert "\n" not in raised.value.message


def test_merge_keys_may_be_overridden_without_a_duplicate() -> None:
    assert only_value("base: &b {p: 1, q: 2}\nc: {<<: *b, q: 3}\n")["c"] == {"p": 1, "q": 3}


def test_keys_resolve_like_values_as_in_kubectl() -> None:
    assert only_value("y: 1\n'n': 2\n") == {True: 1, "n": 2}


def test_nesting_is_bounded_before_python_recursion_fails() -> None:
    for text in (
        "[" * 5000 + "]" * 5000,
        "a:\n" + "".join(f"{' ' * i}a:\n" for i in range(1, 300)),
    ):
        with pytest.raises(YamlProblem, match=f"deeper than {MAX_DEPTH} levels"):
            list(load_documents(text))
    assert only_value("[" * 50 + "]" * 50) is not None


def test_alias_bombs_are_refused_before_they_are_built() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(YamlProblem, match="aliases expand it past"):
        list(load_documents("\n".join(lines) + "\n"))
    # A few aliases are fine.
    assert only_value("a: &a [1, 2]\nb: [*a, *a]\n")["b"] == [[1, 2], [1, 2]]


def test_deep_alias_chains_are_refused() -> None:
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 150)]
    with pytest.raises(YamlProblem, match=f"{MAX_DEPTH} levels"):
        list(load_documents("\n".join(lines) + "\n"))


def test_documents_are_numbered_as_a_person_counts_them() -> None:
    documents = list(load_documents("a: 1\n---\n---\nb: 2\n"))
    numbered = [(d.number, d.line, d.value) for d in documents]
    assert numbered == [(1, 1, {"a": 1}), (2, 3, None), (3, 4, {"b": 2})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00binary", "gate.yaml: not UTF-8 text (byte 0xff at offset 0)"),
        (b"caf\xe9: 1", "gate.yaml: not UTF-8 text (byte 0xe9 at offset 3)"),
        (b"", "gate.yaml: holds no CanaryGate"),
        (b"---\n---\n", "gate.yaml: holds no CanaryGate"),
        (b"kind: List\nitems: 5\n", "gate.yaml: items: must be a list, got an integer"),
        (b"kind: List\nitems: [1]\n", "gate.yaml: items[0]: a CanaryGate must be a mapping"),
        (b"kind: List\nitems: []\n", "gate.yaml: holds no CanaryGate"),
        (b"- 1\n- 2\n", "gate.yaml: a CanaryGate must be a mapping, got a list"),
        (b"apiVersion: v1\nkind: ConfigMap\n", "apiVersion: expected canarygate.io/v1alpha1"),
    ],
)
def test_bad_files_are_one_manifest_error(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load_gates(write(tmp_path, content))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    cases = {
        tmp_path: "it is a directory",
        tmp_path / "absent.yaml": "No such file or directory",
        Path("/dev/zero"): f"larger than {MAX_MANIFEST_BYTES >> 20} MiB",
        write(tmp_path, b"#" * (MAX_MANIFEST_BYTES + 1), "big.yaml"): "larger than 4 MiB",
        Path("nul\x00byte.yaml"): "null byte",
    }
    for path, reason in cases.items():
        with pytest.raises(UnreadableManifest) as raised:
            load_gates(path)
        assert str(raised.value) == f"cannot read {path}: {raised.value.message}"
        assert reason in str(raised.value)


def test_a_manifest_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    padded = text + "#" * (MAX_MANIFEST_BYTES - len(text.encode()))
    assert [g.name for g in load_gates(write(tmp_path, padded))] == ["checkout-v2"]


def test_closed_or_replaced_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(UnreadableManifest, match="cannot read standard input: it is closed"):
        load_gates("-")
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(EXAMPLE.read_text()))
    assert [g.name for g in load_gates("-")] == ["checkout-v2"]


def test_an_error_in_the_second_document_names_it(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    broken = text.replace("objective: 99.9", "objective: 100.5")
    path = write(tmp_path, f"{text}---\n{broken}")
    with pytest.raises(ManifestError) as raised:
        load_gates(path)
    assert str(raised.value) == (
        f"{path} document 2: spec.journeys[0].objective: Input should be less than 100"
    )
    assert raised.value.document == 2


def test_an_error_in_a_list_item_names_the_item(tmp_path: Path) -> None:
    gate = yaml.safe_load(EXAMPLE.read_text())
    bad = {**gate, "metadata": {"name": "bad"}, "spec": {**gate["spec"], "journeys": []}}
    path = write(tmp_path, yaml.safe_dump({"kind": "List", "items": [gate, bad]}))
    with pytest.raises(ManifestError) as raised:
        load_gates(path)
    assert str(raised.value).startswith(f"{path}: items[1].spec.journeys: List should have")


def test_several_problems_name_each_field_once() -> None:
    gate = yaml.safe_load(EXAMPLE.read_text())
    gate["spec"]["journeys"][0]["objective"] = "99.9"
    gate["spec"]["canary"]["steps"] = ["5"]
    gate["spec"]["canary"]["interval"] = "300y"
    with pytest.raises(ManifestError) as raised:
        parse_gate(gate, source="gate.yaml")
    error = raised.value
    expected = (
        "spec.journeys[0].objective: must be a number, got a string; "
        "spec.canary.steps[0]: must be an integer, got a string; "
        "spec.canary.interval: must be between 1s and 24h, got 300y"
    )
    assert f"{error.field}: {error.message}" == expected
    assert str(error) == f"gate.yaml: {expected}"
    assert error.field == "spec.journeys[0].objective"


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.name)
def test_text_cases_are_refused(tmp_path: Path, case: TextCase) -> None:
    with pytest.raises(ManifestError) as raised:
        load_gates(write(tmp_path, edited(case.old, case.new)))
    assert case.message in str(raised.value)


@pytest.mark.parametrize(("name", "old", "new"), VALID_TEXTS, ids=[v[0] for v in VALID_TEXTS])
def test_valid_texts_are_accepted(tmp_path: Path, name: str, old: str, new: str) -> None:
    (gate,) = load_gates(write(tmp_path, edited(old, new)))
    assert gate.name == "checkout-v2", name
