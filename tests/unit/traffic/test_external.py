"""The judge-only provider: nothing to read, nothing ever written, and no weight claimed."""

from __future__ import annotations

import pytest

from canarygate.traffic import CheckOutcome, ExternalBackend, WeightUnavailable


def test_the_external_backend_reads_and_writes_nothing() -> None:
    backend = ExternalBackend("shop")
    assert backend.provider == "external"
    assert backend.targets() == ()
    assert backend.apply_weight({}, 50) == ()
    assert backend.restore({}, {"anything": 1}) == ()
    assert backend.snapshot({}) == {}
    # Silence about the routing is never "at the weight".
    assert backend.check_weight({}, 0).outcome is CheckOutcome.CANNOT_TELL
    with pytest.raises(WeightUnavailable, match="callers report"):
        backend.read_weight({})
