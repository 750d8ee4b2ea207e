"""SLO rules for a gate's journeys, Sloth-compatible: recording rules (error ratio per window,
burn rates, remaining budget) and multi-window burn-rate alerts (page and ticket), so the
alert that pages a human and the gate that freezes a rollout read the same numbers, and a gate
can read the recorded series instead of its raw queries (`sli.recorded`).

naming.py     Sloth's record names and labels; the `sli.recorded` a gate uses to read them
recording.py  the error ratio per window, and the meta rules
alerting.py   page (the red burn rules) and ticket (the yellow ones)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from canarygate.core.errors import SpecError
from canarygate.core.queries import journey_windows
from canarygate.core.specs import GateSpec
from canarygate.metrics.packing import is_self_contained
from canarygate.rules.alerting import alert_group
from canarygate.rules.naming import SloIdentity
from canarygate.rules.recording import meta_recordings, sli_recordings

__all__ = ["JourneyRules", "SloIdentity", "journey_rules", "rule_file"]


@dataclass(frozen=True)
class JourneyRules:
    journey: str
    identity: SloIdentity
    groups: tuple[dict[str, Any], ...]
    # Judged per segment by the gate; recorded over all of its traffic (the sum of its
    # segments), which `sli.recorded` cannot stand in for.
    segmented: bool = False


def journey_rules(spec: GateSpec, service: str) -> tuple[JourneyRules, ...]:
    """The rule groups of every journey of one gate, named `<service>-<journey>`."""
    found: list[JourneyRules] = []
    for index, journey in enumerate(spec.journeys):
        for role, query in (("good", journey.sli.good), ("total", journey.sli.total)):
            if not is_self_contained(query):
                raise SpecError(
                    f"spec.journeys[{index}].sli.{role}",
                    "is not one self-contained PromQL expression (unbalanced brackets, an "
                    "open string or a top-level comma); it cannot be recorded in a rule",
                )
        identity = SloIdentity(service, journey.name)
        windows = journey_windows(journey, spec)
        groups = [
            sli_recordings(journey, identity, windows, spec.canary.interval),
            meta_recordings(journey, identity, windows[0]),
        ]
        alerts = alert_group(
            journey, identity, spec.health.red.burn_rates, spec.health.yellow.burn_rates
        )
        if alerts is not None:
            groups.append(alerts)
        found.append(
            JourneyRules(journey.name, identity, tuple(groups), journey.segments is not None)
        )
    return tuple(found)


class ConflictingRules(SpecError):
    """Two gates record different SLIs under one name."""


def rule_file(gates: Sequence[tuple[str, tuple[JourneyRules, ...]]]) -> dict[str, Any]:
    """One Prometheus rule file for several gates; a journey several gates share is written
    once, and the same name recording two different SLIs is refused."""
    groups: dict[str, dict[str, Any]] = {}
    owners: dict[str, str] = {}
    for gate, rules in gates:
        for journey in rules:
            for group in journey.groups:
                name = group["name"]
                if name in groups and groups[name] != group:
                    raise ConflictingRules(
                        "spec.journeys",
                        f"gates {owners[name]} and {gate} both record journey {journey.journey} "
                        f"as sloth_id {journey.identity.id}, differently; give them different "
                        "--service names",
                    )
                groups.setdefault(name, group)
                owners.setdefault(name, gate)
    return {"groups": list(groups.values())}
