"""canarygate: gate canary releases on customer-journey SLOs, burn rates and release risk."""

__version__ = "0.1.0"
