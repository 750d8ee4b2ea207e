"""The CRD YAML is the source of truth; the pydantic models must describe the same schema.

Both sides are reduced to one canonical form (types, properties, required, enums, bounds,
patterns, scalar defaults) and compared. Descriptions are not compared. CEL rules are
exercised from the shared fixtures (test_invalid_specs.py here, the API server in
tests/e2e); the duration bounds' rules are also compared here, as text generated from the
models' bounds, and so are the messages of the first-step and segment rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from canarygate.api.fields import (
    BURN_WINDOW_BOUNDS,
    COMPLIANCE_WINDOW_BOUNDS,
    EXPOSURE_WINDOW_BOUNDS,
    FREEZE_COOLDOWN_BOUNDS,
    INTERVAL_BOUNDS,
    SAMPLE_AGE_BOUNDS,
    TIMEOUT_BOUNDS,
    WEBHOOK_TIMEOUT_BOUNDS,
    DurationBounds,
)
from canarygate.api.v1alpha1 import (
    CHECK_BOUNDS_MESSAGE,
    CHECK_KIND_MESSAGE,
    CHECK_ORDER_MESSAGE,
    EXTERNAL_APPROVAL_MESSAGE,
    FIRST_STEP_MESSAGE,
    GUARDRAIL_LABELS_MESSAGE,
    GUARDRAIL_SEGMENTS_MESSAGE,
    HOTFIX_INCIDENT_MESSAGE,
    INCIDENT_HOTFIX_MESSAGE,
    JOURNEY_LABELS_MESSAGE,
    JOURNEY_RECORDED_MESSAGE,
    JOURNEY_SEGMENTS_MESSAGE,
    RULE_CONDITIONS_MESSAGE,
    RULE_JOURNEYS_MESSAGE,
    RULE_PRESET_MESSAGE,
    WINDOW_DATES_MESSAGE,
    WINDOW_DAYS_MESSAGE,
    WINDOW_SPAN_MESSAGE,
    CanaryGate,
)
from canarygate.core.durations import DURATION_PATTERN
from canarygate.core.presets import PRESETS

ROOT = Path(__file__).resolve().parents[3]
CRD_PATH = ROOT / "crds" / "canarygate.io_canarygates.yaml"
Node = dict[str, Any]


def crd_schema() -> Node:
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = crd["spec"]["versions"]
    schema: Node = version["schema"]["openAPIV3Schema"]
    return schema


def _bounds(node: Node, out: Node) -> None:
    for key in ("minLength", "maxLength", "pattern", "minItems", "maxItems", "maxProperties"):
        if key in node:
            out[key] = node[key]


def canonical_crd(node: Node) -> Node:
    kind = node.get("type")
    out: Node = {"type": kind}
    if kind == "object" and "properties" in node:
        out["properties"] = {k: canonical_crd(v) for k, v in node["properties"].items()}
        out["required"] = sorted(node.get("required", []))
    elif kind == "object" and "additionalProperties" in node:
        out = {"type": "map", "values": canonical_crd(node["additionalProperties"])}
    elif kind == "array":
        out["items"] = canonical_crd(node["items"])
    for key in ("minimum", "maximum"):
        if key in node:
            exclusive = node.get("exclusive" + key[0].upper() + key[1:], False)
            out[key] = (float(node[key]), bool(exclusive))
    if "enum" in node:
        out["enum"] = sorted(node["enum"])
    if node.get("format") == "date-time":
        out["format"] = "date-time"
    if "default" in node and not isinstance(node["default"], dict):
        out["default"] = node["default"]
    _bounds(node, out)
    return out


def canonical_pydantic(node: Node, defs: Node) -> Node:
    if "$ref" in node:
        target = defs[node["$ref"].split("/")[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return canonical_pydantic(merged, defs)
    if "anyOf" in node:
        (only,) = [option for option in node["anyOf"] if option.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return canonical_pydantic({**only, **rest}, defs)
    kind = node.get("type")
    if "enum" in node or "const" in node:
        kind = "string"
    out: Node = {"type": kind}
    if kind == "object" and "properties" in node:
        out["properties"] = {k: canonical_pydantic(v, defs) for k, v in node["properties"].items()}
        out["required"] = sorted(node.get("required", []))
    elif kind == "object" and isinstance(node.get("additionalProperties"), dict):
        out = {"type": "map", "values": canonical_pydantic(node["additionalProperties"], defs)}
    elif kind == "array":
        out["items"] = canonical_pydantic(node["items"], defs)
    for key in ("minimum", "maximum"):
        exclusive_key = "exclusive" + key[0].upper() + key[1:]
        if key in node:
            out[key] = (float(node[key]), False)
        elif exclusive_key in node:
            out[key] = (float(node[exclusive_key]), True)
    if "enum" in node:
        out["enum"] = sorted(node["enum"])
    if node.get("format") == "date-time":
        out["format"] = "date-time"
    if "default" in node and node["default"] is not None and not isinstance(node["default"], dict):
        out["default"] = node["default"]
    _bounds(node, out)
    return out


def pydantic_schema() -> Node:
    schema = CanaryGate.model_json_schema(by_alias=True, mode="validation")
    return canonical_pydantic(schema, schema.get("$defs", {}))


def differences(left: Node, right: Node, path: str = "") -> list[str]:
    found: list[str] = []
    for key in sorted(set(left) | set(right)):
        here = f"{path}.{key}" if path else key
        if key not in left or key not in right:
            found.append(f"{here}: only in {'CRD' if key in left else 'pydantic'}")
        elif isinstance(left[key], dict) and isinstance(right[key], dict):
            found.extend(differences(left[key], right[key], here))
        elif left[key] != right[key]:
            found.append(f"{here}: CRD {left[key]!r} != pydantic {right[key]!r}")
    return found


def _without_kubernetes_fields(side: Node) -> Node:
    """apiVersion, kind and metadata are Kubernetes' own: the CRD leaves them open, and the
    API server checks metadata itself (the models repeat its name checks)."""
    for key in ("apiVersion", "kind", "metadata"):
        side["properties"].pop(key)
    side["required"] = [key for key in side["required"] if key != "metadata"]
    return side


def test_models_and_crd_describe_the_same_schema() -> None:
    crd = _without_kubernetes_fields(canonical_crd(crd_schema()))
    model = _without_kubernetes_fields(pydantic_schema())
    assert differences(crd, model) == []


def test_drift_is_detected() -> None:
    """The comparison is not vacuous: a changed bound, enum or field shows up."""
    crd = canonical_crd(crd_schema())
    journeys = crd["properties"]["spec"]["properties"]["journeys"]["items"]["properties"]
    journeys["objective"]["maximum"] = (99.0, True)
    journeys["renamed"] = journeys.pop("weight")
    found = differences(
        _without_kubernetes_fields(crd), _without_kubernetes_fields(pydantic_schema())
    )
    assert any("objective.maximum" in d for d in found)
    assert any("renamed" in d for d in found)
    assert any(d.endswith("weight: only in pydantic") for d in found)


@pytest.mark.parametrize("column", ["Health", "Risk", "Action", "Weight", "Age"], ids=str)
def test_printer_columns_and_short_name(column: str) -> None:
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = crd["spec"]["versions"]
    assert column in [c["name"] for c in version["additionalPrinterColumns"]]
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["names"]["shortNames"]


SCHEMA_KEYWORDS = {
    "type", "description", "properties", "required", "items", "enum", "default", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "maxProperties", "pattern", "nullable", "additionalProperties",
    "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
}  # fmt: skip
PRINTER_COLUMN_KEYS = {"name", "type", "jsonPath", "description", "priority", "format"}


def _unknown_keywords(node: Node, path: str) -> list[str]:
    found = [f"{path}: {key}" for key in node if key not in SCHEMA_KEYWORDS]
    for name, child in node.get("properties", {}).items():
        found += _unknown_keywords(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += _unknown_keywords(node[key], f"{path}[]")
    return found


def test_crd_uses_only_known_keywords() -> None:
    """A YAML slip (an unquoted comma in a flow map) must not smuggle in keys the API
    server refuses; this catches it without a cluster."""
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = crd["spec"]["versions"]
    assert _unknown_keywords(crd_schema(), "openAPIV3Schema") == []
    for column in version["additionalPrinterColumns"]:
        assert set(column) <= PRINTER_COLUMN_KEYS, column


# Durations are bounded by a CEL rule on each duration field (the schema cannot compare
# durations); the rule's text is generated from the same bounds the models use.
DURATION_FIELDS: dict[str, DurationBounds] = {
    "spec.prometheus.timeout": TIMEOUT_BOUNDS,
    "spec.journeys[].window": COMPLIANCE_WINDOW_BOUNDS,
    "spec.health.red.burnRates[].long": BURN_WINDOW_BOUNDS,
    "spec.health.red.burnRates[].short": BURN_WINDOW_BOUNDS,
    "spec.health.yellow.burnRates[].long": BURN_WINDOW_BOUNDS,
    "spec.health.yellow.burnRates[].short": BURN_WINDOW_BOUNDS,
    "spec.health.rules[].burnRates[].window": BURN_WINDOW_BOUNDS,
    "spec.canary.interval": INTERVAL_BOUNDS,
    "spec.health.maxSampleAge": SAMPLE_AGE_BOUNDS,
    "spec.canary.checks[].webhook.timeout": WEBHOOK_TIMEOUT_BOUNDS,
    "spec.policy.freezeCooldown": FREEZE_COOLDOWN_BOUNDS,
    "spec.canary.exposure.window": EXPOSURE_WINDOW_BOUNDS,
}
_UNIT_FACTORS = (
    ("ms", "1.0"), ("s", "1000.0"), ("m", "60000.0"), ("h", "3600000.0"),
    ("d", "86400000.0"), ("w", "604800000.0"),
)  # fmt: skip


def duration_rule(bounds: DurationBounds) -> str:
    """Sum each `<count><unit>` part of the text in milliseconds (doubles: a 30-digit count
    must not overflow), then compare; `[x].all(ms, ...)` names the sum without cel.bind."""
    factor = " : ".join(f"p.endsWith('{unit}') ? {ms}" for unit, ms in _UNIT_FACTORS)
    total = (
        "self.findAll('[0-9]+(ms|s|m|h|d|w|y)')"
        f".map(p, double(p.findAll('[0-9]+')[0]) * ({factor} : 31536000000.0)).sum()"
    )
    shortest, longest = bounds.range
    return (
        f"[{total}].all(ms, ms >= {float(shortest.milliseconds)!r} "
        f"&& ms <= {float(longest.milliseconds)!r})"
    )


def _walk(node: Node, path: str = "") -> list[tuple[str, Node]]:
    found = [(path, node)]
    for name, child in node.get("properties", {}).items():
        found += _walk(child, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        found += _walk(node["items"], f"{path}[]")
    return found


def test_every_duration_field_is_bounded_like_the_models() -> None:
    durations = {p: n for p, n in _walk(crd_schema()) if n.get("pattern") == DURATION_PATTERN}
    assert sorted(durations) == sorted(DURATION_FIELDS)
    for path, node in durations.items():
        bounds = DURATION_FIELDS[path]
        expected = {"rule": duration_rule(bounds), "message": bounds.message}
        assert node.get("x-kubernetes-validations") == [expected], path


def test_duration_rule_reads_the_bounds() -> None:
    """The generated rule is not a constant: other bounds give another rule."""
    rule = duration_rule(INTERVAL_BOUNDS)
    assert "ms >= 1000.0 && ms <= 86400000.0" in rule
    assert rule != duration_rule(COMPLIANCE_WINDOW_BOUNDS)


def test_the_canary_rules_have_the_models_messages() -> None:
    canary = crd_schema()["properties"]["spec"]["properties"]["canary"]
    messages = [rule["message"] for rule in canary["x-kubernetes-validations"]]
    assert messages == [EXTERNAL_APPROVAL_MESSAGE, FIRST_STEP_MESSAGE]


def test_segment_rules_have_the_models_messages() -> None:
    spec = crd_schema()["properties"]["spec"]["properties"]
    journey = spec["journeys"]["items"]["x-kubernetes-validations"]
    guardrail = spec["canary"]["properties"]["guardrails"]["items"]["x-kubernetes-validations"]
    assert [r["message"] for r in journey] == [
        JOURNEY_SEGMENTS_MESSAGE,
        JOURNEY_LABELS_MESSAGE,
        JOURNEY_RECORDED_MESSAGE,
    ]
    messages = [r["message"] for r in guardrail]
    assert GUARDRAIL_SEGMENTS_MESSAGE in messages
    assert GUARDRAIL_LABELS_MESSAGE in messages


def test_the_schemas_bound_the_segments_a_gate_names() -> None:
    """maxProperties is compared like any bound: the models' dict limit is in the CRD."""
    crd = canonical_crd(crd_schema())
    segments = crd["properties"]["spec"]["properties"]["journeys"]["items"]["properties"]
    assert segments["segments"]["maxProperties"] == 100


