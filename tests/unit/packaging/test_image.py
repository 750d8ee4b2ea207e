"""The container image's definition, tested without a Docker engine: two stages, the final one
installing only the build stage's wheels, running as a numeric non-root user the entrypoint
that the package declares, with a build context that holds what the Dockerfile copies and
nothing else. (The image's install step itself is exercised by the integration test of the
wheel, which runs the same `pip` commands in a fresh virtualenv.)"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

from canarygate.cli.main import build_parser

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            joined.append(pending.strip())
            pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return [(word.upper(), rest.strip()) for word, _, rest in (i.partition(" ") for i in joined)]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def arguments(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [rest for word, rest in stage if word == name]


def test_the_image_is_built_in_two_stages_on_a_slim_python() -> None:
    found = stages()
    assert len(found) >= 2
    assert "AS build" in found[0][0][1]
    default = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))[
        "PYTHON_IMAGE"
    ]
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", default), default
    # The same interpreter as the package requires at least.
    required = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(p) for p in required.removeprefix(">=").split("."))
    version = tuple(int(p) for p in default.split(":")[1].split("-")[0].split("."))
    assert version >= minimum


def test_the_final_stage_installs_only_the_built_wheels() -> None:
    [install] = [r for r in arguments(final_stage(), "RUN") if "pip install" in r]
    assert "--no-index" in install
    assert "--find-links /wheels" in install
    assert "from=build" in install  # mounted from the build stage, not copied into a layer
    assert not arguments(final_stage(), "COPY"), "the final stage copies nothing in"
    [wheel] = [r for r in arguments(stages()[0], "RUN") if "pip wheel" in r]
    assert "--wheel-dir /wheels" in wheel


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = arguments(final_stage(), "USER")
    assert users, "the final stage sets no USER: it would run as root"
    uid, _, gid = users[-1].partition(":")
    # Numeric, so that the kubelet can verify runAsNonRoot without reading /etc/passwd.
    assert uid.isdigit()
    assert int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)
    # Nothing after USER switches back.
    words = [word for word, _ in final_stage()]
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")


def test_the_entrypoint_is_the_packages_console_script_and_cmd_a_real_command() -> None:
    [entrypoint] = arguments(final_stage(), "ENTRYPOINT")
    [cmd] = arguments(final_stage(), "CMD")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(entrypoint) == ["canarygate"]
    assert "canarygate" in scripts
    args = build_parser().parse_args(json.loads(cmd))
    assert args.command == "run"


def test_the_exposed_ports_are_the_operators_default_addresses() -> None:
    [exposed] = arguments(final_stage(), "EXPOSE")
    args = build_parser().parse_args(["run"])
    defaults = {args.metrics_address.rpartition(":")[2], args.health_address.rpartition(":")[2]}
    assert set(exposed.split()) == defaults


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern decides; `!` re-includes."""
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/")
        parts = Path(path).parts
        # A pattern matching a directory takes in everything under it.
        candidates = [str(Path(*parts[:n])) for n in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(c, bare) for c in candidates):
            verdict = not negated
    return verdict


def dockerignore() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_the_build_context_holds_what_is_copied_and_not_the_rest() -> None:
    patterns = dockerignore()
    copied = [
        source
        for word, rest in instructions()
        if word == "COPY" and "--from" not in rest
        for source in rest.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert not ignored(source, patterns), f"{source} is copied but left out of the context"
    assert not ignored("src/canarygate/cli/main.py", patterns)
    for kept_out in (".git/config", ".venv/bin/python", "tests/unit/test_docs.py", "lab/stage.py",
                     "src/canarygate/__pycache__/x.pyc", ".env"):  # fmt: skip
        assert ignored(kept_out, patterns), kept_out
