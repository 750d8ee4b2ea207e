"""The fixture Prometheus: synthetic histories (histories.py) as TSDB blocks, served by a
real Prometheus. Blocks are built once per version of the histories and cached outside
the repository; each run serves a private copy, so runs never share a writable TSDB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lab import histories
from lab.prometheus import PrometheusUnavailable, RunningPrometheus, start_prometheus

CACHE_ROOT = Path(os.environ.get("CANARYGATE_CACHE", Path.home() / ".cache" / "canarygate"))


def fixture_blocks() -> Path:
    """Directory of TSDB blocks for the current histories, built with promtool if missing."""
    target = CACHE_ROOT / "fixtures" / f"history-{histories.fingerprint()}"
    if target.is_dir():
        return target
    promtool = shutil.which("promtool")
    if promtool is None:
        raise PrometheusUnavailable("promtool is not on PATH; apt-get install -y prometheus")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        source = histories.write_openmetrics(Path(scratch) / "history.om")
        blocks = Path(scratch) / "blocks"
        # One block per ~month instead of one per 2 h: 1 s instead of a minute to build.
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
             "--max-block-duration=768h", str(source), str(blocks)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        # Atomic publish: a concurrent builder either wins the rename or reuses the winner.
        try:
            blocks.rename(target)
        except OSError:
            if not target.is_dir():
                raise
    return target


def start_fixture_prometheus() -> RunningPrometheus:
    """A Prometheus serving a private copy of the fixture blocks. Stop it when done."""
    blocks = fixture_blocks()
    data = Path(tempfile.mkdtemp(prefix="canarygate-fixture-"))
    shutil.copytree(blocks, data, dirs_exist_ok=True)
    return start_prometheus(data_dir=data, own_data_dir=True)
