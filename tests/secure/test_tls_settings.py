"""TLS and mTLS settings -> the one client configuration, validated with real PEM files (no broker)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from secure_helpers import Pki, openssl

from agentwatch.settings import SettingsError, from_env
from agentwatch.stream.kafka_clients import kafka_security_config, tls_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    pki = Pki.create(tmp_path_factory.mktemp("pki"))
    openssl("rsa", "-aes256", "-in", "client.key", "-out", "client-enc.key", "-passout", "pass:key-pass-77",
            cwd=pki.dir)
    return pki


def test_mtls_keys_and_the_same_context_for_python_clients(pki: Pki) -> None:
    env = {"AGENTWATCH_SECURITY_PROTOCOL": "ssl", "AGENTWATCH_SSL_CAFILE": pki.path("ca.pem"),
           "AGENTWATCH_SSL_CERTFILE": pki.path("client.pem"), "AGENTWATCH_SSL_KEYFILE": pki.path("client.key")}
    sec = kafka_security_config(env)
    assert sec == {"security.protocol": "ssl", "ssl.ca.location": pki.path("ca.pem"),
                   "ssl.certificate.location": pki.path("client.pem"), "ssl.key.location": pki.path("client.key"),
                   "ssl.endpoint.identification.algorithm": "https"}
    ctx = tls_context(sec)
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED


def test_hostname_check_off_keeps_chain_verification(pki: Pki) -> None:
    sec = kafka_security_config({"AGENTWATCH_SECURITY_PROTOCOL": "SASL_SSL", "AGENTWATCH_SASL_MECHANISM": "PLAIN",
                                 "AGENTWATCH_SASL_USERNAME": "u", "AGENTWATCH_SASL_PASSWORD": "p",
                                 "AGENTWATCH_SSL_CHECK_HOSTNAME": "false"})
    assert sec["ssl.endpoint.identification.algorithm"] == "none"
    ctx = tls_context(sec)
    assert not ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED


def test_encrypted_key_with_its_password(pki: Pki) -> None:
    env = {"AGENTWATCH_SECURITY_PROTOCOL": "ssl", "AGENTWATCH_SSL_CERTFILE": pki.path("client.pem"),
           "AGENTWATCH_SSL_KEYFILE": pki.path("client-enc.key"), "AGENTWATCH_SSL_KEY_PASSWORD": "key-pass-77"}
    assert kafka_security_config(env)["ssl.key.password"] == "key-pass-77"
    env["AGENTWATCH_SSL_KEY_PASSWORD"] = "wrong-pass-88"
    with pytest.raises(ValueError, match="cannot load the client certificate") as info:
        kafka_security_config(env)
    assert "wrong-pass-88" not in str(info.value)


@pytest.mark.parametrize(("env", "message"), [
    ({"SSL_CAFILE": "ca.pem"}, "AGENTWATCH_SSL_CAFILE is set but AGENTWATCH_SECURITY_PROTOCOL is not SSL"),
    ({"SECURITY_PROTOCOL": "sasl_plaintext", "SASL_MECHANISM": "PLAIN", "SASL_USERNAME": "u", "SASL_PASSWORD": "p",
      "SSL_CHECK_HOSTNAME": "false"}, "AGENTWATCH_SSL_CHECK_HOSTNAME is set but"),
    ({"SECURITY_PROTOCOL": "ssl", "SSL_CERTFILE": "client.pem"}, "SSL_CERTFILE needs AGENTWATCH_SSL_KEYFILE"),
    ({"SECURITY_PROTOCOL": "ssl", "SSL_KEYFILE": "client.key"}, "SSL_KEYFILE needs AGENTWATCH_SSL_CERTFILE"),
    ({"SECURITY_PROTOCOL": "ssl", "SSL_KEY_PASSWORD": "x"}, "AGENTWATCH_SSL_KEY_PASSWORD is set but"),
    ({"SECURITY_PROTOCOL": "ssl", "SSL_CAFILE": "missing.pem"}, r"AGENTWATCH_SSL_CAFILE=.*missing.pem: no such file"),
    ({"SECURITY_PROTOCOL": "ssl", "SSL_CAFILE": "client.csr"}, "AGENTWATCH_SSL_CAFILE=.*not a PEM CA bundle"),
    ({"SECURITY_PROTOCOL": "ssl", "SSL_CERTFILE": "client.pem", "SSL_KEYFILE": "server.key"},
     "cannot load the client certificate and key"),
    ({"SECURITY_PROTOCOL": "ssl", "SSL_CHECK_HOSTNAME": "maybe"}, "SSL_CHECK_HOSTNAME must be true or false"),
])
def test_misconfiguration_names_the_variable(pki: Pki, env: dict[str, str], message: str) -> None:
    env = {f"AGENTWATCH_{k}": (pki.path(v) if k.endswith("FILE") else v) for k, v in env.items()}
    with pytest.raises(ValueError, match=message):
        kafka_security_config(env)


def test_settings_validate_the_security_once(pki: Pki, tmp_path: Path) -> None:
    """`run`, `doctor` and `alerts` build Settings first: a bad combination is a SettingsError (exit 2)."""
    with pytest.raises(SettingsError, match="AGENTWATCH_SSL_CERTFILE needs"):
        from_env({"AGENTWATCH_SECURITY_PROTOCOL": "ssl", "AGENTWATCH_SSL_CERTFILE": pki.path("client.pem")})
    s = from_env({"AGENTWATCH_SECURITY_PROTOCOL": "ssl", "AGENTWATCH_SSL_CHECK_HOSTNAME": "false"})
    assert s.ssl_check_hostname is False
    assert kafka_security_config(s)["ssl.endpoint.identification.algorithm"] == "none"
