"""The errors a traffic backend raises, all under core's ActuatorError:

    ActuatorError                 (canarygate.core.errors)
    ├── TargetMissing             an object the backend needs does not exist
    ├── TargetInvalid             the object exists but canarygate cannot manage it as configured
    ├── WeightUnavailable         the objects do not determine a canary weight right now
    └── SnapshotInvalid           a saved routing snapshot is not one this backend wrote

Messages are for the user: they name the object and say what to change. A weight the
objects do not state is an error, never 0 %: silence must not look like "no canary traffic".
"""

from __future__ import annotations

from canarygate.core.errors import ActuatorError


class TargetMissing(ActuatorError):
    """An object named in `spec.canary.traffic` is absent (the API answered 404)."""


class TargetInvalid(ActuatorError):
    """The object exists but does not have the shape the backend needs (no rule routing to
    both backends, a backend named twice, an unparsable annotation it must rewrite...)."""


class WeightUnavailable(ActuatorError):
    """The objects do not say what share the canary gets (malformed or all-zero weights,
    rules that disagree, no ready pods). Callers must not read it as 0 %."""


class SnapshotInvalid(ActuatorError):
    """A snapshot handed to `restore` was not written by this backend (edited status, or the
    gate switched provider mid-rollout); restoring from it could break routing."""
