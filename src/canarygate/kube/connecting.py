"""Connecting to a cluster: which configuration is used, and one clear line when none works.

Order: an explicit kubeconfig path; else $KUBECONFIG (its first existing file, as a list of
paths may be given); else ~/.kube/config; else the in-cluster service account.
"""

from __future__ import annotations

import os
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SingleConfig

from canarygate.kube.api import DEFAULT_MAX_READS, DEFAULT_MAX_WRITES, KubeApi
from canarygate.kube.errors import KubeUnavailable

DEFAULT_KUBECONFIG = Path("~/.kube/config")
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def connect(
    kubeconfig: str | None = None,
    *,
    field_manager: str = "canarygate",
    max_writes: int = DEFAULT_MAX_WRITES,
    max_reads: int = DEFAULT_MAX_READS,
) -> KubeApi:
    """A KubeApi for the configured cluster. Raises KubeUnavailable, with one line saying
    which configuration was tried and why it is unusable; nothing is sent yet."""
    config, source = load_config(kubeconfig)
    try:
        client = AsyncClient(config, field_manager=field_manager)
    # lightkube checks the user, CA and client certificates here, each failing its own way
    # (an assert, ssl.SSLError, its ConfigError...): all mean this configuration is unusable.
    except Exception as error:
        raise KubeUnavailable(f"cannot use {source}: {_detail(error)}") from None
    return KubeApi(client, field_manager=field_manager, max_writes=max_writes, max_reads=max_reads)


def load_config(kubeconfig: str | None = None) -> tuple[SingleConfig, str]:
    """The selected configuration and a description of where it came from."""
    if kubeconfig is not None:
        return _from_file(Path(kubeconfig)), f"kubeconfig {kubeconfig}"
    if listed := os.environ.get("KUBECONFIG"):
        paths = [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
        existing = [p for p in paths if p.exists()]
        if not existing:
            raise KubeUnavailable(f"$KUBECONFIG names no existing file: {listed}")
        return _from_file(existing[0]), f"kubeconfig {existing[0]} (from $KUBECONFIG)"
    default = DEFAULT_KUBECONFIG.expanduser()
    if default.exists():
        return _from_file(default), f"kubeconfig {default}"
    if os.environ.get("KUBERNETES_SERVICE_HOST") and SERVICE_ACCOUNT.is_dir():
        source = f"the in-cluster service account ({SERVICE_ACCOUNT})"
        try:
            config = KubeConfig.from_service_account(SERVICE_ACCOUNT).get()
        except Exception as error:
            raise KubeUnavailable(f"cannot use {source}: {_detail(error)}") from None
        return _checked(config, source), source
    raise KubeUnavailable(
        "no Kubernetes configuration: no kubeconfig given, $KUBECONFIG unset, "
        f"no {DEFAULT_KUBECONFIG}, and not running in a cluster"
    )


def _from_file(path: Path) -> SingleConfig:
    source = f"kubeconfig {path}"
    if not path.exists():
        raise KubeUnavailable(f"{source}: no such file")
    if not path.is_file():
        raise KubeUnavailable(f"{source}: not a file")
    if not os.access(path, os.R_OK):
        raise KubeUnavailable(f"{source}: not readable (permission denied)")
    try:
        config = KubeConfig.from_file(path).get()
    # A kubeconfig can be broken in many ways (YAML, missing keys, wrong types, an unknown
    # context), each raising something different from yaml, msgspec or lightkube.
    except Exception as error:
        raise KubeUnavailable(f"cannot use {source}: {_detail(error)}") from None
    return _checked(config, source)


def _checked(config: SingleConfig | None, source: str) -> SingleConfig:
    if config is None:
        raise KubeUnavailable(f"cannot use {source}: no current context")
    return config


def _detail(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, KeyError):
        return f"missing {text}"
    return text or type(error).__name__