def test_hotfix_and_check_rules_have_the_models_messages() -> None:
    spec = crd_schema()["properties"]["spec"]["properties"]
    factors = spec["risk"]["properties"]["factors"]["x-kubernetes-validations"]
    assert [r["message"] for r in factors] == [HOTFIX_INCIDENT_MESSAGE, INCIDENT_HOTFIX_MESSAGE]
    check = spec["canary"]["properties"]["checks"]["items"]
    assert [r["message"] for r in check["x-kubernetes-validations"]] == [CHECK_KIND_MESSAGE]
    query = check["properties"]["prometheus"]["x-kubernetes-validations"]
    assert [r["message"] for r in query][:2] == [CHECK_BOUNDS_MESSAGE, CHECK_ORDER_MESSAGE]


def test_health_rules_have_the_models_messages_and_presets() -> None:
    spec = crd_schema()["properties"]["spec"]
    rules = spec["properties"]["health"]["properties"]["rules"]["items"]
    assert [r["message"] for r in rules["x-kubernetes-validations"]] == [
        RULE_PRESET_MESSAGE,
        RULE_CONDITIONS_MESSAGE,
    ]
    assert [r["message"] for r in spec["x-kubernetes-validations"]] == [RULE_JOURNEYS_MESSAGE]
    # The presets the schema offers are the ones the core defines.
    assert sorted(rules["properties"]["preset"]["enum"]) == sorted(PRESETS)


def test_window_rules_have_the_models_messages() -> None:
    policy = crd_schema()["properties"]["spec"]["properties"]["policy"]["properties"]
    window = policy["windows"]["items"]
    assert [r["message"] for r in window["x-kubernetes-validations"]] == [
        WINDOW_DAYS_MESSAGE,
        WINDOW_SPAN_MESSAGE,
    ]
    dates = window["properties"]["dates"]["x-kubernetes-validations"]
    assert [r["message"] for r in dates] == [WINDOW_DATES_MESSAGE]


def test_the_exposure_tolerance_is_bounded_by_cel_too() -> None:
    """The API server compares an integer tolerance (`0`) with whole bounds only; the CEL rule
    states the models' bounds."""
    canary = crd_schema()["properties"]["spec"]["properties"]["canary"]["properties"]
    rules = [r["rule"] for r in canary["exposure"]["x-kubernetes-validations"]]
    schema = pydantic_schema()["properties"]["spec"]["properties"]["canary"]["properties"]
    bounds = schema["exposure"]["properties"]["tolerance"]
    low, high = bounds["minimum"][0], bounds["maximum"][0]
    assert f"self.tolerance >= {low:g} && self.tolerance <= {high:g}" in rules
