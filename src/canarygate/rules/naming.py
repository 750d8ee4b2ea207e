"""Sloth-compatible names, so that dashboards and alerts made for Sloth's rules read ours, and a
gate can read Sloth's rules (`sli.recorded`): `slo:sli_error:ratio_rate<window>` with the
labels `sloth_id`, `sloth_service`, `sloth_slo` and `sloth_window`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from canarygate.core.durations import Duration

ERROR_RATIO = "slo:sli_error:ratio_rate"
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class SloIdentity:
    """Which SLO a journey's rules record: Sloth's service and SLO names."""

    service: str
    slo: str

    @property
    def id(self) -> str:
        return f"{self.service}-{self.slo}"

    @property
    def labels(self) -> dict[str, str]:
        return {"sloth_id": self.id, "sloth_service": self.service, "sloth_slo": self.slo}

    @property
    def matchers(self) -> str:
        """`{sloth_id="shop-checkout", sloth_service="shop", sloth_slo="checkout"}`."""
        return "{" + ", ".join(f'{k}="{v}"' for k, v in self.labels.items()) + "}"

    def ratio(self, window: Duration) -> str:
        """The recorded error ratio over `window`, as a selector."""
        return f"{ERROR_RATIO}{window}{self.matchers}"

    @property
    def recorded_template(self) -> str:
        """What a gate's `sli.recorded` says to read these rules."""
        return f'{ERROR_RATIO}{{{{window}}}}{{sloth_id="{self.id}"}}'

    @property
    def alert_name(self) -> str:
        words = _NOT_IN_NAME.split(f"{self.service} {self.slo}")
        return "".join(w[:1].upper() + w[1:] for w in words if w) + "ErrorBudgetBurn"
