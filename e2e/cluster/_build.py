"""Build the control-plane binaries (and, when asked, the peers) from the Go module proxy and
cache them by version.

Kubernetes: a throw-away wrapper module requires k8s.io/kubernetes at the pinned tag and
replaces each staging module (k8s.io/api, k8s.io/client-go...) with its v0.Y.Z tag, which is
what the upstream go.mod points at ./staging for. One `go build` compiles all four commands
so the packages they share compile once. kwok and helm (whose go.mod has no replace block)
are plain `go install module@version`, with the version ldflags upstream's Makefiles stamp.
Binaries land in <cache>/bin/<name>-<version>/ with a `.complete` marker written last.

The peers for side-by-side figures: Flagger is a plain `go install`. Argo Rollouts' go.mod
has a replace block (every k8s.io module at v0.0.0 pointed at a tag), which `go install
module@version` refuses, so it is built like Kubernetes: a wrapper module that requires it and
repeats that block, read from its go.mod in the module cache. Each peer's CRD YAMLs are
copied from its module into <bin>/crds/ beside the binary, so binary and CRDs match.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from _common import (
    KUBERNETES_COMMANDS,
    VERSIONS,
    ClusterError,
    argo_rollouts_bin_dir,
    cache_root,
    elapsed,
    flagger_bin_dir,
    helm_bin_dir,
    kubernetes_bin_dir,
    kwok_bin_dir,
    log,
)

PROGRESS_EVERY = 20.0  # seconds between progress lines during long steps
MARKER = ".complete"


def go_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOTOOLCHAIN="local",  # never fetch another toolchain; the machine's Go builds it
        CGO_ENABLED="0",  # static binaries, no C toolchain needed, as upstream releases
        GOFLAGS="-buildvcs=false",
    )
    env.update(extra)
    return env


def go_mod_download(module: str, version: str) -> dict[str, str]:
    """Fetch one module into the module cache and return `go mod download -json` fields."""
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        env=go_env(),
        cwd=cache_root(),
        check=False,
    )
    try:
        info: dict[str, str] = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode != 0 or "Dir" not in info:
        raise ClusterError(
            f"go mod download {module}@{version} failed:\n"
            f"{info.get('Error', '')}{result.stderr.strip()}"
        )
    return info


def is_complete(directory: Path, names: tuple[str, ...]) -> bool:
    return (directory / MARKER).is_file() and all((directory / n).is_file() for n in names)


def run_with_progress(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    label: str,
    log_path: Path,
    total_packages: int = 0,
) -> None:
    """Run a go command; every PROGRESS_EVERY s print the label, elapsed time and, when
    `-v` output is available, how many packages have compiled so far."""
    start = time.monotonic()
    compiled = 0
    last = ""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        stream = process.stdout

        def pump() -> None:
            nonlocal compiled, last
            for line in stream:
                log_file.write(line)
                log_file.flush()
                if line and not line.startswith(("go: ", "#", " ", "\t")):
                    compiled += 1
                    last = line.strip()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        while reader.is_alive():  # the output ends when the process does
            reader.join(PROGRESS_EVERY)
            if reader.is_alive():
                count = f", {compiled}/{total_packages} packages compiled" if total_packages else ""
                now = f" (now {last})" if last and total_packages else ""
                log(f"{label}: {elapsed(time.monotonic() - start)}{count}{now}")
        process.wait()
    if process.returncode != 0:
        lines = log_path.read_text(errors="replace").splitlines()
        raise ClusterError(
            f"{label} failed (exit {process.returncode}); full log {log_path}:\n"
            + "\n".join(lines[-40:])
        )
    log(f"{label}: done in {elapsed(time.monotonic() - start)}")


def _version_ldflags(info: dict[str, str], module_info: dict[str, str]) -> str:
    major, minor = VERSIONS.kubernetes.removeprefix("v").split(".")[:2]
    # The module zip carries no git metadata: identify the exact source by its checksum, and
    # date the build with the tag's time so rebuilds are byte-identical.
    values = {
        "gitVersion": VERSIONS.kubernetes,
        "gitMajor": major,
        "gitMinor": minor,
        "gitCommit": info["Sum"].removeprefix("h1:"),
        "gitTreeState": "clean",
        "buildDate": module_info.get("Time", "1970-01-01T00:00:00Z"),
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in values.items()]
    return " ".join(flags)


def write_wrapper_module(work: Path, upstream_gomod: str) -> None:
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", upstream_gomod, re.M)
    if not staging:
        raise ClusterError("found no staging replace directives in k8s.io/kubernetes go.mod")
    go_line = re.search(r"^go \S+$", upstream_gomod, re.M)
    godebug = re.findall(r"^godebug .*$", upstream_gomod, re.M)
    lines = [
        "// Generated by e2e/cluster/build: builds upstream commands from the module proxy.",
        "module canarygate.local/kubernetes-build",
        "",
        go_line.group(0) if go_line else "go 1.24.0",
        *godebug,  # keep upstream's GODEBUG defaults in the binaries
        "",
        f"require k8s.io/kubernetes {VERSIONS.kubernetes}",
        "",
        "replace (",
        *(f"\t{name} => {name} {VERSIONS.staging}" for name in staging),
        ")",
        "",
    ]
    (work / "go.mod").write_text("\n".join(lines))


def build_kubernetes(force: bool = False) -> Path:
    out = kubernetes_bin_dir()
    if not force and is_complete(out, KUBERNETES_COMMANDS):
        log(f"kubernetes {VERSIONS.kubernetes}: reusing {out}")
        return out
    work = cache_root() / "build" / f"kubernetes-{VERSIONS.kubernetes}"
    work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    log(f"kubernetes {VERSIONS.kubernetes}: fetching k8s.io/kubernetes from the module proxy")
    info = go_mod_download("k8s.io/kubernetes", VERSIONS.kubernetes)
    module_info = json.loads(Path(info["Info"]).read_text())
    write_wrapper_module(work, Path(info["GoMod"]).read_text())
    env = go_env(GOFLAGS="-mod=mod -buildvcs=false")
    packages = [f"k8s.io/kubernetes/cmd/{name}" for name in KUBERNETES_COMMANDS]
    names = ", ".join(KUBERNETES_COMMANDS)

    # Resolving the graph downloads every dependency; it also gives the package count
    # that turns `go build -v` output into a progress figure.
    list_log = work / "go-list.log"
    run_with_progress(
        ["go", "list", "-deps", *packages],
        cwd=work,
        env=env,
        label=f"kubernetes {VERSIONS.kubernetes}: downloading modules",
        log_path=list_log,
    )
    total = sum(
        1 for line in list_log.read_text().splitlines() if line and not line.startswith("go: ")
    )

    staging_out = work / "out"
    shutil.rmtree(staging_out, ignore_errors=True)
    staging_out.mkdir()
    run_with_progress(
        [
            "go",
            "build",
            "-v",
            "-trimpath",
            "-ldflags",
            _version_ldflags(info, module_info),
            "-o",
            f"{staging_out}/",
            *packages,
        ],
        cwd=work,
        env=env,
        label=f"kubernetes {VERSIONS.kubernetes}: compiling {names}",
        log_path=work / "go-build.log",
        total_packages=total,
    )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name in KUBERNETES_COMMANDS:
        shutil.move(staging_out / name, out / name)
    _write_marker(out, start)
    return out


def build_kwok(force: bool = False) -> Path:
    out = kwok_bin_dir()
    if not force and is_complete(out, ("kwok",)):
        log(f"kwok {VERSIONS.kwok}: reusing {out}")
        return out
    start = time.monotonic()
    work = cache_root() / "build" / f"kwok-{VERSIONS.kwok}"
    work.mkdir(parents=True, exist_ok=True)
    staging_out = work / "out"
    shutil.rmtree(staging_out, ignore_errors=True)
    staging_out.mkdir()
    run_with_progress(
        [
            "go",
            "install",
            "-trimpath",
            "-ldflags",
            f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={VERSIONS.kwok.removeprefix('v')}",
            f"sigs.k8s.io/kwok/cmd/kwok@{VERSIONS.kwok}",
        ],
        cwd=work,
        env=go_env(GOBIN=str(staging_out)),
        label=f"kwok {VERSIONS.kwok}: go install sigs.k8s.io/kwok/cmd/kwok",
        log_path=work / "go-install.log",
    )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.move(staging_out / "kwok", out / "kwok")
    _write_marker(out, start)
    return out


def _helm_ldflags(info: dict[str, str]) -> str:
    """What helm's Makefile stamps for a tagged release: the version (no `+unreleased`), the
    exact source (here the module checksum: a module zip has no git commit), and the
    Kubernetes version its client-go speaks, which `helm template` reports as
    `.Capabilities.KubeVersion` and `helm lint` checks deprecations against."""
    package = f"helm.sh/helm/v{VERSIONS.helm.removeprefix('v').split('.')[0]}"
    client_go = re.search(r"^\s*k8s\.io/client-go (v\S+)", Path(info["GoMod"]).read_text(), re.M)
    values = {
        "internal/version.version": VERSIONS.helm,
        "internal/version.metadata": "",
        "internal/version.gitCommit": info["Sum"].removeprefix("h1:"),
        "internal/version.gitTreeState": "clean",
    }
    if client_go:  # v0.Y.Z -> Kubernetes 1.Y
        minor = client_go.group(1).split(".")[1]
        for where in ("pkg/chartutil", "pkg/lint/rules"):
            values[f"{where}.k8sVersionMajor"] = "1"
            values[f"{where}.k8sVersionMinor"] = minor
    return " ".join(["-s", "-w", *(f"-X {package}/{key}={value}" for key, value in values.items())])


def build_helm(force: bool = False) -> Path:
    out = helm_bin_dir()
    if not force and is_complete(out, ("helm",)):
        log(f"helm {VERSIONS.helm}: reusing {out}")
        return out
    start = time.monotonic()
    work = cache_root() / "build" / f"helm-{VERSIONS.helm}"
    work.mkdir(parents=True, exist_ok=True)
    module = f"helm.sh/helm/v{VERSIONS.helm.removeprefix('v').split('.')[0]}"
    info = go_mod_download(module, VERSIONS.helm)
    staging_out = work / "out"
    shutil.rmtree(staging_out, ignore_errors=True)
    staging_out.mkdir()
    run_with_progress(
        [
            "go",
            "install",
            "-trimpath",
            "-ldflags",
            _helm_ldflags(info),
            f"{module}/cmd/helm@{VERSIONS.helm}",
        ],
        cwd=work,
        env=go_env(GOBIN=str(staging_out)),
        label=f"helm {VERSIONS.helm}: go install {module}/cmd/helm",
        log_path=work / "go-install.log",
    )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.move(staging_out / "helm", out / "helm")
    _write_marker(out, start)
    return out


FLAGGER_MODULE = "github.com/fluxcd/flagger"
ARGO_ROLLOUTS_MODULE = "github.com/argoproj/argo-rollouts"


def _copy_crds(sources: list[Path], out: Path) -> None:
    """Copy CRD YAMLs out of the (read-only) module cache into out/crds/."""
    if not sources:
        raise ClusterError(f"found no CRD YAMLs for {out.name} in its module")
    target = out / "crds"
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copyfile(source, target / source.name)  # contents only: the cache is read-only


def build_flagger(force: bool = False) -> Path:
    version = VERSIONS.flagger
    out = flagger_bin_dir()
    if not force and is_complete(out, ("flagger", "crds/crd.yaml")):
        log(f"flagger {version}: reusing {out}")
        return out
    start = time.monotonic()
    work = cache_root() / "build" / f"flagger-{version}"
    work.mkdir(parents=True, exist_ok=True)
    info = go_mod_download(FLAGGER_MODULE, version)
    staging_out = work / "out"
    shutil.rmtree(staging_out, ignore_errors=True)
    staging_out.mkdir()
    # Flagger's Dockerfile stamps REVISION (the version itself is a constant in the source);
    # the module zip has no commit, so its checksum names the exact source.
    revision = info["Sum"].removeprefix("h1:")
    run_with_progress(
        [
            "go",
            "install",
            "-trimpath",
            "-ldflags",
            f"-s -w -X {FLAGGER_MODULE}/pkg/version.REVISION={revision}",
            f"{FLAGGER_MODULE}/cmd/flagger@{version}",
        ],
        cwd=work,
        env=go_env(GOBIN=str(staging_out)),
        label=f"flagger {version}: go install {FLAGGER_MODULE}/cmd/flagger",
        log_path=work / "go-install.log",
    )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.move(staging_out / "flagger", out / "flagger")
    _copy_crds([Path(info["Dir"]) / "artifacts" / "flagger" / "crd.yaml"], out)
    _write_marker(out, start)
    return out


def write_argo_rollouts_wrapper(work: Path, upstream_gomod: str, version: str) -> None:
    """A module requiring argo-rollouts at `version` with upstream's replace block repeated:
    replace directives apply only in the main module, so without it the k8s.io/* v0.0.0
    requirements of its dependencies would not resolve."""
    block = re.search(r"^replace \($(.*?)^\)$", upstream_gomod, re.M | re.S)
    single = re.findall(r"^replace (?!\().*$", upstream_gomod, re.M)
    if not block and not single:
        raise ClusterError(f"found no replace directives in {ARGO_ROLLOUTS_MODULE} go.mod")
    go_line = re.search(r"^go \S+$", upstream_gomod, re.M)
    lines = [
        "// Generated by e2e/cluster/build: builds argo-rollouts from the module proxy.",
        "module canarygate.local/argo-rollouts-build",
        "",
        go_line.group(0) if go_line else "go 1.23",
        "",
        f"require {ARGO_ROLLOUTS_MODULE} {version}",
        "",
    ]
    if block:
        lines += ["replace (", *block.group(1).strip("\n").splitlines(), ")", ""]
    lines += [*single, ""] if single else []
    (work / "go.mod").write_text("\n".join(lines))
    (work / "go.sum").unlink(missing_ok=True)  # resolved afresh for this go.mod


def _argo_rollouts_ldflags(info: dict[str, str], module_info: dict[str, str]) -> str:
    """What argo-rollouts' Makefile stamps for a tagged, clean release (gitTag makes the
    reported version the tag; gitCommit is the module checksum: a zip has no commit)."""
    package = f"{ARGO_ROLLOUTS_MODULE}/utils/version"
    values = {
        "version": VERSIONS.argo_rollouts.removeprefix("v"),
        "buildDate": module_info.get("Time", "1970-01-01T00:00:00Z"),
        "gitCommit": info["Sum"].removeprefix("h1:"),
        "gitTag": VERSIONS.argo_rollouts,
        "gitTreeState": "clean",
    }
    return " ".join(["-s", "-w", *(f"-X {package}.{key}={value}" for key, value in values.items())])


def build_argo_rollouts(force: bool = False) -> Path:
    version = VERSIONS.argo_rollouts
    out = argo_rollouts_bin_dir()
    if not force and is_complete(out, ("rollouts-controller", "crds/rollout-crd.yaml")):
        log(f"argo-rollouts {version}: reusing {out}")
        return out
    start = time.monotonic()
    work = cache_root() / "build" / f"argo-rollouts-{version}"
    work.mkdir(parents=True, exist_ok=True)
    log(f"argo-rollouts {version}: fetching {ARGO_ROLLOUTS_MODULE} from the module proxy")
    info = go_mod_download(ARGO_ROLLOUTS_MODULE, version)
    module_info = json.loads(Path(info["Info"]).read_text())
    write_argo_rollouts_wrapper(work, Path(info["GoMod"]).read_text(), version)
    env = go_env(GOFLAGS="-mod=mod -buildvcs=false")
    package = f"{ARGO_ROLLOUTS_MODULE}/cmd/rollouts-controller"
    list_log = work / "go-list.log"
    run_with_progress(
        ["go", "list", "-deps", package],
        cwd=work,
        env=env,
        label=f"argo-rollouts {version}: downloading modules",
        log_path=list_log,
    )
    total = sum(
        1 for line in list_log.read_text().splitlines() if line and not line.startswith("go: ")
    )
    staging_out = work / "out"
    shutil.rmtree(staging_out, ignore_errors=True)
    staging_out.mkdir()
    run_with_progress(
        [
            "go",
            "build",
            "-v",
            "-trimpath",
            "-ldflags",
            _argo_rollouts_ldflags(info, module_info),
            "-o",
            f"{staging_out}/rollouts-controller",
            package,
        ],
        cwd=work,
        env=env,
        label=f"argo-rollouts {version}: compiling rollouts-controller",
        log_path=work / "go-build.log",
        total_packages=total,
    )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.move(staging_out / "rollouts-controller", out / "rollouts-controller")
    _copy_crds(sorted((Path(info["Dir"]) / "manifests" / "crds").glob("*-crd.yaml")), out)
    _write_marker(out, start)
    return out


def _write_marker(directory: Path, start: float) -> None:
    go_version = subprocess.run(
        ["go", "version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    marker = {"built_with": go_version, "build_seconds": round(time.monotonic() - start)}
    (directory / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    log(f"cached in {directory} ({elapsed(time.monotonic() - start)})")
