"""The wheel as a user installs it: built from this tree, turned into a wheelhouse with its
runtime dependencies (the Dockerfile's build stage), and installed from that wheelhouse alone
into a fresh virtualenv with no dev extras (the Dockerfile's final stage: `--no-index`). The
installed command then answers `--version`, `--help`, `python -m canarygate`, and evaluates an
example gate against the real fixture Prometheus.

Building needs the package index once (setuptools for the isolated build, the runtime
dependencies' wheels); pip's cache makes later runs quick.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from canarygate import __version__
from lab.histories import FIXTURE_NOW
from lab.prometheus import RunningPrometheus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
DEV_ONLY = {"pytest", "mypy", "ruff", "hypothesis", "import-linter", "matplotlib", "pytest-asyncio"}


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=420, cwd=cwd, check=False
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "canarygate"), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("packaging")
    dist, house, env = work / "dist", work / "wheels", work / "venv"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run(*pip, "wheel", "--no-deps", "--wheel-dir", dist, REPO)
    [wheel] = dist.glob("canarygate-*.whl")
    run(*pip, "wheel", "--wheel-dir", house, wheel)
    venv.create(env, with_pip=True, clear=True)
    run(env / "bin" / "python", "-m", "pip", "install", "--no-index", "--find-links", house,
        "canarygate")  # fmt: skip
    return Installed(wheel, env / "bin")


def test_the_wheel_holds_the_package_only_with_its_version_and_entry_point(
    installed: Installed,
) -> None:
    assert installed.wheel.name == f"canarygate-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        entry_points = wheel.read(f"canarygate-{__version__}.dist-info/entry_points.txt").decode()
    assert {n.split("/")[0] for n in names} == {"canarygate", f"canarygate-{__version__}.dist-info"}
    assert "canarygate/py.typed" in names
    assert "canarygate/cli/main.py" in names
    # The Dockerfile's ENTRYPOINT ["canarygate"] is this console script.
    assert "canarygate = canarygate.cli.main:main" in entry_points.splitlines()


def test_the_fresh_environment_holds_runtime_dependencies_only(installed: Installed) -> None:
    listed = run(installed.bin / "python", "-m", "pip", "list", "--format=json").stdout
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert not names & DEV_ONLY
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].strip().lower()
        assert name.replace("_", "-") in names, requirement
    run(installed.bin / "python", "-m", "pip", "check")


def test_version_help_and_python_dash_m(installed: Installed) -> None:
    version = installed.command("--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"canarygate {__version__}")
    shown = installed.command("--help")
    assert shown.returncode == 0
    for command in ("evaluate", "run", "check", "approve", "replay", "rules", "matrix"):
        assert command in shown.stdout
    module = run(installed.bin / "python", "-m", "canarygate", "--version")
    assert module.stdout.strip() == f"canarygate {__version__}"
    bad = installed.command("check", "no-slash")
    assert bad.returncode == 2
    assert bad.stderr.startswith("canarygate: ")
    assert "Traceback" not in bad.stderr


def test_the_installed_command_evaluates_an_example_offline(
    installed: Installed, prometheus: RunningPrometheus
) -> None:
    done = installed.command(
        "evaluate", "-f", str(REPO / "examples" / "checkout-gate.yaml"), "-o", "json",
        "--prometheus", prometheus.url, "--at", FIXTURE_NOW.isoformat(), "--weight", "25",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["gate"] == "shop/checkout-v2"
    assert document["health"] == "green"
    assert document["action"] in {"advance", "hold", "promote"}
    assert all(j["burnRates"]["1h"] is not None for j in document["journeys"])
