"""The operator: canarygate's own informer and scheduler on kopf's runtime.

The only package that imports kopf. `run(RunSettings)` is what `canarygate run` calls.
"""

from canarygate.operator.running import RunSettings, run

__all__ = ["RunSettings", "run"]
