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

# Segments (`segmentBy`): a segment is judged once it carries this share of a journey's events
# in some window, so three requests of a rare tenant cannot turn a gate red; a query answering
# more segments than the cap is refused (the Error outcome) rather than read in part.
MIN_SEGMENT_SHARE: Final = 0.01
MAX_SEGMENTS: Final = 20

# Success metrics: a canary this much worse than the baseline (relative) still counts as flat.
SUCCESS_MARGIN: Final = 0.01

# Freshness: a journey whose newest sample is older than this counts as silence. Prometheus'
# own lookback for an instant selector, so a scrape interval of up to a few minutes is fresh.
MAX_SAMPLE_AGE: Final = Duration(5 * 60_000)

# A freeze (red customer health) lifts once health stayed out of red this long (or is cleared).
FREEZE_COOLDOWN: Final = Duration(10 * 60_000)

# Prometheus connection: per-query deadline and retries after the first attempt.
QUERY_TIMEOUT: Final = Duration(10_000)
QUERY_RETRIES: Final = 2

# Proof of exposure: the canary's served share may differ from its route's weight by this much,
# relative to the weight (0.5: a route at 20 % proves exposure with 10 % to 30 % served).
EXPOSURE_TOLERANCE: Final = 0.5
