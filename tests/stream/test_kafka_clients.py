"""The one Kafka client configuration (agentwatch.stream.kafka_clients): no broker needed."""

from __future__ import annotations

import pytest

from agentwatch.stream.kafka_clients import bootstrap_from_url, kafka_security_config


@pytest.mark.parametrize(
    ("url", "bootstrap"),
    [
        ("kafka://127.0.0.1:9092", "127.0.0.1:9092"),
        ("kafka://h:1,h2:2", "h:1,h2:2"),
        ("kafka://h:1;kafka://h2:2", "h:1,h2:2"),
        ("kafka://h1:1, kafka://h2:2/", "h1:1,h2:2"),
        ("broker.example", "broker.example:9092"),
        ("h:19092", "h:19092"),
        ("kafka://[::1]:9093", "[::1]:9093"),
        ("kafka://[::1]", "[::1]:9092"),
    ],
)
def test_bootstrap_from_url(url: str, bootstrap: str) -> None:
    assert bootstrap_from_url(url) == bootstrap


def test_bootstrap_from_url_empty() -> None:
    with pytest.raises(ValueError):
        bootstrap_from_url("kafka://")


def test_security_config_empty() -> None:
    assert kafka_security_config(None) == {}
    assert kafka_security_config({}) == {}
    assert kafka_security_config({"AGENTWATCH_SECURITY_PROTOCOL": "", "AGENTWATCH_SASL_USERNAME": None}) == {}


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    from secure.secure_helpers import Pki  # a real CA: the TLS files are read and checked at validation

    return Pki.create(tmp_path_factory.mktemp("pki")).path("ca.pem")


def test_security_config_sasl_ssl(ca_file: str) -> None:
    env = {
        "AGENTWATCH_SECURITY_PROTOCOL": "SASL_SSL",
        "AGENTWATCH_SASL_MECHANISM": "scram-sha-512",
        "AGENTWATCH_SASL_USERNAME": "svc",
        "AGENTWATCH_SASL_PASSWORD": "s3cret",
        "AGENTWATCH_SSL_CAFILE": ca_file,
        "AGENTWATCH_BROKERS": "kafka://x:9093",  # unrelated keys are ignored
    }
    assert kafka_security_config(env) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "svc",
        "sasl.password": "s3cret",
        "ssl.ca.location": ca_file,
        "ssl.endpoint.identification.algorithm": "https",
    }


def test_security_config_key_forms_and_objects(ca_file: str) -> None:
    assert kafka_security_config({"SECURITY_PROTOCOL": "ssl", "ssl_cafile": ca_file}) == {
        "security.protocol": "ssl",
        "ssl.ca.location": ca_file,
        "ssl.endpoint.identification.algorithm": "https",
    }

    class Settings:  # a settings object with lowercase attributes works as well as a mapping
        security_protocol = "sasl_plaintext"
        sasl_mechanism = "PLAIN"
        sasl_username = "u"
        sasl_password = "p"
        ssl_cafile = None

    assert kafka_security_config(Settings()) == {
        "security.protocol": "sasl_plaintext",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "u",
        "sasl.password": "p",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENTWATCH_SECURITY_PROTOCOL": "tls"}, "expected one of"),
        ({"AGENTWATCH_SECURITY_PROTOCOL": "SASL_SSL", "AGENTWATCH_SASL_MECHANISM": "MD5"}, "expected one of"),
        ({"AGENTWATCH_SASL_USERNAME": "u", "AGENTWATCH_SASL_PASSWORD": "p"}, "not SASL"),
        ({"AGENTWATCH_SECURITY_PROTOCOL": "ssl", "AGENTWATCH_SASL_MECHANISM": "PLAIN"}, "not SASL"),
        ({"AGENTWATCH_SECURITY_PROTOCOL": "sasl_ssl"}, "needs AGENTWATCH_SASL_MECHANISM"),
        ({"AGENTWATCH_SECURITY_PROTOCOL": "sasl_ssl", "AGENTWATCH_SASL_MECHANISM": "PLAIN"}, "USERNAME"),
    ],
)
def test_security_config_rejects_misconfiguration(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kafka_security_config(env)


def test_security_config_error_does_not_leak_password() -> None:
    env = {"AGENTWATCH_SASL_PASSWORD": "hunter2-secret"}
    with pytest.raises(ValueError) as info:
        kafka_security_config(env)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(("protocol", "mechanism", "ssl"), [
    ("sasl-ssl", "scram_sha_256", True), ("SASL_SSL", "SCRAM-SHA-512", True), ("sasl_plaintext", "plain", False)])
def test_faust_and_librdkafka_get_the_same_security_from_any_spelling(protocol, mechanism, ssl) -> None:
    """One validated configuration: the Faust consumer can no longer use TLS where the producer does not."""
    from agentwatch.stream.app import faust_credentials

    security = kafka_security_config({"SECURITY_PROTOCOL": protocol, "SASL_MECHANISM": mechanism,
                                      "SASL_USERNAME": "u", "SASL_PASSWORD": "p"})
    creds = faust_credentials(security)
    assert creds.mechanism.value == security["sasl.mechanism"] and (creds.ssl_context is not None) == ssl
    assert security["security.protocol"] == ("sasl_ssl" if ssl else "sasl_plaintext")
    assert faust_credentials({}) is None
