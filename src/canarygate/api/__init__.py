"""The CanaryGate API: pydantic models mirroring the CRD, loading and conversion to core types."""

from canarygate.api.converting import to_gate_spec, to_gate_state
from canarygate.api.loading import load_gates, parse_gate
from canarygate.api.v1alpha1 import API_GROUP, API_VERSION, KIND, PLURAL, CanaryGate

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "KIND",
    "PLURAL",
    "CanaryGate",
    "load_gates",
    "parse_gate",
    "to_gate_spec",
    "to_gate_state",
]
