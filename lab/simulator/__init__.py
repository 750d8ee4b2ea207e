"""A synthetic-traffic process that closes the canary loop in tests and the demo.

It serves journey metrics on /metrics (requests by journey, version and code; latency
histograms), generating a fixed request rate that it splits between stable and canary by
the live weight of a traffic object (HTTPRoute, VirtualService, NGINX canary Ingress, or the
replica ratio of two Deployments), read by canarygate's own `canarygate.traffic` backends.
Canary faults are switched at run time via /faults.

    python -m lab.simulator --provider gatewayAPI --namespace shop \\
        --object checkout --stable checkout-stable --canary checkout-canary
"""

from lab.simulator.faults import Faults
from lab.simulator.generating import Simulator, SimulatorConfig
from lab.simulator.splitting import CarrySplitter

__all__ = [
    "CarrySplitter",
    "Faults",
    "Simulator",
    "SimulatorConfig",
]
