"""The alerting rules docs/operations.md recommends are valid Prometheus rules: promtool (from
Debian's prometheus package, which the integration suite already needs) checks them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_the_recommended_alerts_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not on PATH: scripts/install-prerequisites installs it"
    text = PAGE.read_text()
    section = text[text.index("## Alerts to set on the operator") :]
    [rules] = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)[:1]
    groups = yaml.safe_load(rules)["groups"]
    assert len(groups[0]["rules"]) >= 6
    path = tmp_path / "canarygate-alerts.yaml"
    path.write_text(rules)
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(groups[0]['rules'])} rules found" in checked.stdout
