"""Credentials for the local control plane: a CA, the API server's serving certificate, the
service-account signing key pair, one bearer token per client, and their kubeconfigs.

Keys are made with the `openssl` command (present on every Debian machine) so that the
scripts need nothing beyond the standard library. Bearer tokens go in a static token file
(`--token-auth-file`): simple, and enough for a throw-away cluster on loopback.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from _common import ClusterError

# Who each client is. The controller manager and scheduler use the identities that the API
# server's bootstrap RBAC policy already grants their permissions to; the admin and kwok
# (which writes node and pod status like a kubelet fleet would) are cluster admins.
CLIENTS = {
    "admin": ("canarygate-admin", "system:masters"),
    "kube-controller-manager": ("system:kube-controller-manager", ""),
    "kube-scheduler": ("system:kube-scheduler", ""),
    "kwok": ("kwok-controller", "system:masters"),
}

SERVING_NAMES = (
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "IP:127.0.0.1",
    "IP:10.96.0.1",  # first address of --service-cluster-ip-range: the `kubernetes` Service
)


@dataclass(frozen=True)
class Pki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.directory / "service-account.key"

    @property
    def sa_pub(self) -> Path:
        return self.directory / "service-account.pub"

    @property
    def token_file(self) -> Path:
        return self.directory / "tokens.csv"

    def token(self, client: str) -> str:
        for line in self.token_file.read_text().splitlines():
            token, user, *_ = line.split(",")
            if user == CLIENTS[client][0]:
                return token
        raise ClusterError(f"no token for {client} in {self.token_file}")


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def create_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pki = Pki(directory)
    ec = ("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    _openssl(*ec, "-out", str(pki.ca_key))
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(pki.ca_key),
        "-subj",
        "/CN=canarygate-local-ca",
        "-days",
        "3650",
        "-out",
        str(pki.ca_cert),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )
    _openssl(*ec, "-out", str(pki.serving_key))
    csr = directory / "apiserver.csr"
    _openssl(
        "req", "-new", "-key", str(pki.serving_key), "-subj", "/CN=kube-apiserver", "-out", str(csr)
    )
    extensions = directory / "apiserver.ext"
    extensions.write_text(
        f"subjectAltName={','.join(SERVING_NAMES)}\n"
        "extendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki.ca_cert),
        "-CAkey",
        str(pki.ca_key),
        "-set_serial",
        str(secrets.randbits(63)),
        "-days",
        "825",
        "-extfile",
        str(extensions),
        "-out",
        str(pki.serving_cert),
    )
    csr.unlink()
    extensions.unlink()
    # Service-account tokens are signed with this key (RS256, the most widely accepted).
    _openssl(
        "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pki.sa_key)
    )
    _openssl("pkey", "-in", str(pki.sa_key), "-pubout", "-out", str(pki.sa_pub))
    rows = []
    for uid, (user, groups) in enumerate(CLIENTS.values(), start=1):
        rows.append(
            f'{secrets.token_hex(24)},{user},{uid},"{groups}"'
            if groups
            else f"{secrets.token_hex(24)},{user},{uid}"
        )
    pki.token_file.write_text("\n".join(rows) + "\n")
    for path in directory.iterdir():
        path.chmod(0o600)
    return pki


def write_kubeconfig(path: Path, *, pki: Pki, server: str, client: str) -> Path:
    """A self-contained kubeconfig (CA embedded) authenticating as `client` by token."""
    ca_data = base64.b64encode(pki.ca_cert.read_bytes()).decode()
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: canarygate-local
  cluster:
    server: {server}
    certificate-authority-data: {ca_data}
users:
- name: {client}
  user:
    token: {pki.token(client)}
contexts:
- name: canarygate-local
  context:
    cluster: canarygate-local
    user: {client}
    namespace: default
current-context: canarygate-local
"""
    )
    path.chmod(0o600)
    return path
