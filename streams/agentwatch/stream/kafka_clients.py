"""The one Kafka client configuration: every client agentwatch creates is configured from here.

`AGENTWATCH_BROKERS` and the security variables are validated and normalised once, into librdkafka keys
(`kafka_security_config`); the librdkafka producer (stream/producer.py), the AdminClient
(stream/kafka_admin.py) and the consumers of `doctor`, `alerts`, `export` and the demo (`consumer`,
`read_topic`) take those keys as they are, and Faust/aiokafka gets credentials derived from the same
keys (`stream/app.faust_credentials`), so the two libraries can never disagree on a spelling
(`sasl-ssl`, `scram_sha_256`...). An invalid combination raises ValueError naming the variable.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..settings import BOOL_WORDS

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


def _readable(var: str, path: str) -> str:
    """A file the worker must read at start: fail now, naming the variable, rather than in a client."""
    if not os.path.isfile(path):
        raise ValueError(f"AGENTWATCH_{var}={path}: no such file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"AGENTWATCH_{var}={path}: not readable by this user")
    return path


def kafka_security_config(settings: Mapping[str, Any] | Any | None) -> dict[str, str]:
    """AGENTWATCH_SECURITY_PROTOCOL / SASL_* / SSL_* -> librdkafka keys.

    SASL_MECHANISM, SASL_USERNAME, SASL_PASSWORD -> `sasl.mechanism`, `sasl.username`, `sasl.password`;
    SSL_CAFILE -> `ssl.ca.location`; SSL_CERTFILE, SSL_KEYFILE, SSL_KEY_PASSWORD (mTLS) ->
    `ssl.certificate.location`, `ssl.key.location`, `ssl.key.password`; SSL_CHECK_HOSTNAME (default true)
    -> `ssl.endpoint.identification.algorithm` `https` or `none`.

    Unset or empty values are left out (librdkafka defaults apply). Raises ValueError, naming the variable
    and never a secret's value, on combinations that a client would reject late, or silently ignore or
    misuse: SASL settings without a SASL protocol, SASL without a mechanism (librdkafka would fall back to
    GSSAPI), TLS files without a TLS protocol, a certificate without its key, a file that cannot be read or
    a key that does not match its certificate.
    """
    if settings is None:
        return {}
    out: dict[str, str] = {}
    protocol = _setting(settings, "SECURITY_PROTOCOL")
    mechanism = _setting(settings, "SASL_MECHANISM")
    username = _setting(settings, "SASL_USERNAME")
    password = _setting(settings, "SASL_PASSWORD")
    tls_files = {var: _setting(settings, var) for var in ("SSL_CAFILE", "SSL_CERTFILE", "SSL_KEYFILE")}
    key_password = _setting(settings, "SSL_KEY_PASSWORD")
    check_hostname = _setting(settings, "SSL_CHECK_HOSTNAME")

    if protocol is not None:
        protocol = protocol.lower().replace("-", "_")
        if protocol not in _SECURITY_PROTOCOLS:
            raise ValueError(
                f"AGENTWATCH_SECURITY_PROTOCOL={protocol!r}: expected one of {', '.join(_SECURITY_PROTOCOLS)}"
            )
        out["security.protocol"] = protocol
    is_sasl = protocol is not None and protocol.startswith("sasl_")
    is_tls = protocol in ("ssl", "sasl_ssl")

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

    if check_hostname is not None and check_hostname.lower() not in BOOL_WORDS:
        raise ValueError(f"AGENTWATCH_SSL_CHECK_HOSTNAME must be true or false, got {check_hostname!r}")
    verify_hostname = check_hostname is None or BOOL_WORDS[check_hostname.lower()]
    set_tls = [var for var, value in tls_files.items() if value] + (["SSL_KEY_PASSWORD"] if key_password else [])
    if not verify_hostname:
        set_tls.append("SSL_CHECK_HOSTNAME")
    if set_tls and not is_tls:
        raise ValueError(f"AGENTWATCH_{set_tls[0]} is set but AGENTWATCH_SECURITY_PROTOCOL is not SSL or SASL_SSL")
    if bool(tls_files["SSL_CERTFILE"]) != bool(tls_files["SSL_KEYFILE"]):
        have, need = ("SSL_CERTFILE", "SSL_KEYFILE") if tls_files["SSL_CERTFILE"] else ("SSL_KEYFILE", "SSL_CERTFILE")
        raise ValueError(f"AGENTWATCH_{have} needs AGENTWATCH_{need} (a client certificate and its private key)")
    if key_password and not tls_files["SSL_KEYFILE"]:
        raise ValueError("AGENTWATCH_SSL_KEY_PASSWORD is set but AGENTWATCH_SSL_KEYFILE is not")
    for var, key in (("SSL_CAFILE", "ssl.ca.location"), ("SSL_CERTFILE", "ssl.certificate.location"),
                     ("SSL_KEYFILE", "ssl.key.location")):
        if tls_files[var]:
            out[key] = _readable(var, tls_files[var])
    if key_password:
        out["ssl.key.password"] = key_password
    if is_tls:
        out["ssl.endpoint.identification.algorithm"] = "https" if verify_hostname else "none"
        tls_context(out)  # a bad CA bundle, certificate or key fails here, once, with the variable named
    return out


def tls_context(security: Mapping[str, str]) -> ssl.SSLContext:
    """The TLS context for Python clients (Faust/aiokafka) from the librdkafka keys: same CA, client
    certificate and hostname check as librdkafka. Raises ValueError naming the variable on a bad file."""
    try:
        context = ssl.create_default_context(cafile=security.get("ssl.ca.location"))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"AGENTWATCH_SSL_CAFILE={security.get('ssl.ca.location')}: not a PEM CA bundle "
                         f"({_ssl_reason(exc)})") from None
    if "ssl.certificate.location" in security:
        try:
            context.load_cert_chain(security["ssl.certificate.location"], security.get("ssl.key.location"),
                                    password=security.get("ssl.key.password"))
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"AGENTWATCH_SSL_CERTFILE / AGENTWATCH_SSL_KEYFILE: cannot load the client certificate "
                             f"and key ({_ssl_reason(exc)}; a wrong AGENTWATCH_SSL_KEY_PASSWORD fails the same way)"
                             ) from None
    if security.get("ssl.endpoint.identification.algorithm") == "none":
        context.check_hostname = False  # the chain is still verified (CERT_REQUIRED)
    return context


def _ssl_reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__


def consumer(bootstrap: str, security: Mapping[str, str] | None, **conf: Any) -> Any:
    """A confluent-kafka Consumer (the CLI tools' and the demo's) on this configuration; `conf` adds settings."""
    from confluent_kafka import Consumer

    return Consumer({"bootstrap.servers": bootstrap, "logger": log, **(security or {}), **conf})


class TopicUnavailable(RuntimeError):
    """The broker or the topic is not there; the message says which."""


def read_topic(bootstrap: str, topic: str, emit: Callable[[Any], None], *, group: str,
               from_beginning: bool = False, follow: bool = True, timeout_s: float = 10.0,
               security: Mapping[str, str] | None = None, warn: Callable[[str], None] = print,
               stop: Callable[[], bool] = lambda: False, logger: logging.Logger | None = None) -> None:
    """Call `emit(message)` for each record of every partition of `topic` (the CLI readers: alerts, export).

    Manual assignment, never a group join (`group` only names the client) and no commits: a reader wants
    records at once and several may read side by side. follow=False: return once every partition's end
    (as of the start) is reached, or after `timeout_s` (with a warning). follow=True: wait for the topic to
    exist and run until `stop()`. Raises `TopicUnavailable` if the broker does not answer within `timeout_s`
    (or, with follow=False, the topic does not exist)."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    c = consumer(bootstrap, security, **{"group.id": group, "enable.auto.commit": False,
                                         "enable.partition.eof": True, "allow.auto.create.topics": False},
                 **({"logger": logger} if logger else {}))
    try:
        waited = False
        while True:
            try:  # whole-cluster metadata: asking for one topic by name would create it on tansu
                meta = c.list_topics(timeout=max(timeout_s, 0.1)).topics.get(topic)
            except KafkaException as exc:
                raise TopicUnavailable(f"Kafka broker at {bootstrap} did not answer within {timeout_s:g}s "
                                       f"({exc.args[0].str() if exc.args else exc})") from None
            if meta is not None and meta.error is None and meta.partitions:
                break
            if not follow:
                raise TopicUnavailable(f"topic {topic!r} does not exist on {bootstrap} (`agentwatch run` creates it)")
            if not waited:
                warn(f"waiting for topic {topic!r} to exist on {bootstrap}…")
                waited = True
            if stop():
                return
            time.sleep(1.0)
        start = -2 if from_beginning else -1  # OFFSET_BEGINNING / OFFSET_END
        c.assign([TopicPartition(topic, p, start) for p in sorted(meta.partitions)])
        pending = set(meta.partitions)
        deadline = time.monotonic() + timeout_s
        while not stop():
            if not follow and (not pending or time.monotonic() >= deadline):
                if pending:
                    warn(f"stopped after {timeout_s:g}s before reaching the end of {topic!r}")
                break
            for m in c.consume(500, timeout=0.2):
                err = m.error()
                if err is None:
                    emit(m)
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(m.partition())
                else:
                    warn(f"{topic}: {err.str()}")
    finally:
        c.close()
