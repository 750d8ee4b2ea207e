"""Every default of a gate, defined once.

The CRD's `default:` values, the pydantic models and the core's dataclasses all read these
(the CRD through tests/unit/api/test_crd_drift.py, which fails when its YAML disagrees).
"""

from __future__ import annotations

from typing import Final

from canarygate.core.durations import Duration

COMPLIANCE_WINDOW: Final = Duration(30 * 86_400_000)
INTERVAL: Final = Duration(60_000)
GUARDED_PASSES: Final = 2
FAILURE_LIMIT: Final = 1
JOURNEY_WEIGHT: Final = 1.0

# Prometheus connection: per-query deadline and retries after the first attempt.
QUERY_TIMEOUT: Final = Duration(10_000)
QUERY_RETRIES: Final = 2
