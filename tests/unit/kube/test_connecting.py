"""connect(): which configuration is used, and one KubeUnavailable line when none works."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarygate.kube import KubeApi, KubeUnavailable, connect, connecting

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: {context}
clusters:
  - name: local
    cluster: {{server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}
users:
  - name: admin
    user: {{token: secret}}
contexts:
  - name: local
    context: {{cluster: local, user: admin, namespace: shop}}
"""


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(connecting, "DEFAULT_KUBECONFIG", tmp_path / "home" / ".kube" / "config")


def write(path: Path, context: str = "local") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(KUBECONFIG.format(context=context))
    return path


async def test_an_explicit_kubeconfig_is_used(tmp_path: Path) -> None:
    api = connect(str(write(tmp_path / "kc")), field_manager="me")
    assert isinstance(api, KubeApi)
    await api.close()


def test_kubeconfig_variable_first_existing_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = write(tmp_path / "second")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{real}")
    config, source = connecting.load_config()
    assert config.cluster.server == "https://127.0.0.1:6443"
    assert source == f"kubeconfig {real} (from $KUBECONFIG)"


def test_the_default_kubeconfig_is_used_without_the_variable(tmp_path: Path) -> None:
    write(connecting.DEFAULT_KUBECONFIG)
    _config, source = connecting.load_config()
    assert source == f"kubeconfig {connecting.DEFAULT_KUBECONFIG}"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda tmp: str(tmp / "missing"), r"^kubeconfig .*/missing: no such file$"),
        (str, r"^kubeconfig .*: not a file$"),
        (
            lambda tmp: str(_text(tmp / "bad", "clusters: [oops")),
            r"^cannot use kubeconfig .*/bad: while parsing a flow sequence",
        ),
        (
            lambda tmp: str(_text(tmp / "empty", "kind: Config\n")),
            r"^cannot use kubeconfig .*/empty: missing 'clusters'$",
        ),
        (
            lambda tmp: str(write(tmp / "ctx", context="elsewhere")),
            r"^cannot use kubeconfig .*/ctx: Context 'elsewhere' not found$",
        ),
    ],
)
def test_bad_kubeconfigs_give_one_line(tmp_path: Path, setup: object, message: str) -> None:
    path = setup(tmp_path)  # type: ignore[operator]
    with pytest.raises(KubeUnavailable, match=message) as raised:
        connect(path)
    assert "\n" not in str(raised.value)


def test_an_unreadable_kubeconfig_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests run as root here, where chmod cannot make a file unreadable; fake the check.
    path = write(tmp_path / "kc")
    monkeypatch.setattr(connecting.os, "access", lambda *args: False)
    with pytest.raises(KubeUnavailable, match="not readable"):
        connect(str(path))


def test_a_kubeconfig_variable_naming_nothing_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(KubeUnavailable, match=r"^\$KUBECONFIG names no existing file"):
        connect()


def test_no_configuration_at_all() -> None:
    with pytest.raises(KubeUnavailable, match=r"^no Kubernetes configuration: .*not running in a"):
        connect()


def test_a_kubeconfig_without_a_user_is_refused_cleanly(tmp_path: Path) -> None:
    text = KUBECONFIG.format(context="local").replace("user: admin, ", "")
    with pytest.raises(KubeUnavailable, match=r"^cannot use kubeconfig .*/nouser: "):
        connect(str(_text(tmp_path / "nouser", text)))


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
