"""The lab: everything that exercises canarygate for real but is not shipped with it.

A real Prometheus (started from Debian's package), synthetic metric histories, the traffic
simulator that closes the canary loop, gate builders and the demo. Tests, benchmarks and
`make demo` import from here; nothing in `canarygate` may (checked by import-linter).
"""
