"""What the secure-Kafka tests run: a throwaway PKI, a TLS front (stunnel) and a SASL front (sasl_proxy.py),
chained in front of tansu, which advertises the outermost front's address.

    client --TLS--> stunnel --> [sasl_proxy -->] tansu      (SSL, SASL_SSL)
    client -------> sasl_proxy --> tansu                    (SASL_PLAINTEXT)

tansu 0.6 cannot terminate TLS (`--cert` conflicts with `--key`) nor authenticate (its stores keep no SCRAM
credentials, it offers no PLAIN): the fronts do the broker's half of each, the clients under test do theirs
for real (librdkafka and aiokafka). All on 127.0.0.1, free ports, stopped by PID.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentwatch.local.broker import LOOPBACK, EmbeddedBroker, ManagedProcess, free_port

HERE = Path(__file__).parent
USER, PASSWORD = "agentwatch-svc", "Pa55-3f9c1d7e-never-print-me"  # the password the secret-grep tests look for


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost, one for another name only, a client certificate
    (mTLS) and an unrelated CA, all PEM files in `dir`."""

    dir: Path

    @classmethod
    def create(cls, d: Path) -> Pki:
        d.mkdir(parents=True, exist_ok=True)
        for ca in ("ca", "other-ca"):
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                    "-days", "2", "-subj", f"/CN=agentwatch test {ca}", cwd=d)
        for name, subject, san in (("server", "/CN=127.0.0.1", "IP:127.0.0.1,DNS:localhost"),
                                   ("wrongname", "/CN=kafka.internal", "DNS:kafka.internal"),
                                   ("client", "/CN=agentwatch-client", None)):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                    "-subj", subject, cwd=d)
            ext = d / f"{name}.ext"
            ext.write_text((f"subjectAltName={san}\n" if san else "") + "basicConstraints=CA:FALSE\n"
                           + ("extendedKeyUsage=serverAuth\n" if san else "extendedKeyUsage=clientAuth\n"))
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", f"{name}.pem", "-days", "2", "-extfile", ext.name, cwd=d)
        return cls(d)

    def path(self, name: str) -> str:
        return str(self.dir / name)


class TlsFront(ManagedProcess):
    """stunnel on a loopback port: TLS with `cert`/`key`, plain TCP to `upstream`; `client_ca` requires and
    verifies a client certificate (mTLS)."""

    name = "stunnel"

    def __init__(self, port: int, upstream: int, cert: str, key: str, *, client_ca: str | None = None) -> None:
        super().__init__(start_timeout_s=20.0)
        self.port, self.upstream = port, upstream
        lines = ["foreground = yes", "pid =", "debug = notice", f"cert = {cert}", f"key = {key}",
                 "[kafka]", f"accept = {LOOPBACK}:{port}", f"connect = {LOOPBACK}:{upstream}"]
        if client_ca:
            lines += [f"CAfile = {client_ca}", "verifyChain = yes", "requireCert = yes"]
        self.conf = self._dir / "stunnel.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    def _argv(self) -> list[str]:
        exe = shutil.which("stunnel4") or shutil.which("stunnel")
        if exe is None:
            raise FileNotFoundError("stunnel4 is not installed (apt-get install stunnel4; `make setup` does)")
        return [exe, str(self.conf)]

    def _ready(self) -> bool:
        return self._listening_on(self.port)


class SaslFront(ManagedProcess):
    """tests/secure/sasl_proxy.py on a loopback port in front of `upstream`, knowing `users`."""

    name = "sasl-proxy"

    def __init__(self, port: int, upstream: int, users: Mapping[str, str]) -> None:
        super().__init__(start_timeout_s=20.0)
        self.port, self.upstream = port, upstream
        self.users_file = self._dir / "users.json"
        self.users_file.write_text(json.dumps(dict(users)))

    def _argv(self) -> list[str]:
        return [sys.executable, str(HERE / "sasl_proxy.py"), "--listen", f"{LOOPBACK}:{self.port}",
                "--upstream", f"{LOOPBACK}:{self.upstream}", "--users", str(self.users_file)]

    def _ready(self) -> bool:
        return self._listening_on(self.port)


@dataclass
class SecureKafka:
    """tansu behind the fronts `tls` / `sasl` asks for; `env` is what a client needs (AGENTWATCH_*)."""

    pki: Pki
    tls: bool = False
    sasl: bool = False
    mtls: bool = False
    server_cert: str = "server"
    port: int = field(default_factory=free_port)  # the outermost front: what clients dial and tansu advertises
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"kafka://{LOOPBACK}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> SecureKafka:
        broker = EmbeddedBroker(advertised_port=self.port, start_timeout_s=60.0)
        self.processes.append(broker.start())
        upstream = broker.port
        if self.sasl:
            sasl_port = self.port if not self.tls else free_port()
            self.processes.append(SaslFront(sasl_port, upstream, {USER: PASSWORD}).start())
            upstream = sasl_port
        if self.tls:
            front = TlsFront(self.port, upstream, self.pki.path(f"{self.server_cert}.pem"),
                             self.pki.path(f"{self.server_cert}.key"),
                             client_ca=self.pki.path("ca.pem") if self.mtls else None)
            self.processes.append(front.start())
        return self

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()

    def env(self, **overrides: str) -> dict[str, str]:
        """AGENTWATCH_* for a client of this broker (SCRAM-SHA-512 by default); `overrides` win, "" removes."""
        env = {"AGENTWATCH_BROKERS": self.url}
        protocol = {(False, False): "PLAINTEXT", (True, False): "SSL", (False, True): "SASL_PLAINTEXT",
                    (True, True): "SASL_SSL"}[(self.tls, self.sasl)]
        env["AGENTWATCH_SECURITY_PROTOCOL"] = protocol
        if self.tls:
            env["AGENTWATCH_SSL_CAFILE"] = self.pki.path("ca.pem")
        if self.mtls:
            env["AGENTWATCH_SSL_CERTFILE"] = self.pki.path("client.pem")
            env["AGENTWATCH_SSL_KEYFILE"] = self.pki.path("client.key")
        if self.sasl:
            env.update({"AGENTWATCH_SASL_MECHANISM": "SCRAM-SHA-512", "AGENTWATCH_SASL_USERNAME": USER,
                        "AGENTWATCH_SASL_PASSWORD": PASSWORD})
        env.update({f"AGENTWATCH_{k.upper()}": v for k, v in overrides.items()})
        return {k: v for k, v in env.items() if v != ""}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_path.read_text(errors='replace') if p.log_path.exists() else ''}"
                         for p in self.processes)
