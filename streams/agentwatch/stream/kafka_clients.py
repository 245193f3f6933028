"""The one Kafka client configuration: every client agentwatch creates is configured from here.

`AGENTWATCH_BROKERS` and the security variables are validated and normalised once, into librdkafka keys
(`kafka_security_config`); the librdkafka producer (stream/producer.py), the AdminClient
(stream/kafka_admin.py) and the consumers of `doctor`, `alerts` and the demo (`consumer`) take those keys
as they are, and Faust/aiokafka gets credentials derived from the same keys (`stream/app.faust_credentials`),
so the two libraries can never disagree on a spelling (`sasl-ssl`, `scram_sha_256`...). An invalid
combination raises ValueError naming the variable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("agentwatch.kafka")

DEFAULT_PORT = 9092
_SECURITY_PROTOCOLS = ("plaintext", "ssl", "sasl_plaintext", "sasl_ssl")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")


def bootstrap_from_url(url: str) -> str:
    """Faust broker URL(s) -> librdkafka bootstrap servers.

    "kafka://h:p,h2:p2" -> "h:p,h2:p2"; Faust's ";"-separated form "kafka://h:p;kafka://h2:p2" and bare
    "h:p" are accepted too; a missing port becomes 9092 (Faust's default).
    """
    hosts: list[str] = []
    for part in url.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            part = part.split("://", 1)[1]
        part = part.split("/", 1)[0]
        if not part:
            continue
        has_port = part.rsplit(":", 1)[-1].isdigit() and (not part.startswith("[") or "]:" in part)
        hosts.append(part if has_port else f"{part}:{DEFAULT_PORT}")
    if not hosts:
        raise ValueError(f"no broker address in {url!r}")
    return ",".join(hosts)


def _setting(settings: Any, name: str) -> str | None:
    """Read SECURITY_PROTOCOL etc. from a mapping (env-style keys, with or without AGENTWATCH_, any case) or
    from an object's lowercase attributes (a Settings instance)."""
    if isinstance(settings, Mapping):
        for key in (f"AGENTWATCH_{name}", name, f"agentwatch_{name}".lower(), name.lower()):
            if key in settings:
                value = settings[key]
                break
        else:
            return None
    else:
        value = getattr(settings, name.lower(), None)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def kafka_security_config(settings: Mapping[str, Any] | Any | None) -> dict[str, str]:
    """AGENTWATCH_SECURITY_PROTOCOL / SASL_MECHANISM / SASL_USERNAME / SASL_PASSWORD / SSL_CAFILE -> librdkafka
    keys (`security.protocol`, `sasl.mechanism`, `sasl.username`, `sasl.password`, `ssl.ca.location`).

    Unset or empty values are left out (librdkafka defaults apply). Raises ValueError on combinations that
    librdkafka would accept but silently ignore or misuse (SASL credentials without a SASL protocol, SASL
    without a mechanism — librdkafka would fall back to GSSAPI).
    """
    if settings is None:
        return {}
    out: dict[str, str] = {}
    protocol = _setting(settings, "SECURITY_PROTOCOL")
    mechanism = _setting(settings, "SASL_MECHANISM")
    username = _setting(settings, "SASL_USERNAME")
    password = _setting(settings, "SASL_PASSWORD")
    cafile = _setting(settings, "SSL_CAFILE")

    if protocol is not None:
        protocol = protocol.lower().replace("-", "_")
        if protocol not in _SECURITY_PROTOCOLS:
            raise ValueError(
                f"AGENTWATCH_SECURITY_PROTOCOL={protocol!r}: expected one of {', '.join(_SECURITY_PROTOCOLS)}"
            )
        out["security.protocol"] = protocol
    is_sasl = protocol is not None and protocol.startswith("sasl_")

    if mechanism is not None:
        mechanism = mechanism.upper().replace("_", "-")
        mechanism = {"SCRAM-SHA256": "SCRAM-SHA-256", "SCRAM-SHA512": "SCRAM-SHA-512"}.get(mechanism, mechanism)
        if mechanism not in _SASL_MECHANISMS:
            raise ValueError(f"AGENTWATCH_SASL_MECHANISM={mechanism!r}: expected one of {', '.join(_SASL_MECHANISMS)}")
    if (mechanism or username or password) and not is_sasl:
        raise ValueError("AGENTWATCH_SASL_* is set but AGENTWATCH_SECURITY_PROTOCOL is not SASL_PLAINTEXT or SASL_SSL")
    if is_sasl:
        if mechanism is None:
            raise ValueError(f"AGENTWATCH_SECURITY_PROTOCOL={protocol} needs AGENTWATCH_SASL_MECHANISM")
        if mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512") and not (username and password):
            raise ValueError(f"SASL {mechanism} needs AGENTWATCH_SASL_USERNAME and AGENTWATCH_SASL_PASSWORD")
        out["sasl.mechanism"] = mechanism
        if username is not None:
            out["sasl.username"] = username
        if password is not None:
            out["sasl.password"] = password
    if cafile is not None:
        out["ssl.ca.location"] = cafile
    return out


def consumer(bootstrap: str, security: Mapping[str, str] | None, **conf: Any) -> Any:
    """A confluent-kafka Consumer (the CLI tools' and the demo's) on this configuration; `conf` adds settings."""
    from confluent_kafka import Consumer

    return Consumer({"bootstrap.servers": bootstrap, "logger": log, **(security or {}), **conf})
