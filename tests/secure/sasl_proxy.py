"""A SASL-authenticating Kafka front for tests: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 in front of a plain broker.

tansu 0.6 cannot authenticate anybody here (see README "Secure Kafka"): its in-memory and S3 stores accept
`AlterUserScramCredentials` but keep nothing, and it offers no PLAIN. This front does the broker's half of
SASL (RFC 4616 PLAIN, RFC 5802/7677 SCRAM, as Kafka frames it: SaslHandshake v0/v1, SaslAuthenticate
v0-v2 or v0's bare tokens), and once a connection has authenticated it pumps bytes to the broker untouched.
Before that, only ApiVersions is forwarded (as Kafka allows); any other request closes the connection.

    python sasl_proxy.py --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT --users users.json

`users.json` maps user name -> password. Passwords are never logged; every accepted or refused login is,
as one line on stdout, with the user and mechanism.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import struct
import sys

SASL_HANDSHAKE, SASL_AUTHENTICATE, API_VERSIONS = 17, 36, 18
UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED = 33, 34, 58
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
ITERATIONS = 4096
MAX_FRAME = 1 << 20  # pre-authentication frames are small; anything bigger is refused


class AuthFailed(Exception):
    """The client's credentials are wrong (unknown user, wrong password, malformed exchange)."""


def log(msg: str) -> None:
    print(msg, flush=True)


# -- Kafka framing ------------------------------------------------------------------------------------------


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    if not 0 <= size <= MAX_FRAME:
        raise ConnectionError(f"frame of {size} bytes before authentication")
    return await reader.readexactly(size)


def frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return n, pos
        shift += 7


def skip_tagged(buf: bytes, pos: int) -> int:
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
    return pos


def parse_request(buf: bytes) -> tuple[int, int, int, bytes]:
    """-> (api_key, api_version, correlation_id, body) for the requests this front answers itself."""
    api_key, version, correlation = struct.unpack(">hhi", buf[:8])
    (client_len,) = struct.unpack(">h", buf[8:10])
    pos = 10 + max(client_len, 0)
    if api_key == SASL_AUTHENTICATE and version >= 2:  # flexible: the header has tagged fields
        pos = skip_tagged(buf, pos)
    return api_key, version, correlation, buf[pos:]


def handshake_response(correlation: int, error: int) -> bytes:
    names = b"".join(struct.pack(">h", len(m)) + m.encode() for m in MECHANISMS)
    return frame(struct.pack(">ihi", correlation, error, len(MECHANISMS)) + names)


def authenticate_response(correlation: int, version: int, error: int, message: str | None, data: bytes) -> bytes:
    if version >= 2:  # flexible: compact fields, tagged fields in header and body
        msg = b"\x00" if message is None else uvarint(len(message.encode()) + 1) + message.encode()
        body = (struct.pack(">i", correlation) + b"\x00" + struct.pack(">h", error) + msg
                + uvarint(len(data) + 1) + data + struct.pack(">q", 0) + b"\x00")
        return frame(body)
    msg = struct.pack(">h", -1) if message is None else struct.pack(">h", len(message.encode())) + message.encode()
    body = struct.pack(">ih", correlation, error) + msg + struct.pack(">i", len(data)) + data
    if version >= 1:
        body += struct.pack(">q", 0)  # session_lifetime_ms: no re-authentication
    return frame(body)


def authenticate_bytes(version: int, body: bytes) -> bytes:
    if version >= 2:
        size, pos = read_uvarint(body, 0)
        return body[pos:pos + size - 1]
    (size,) = struct.unpack(">i", body[:4])
    return body[4:4 + size]


# -- mechanisms ---------------------------------------------------------------------------------------------


class Plain:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.user = "?"
        self.done = False

    def step(self, token: bytes) -> bytes:
        try:
            _authz, user, password = token.decode().split("\x00")
        except ValueError:
            raise AuthFailed("malformed PLAIN token") from None
        self.user = user
        if user not in self.users or not hmac.compare_digest(self.users[user].encode(), password.encode()):
            raise AuthFailed("invalid credentials")
        self.done = True
        return b""


class Scram:
    def __init__(self, users: dict[str, str], mechanism: str) -> None:
        self.users = users
        self.hash = hashlib.sha256 if mechanism == "SCRAM-SHA-256" else hashlib.sha512
        self.user = "?"
        self.done = False
        self._first: tuple[str, str, bytes] | None = None  # client-first-bare, server-first, salted password

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash).digest()

    def step(self, token: bytes) -> bytes:
        text = token.decode(errors="replace")
        if self._first is None:
            return self._server_first(text)
        return self._server_final(text)

    def _server_first(self, text: str) -> bytes:
        parts = text.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y"):
            raise AuthFailed("malformed client-first message")
        bare = parts[2]
        attrs = dict(a.split("=", 1) for a in bare.split(",") if "=" in a)
        if "n" not in attrs or "r" not in attrs:
            raise AuthFailed("client-first message without user or nonce")
        self.user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
        salt = hashlib.sha256(self.user.encode()).digest()[:16]  # a fixed salt per user: deterministic test runs
        # An unknown user still gets a challenge (as Kafka does) and fails at the proof.
        password = self.users.get(self.user, os.urandom(16).hex())
        salted = hashlib.pbkdf2_hmac(self.hash().name, password.encode(), salt, ITERATIONS)
        nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
        server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={ITERATIONS}"
        self._first = (bare, server_first, salted)
        return server_first.encode()

    def _server_final(self, text: str) -> bytes:
        assert self._first is not None
        bare, server_first, salted = self._first
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        nonce = server_first.split(",", 1)[0]
        if not sep or f",{nonce}" not in f",{without_proof}":
            raise AuthFailed("malformed client-final message")
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        client_key = self._hmac(salted, b"Client Key")
        stored_key = self.hash(client_key).digest()
        signature = self._hmac(stored_key, auth_message)
        try:
            proof = base64.b64decode(proof_b64, validate=True)
        except ValueError:
            raise AuthFailed("malformed proof") from None
        recovered = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if self.user not in self.users or not hmac.compare_digest(self.hash(recovered).digest(), stored_key):
            raise AuthFailed("invalid credentials")
        self.done = True
        server_key = self._hmac(salted, b"Server Key")
        return b"v=" + base64.b64encode(self._hmac(server_key, auth_message))


# -- connections --------------------------------------------------------------------------------------------


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def authenticate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter,
                       users: dict[str, str]) -> bool:
    """Run the SASL exchange; True once the client has authenticated, False if it must be disconnected."""
    mech: Plain | Scram | None = None
    bare_tokens = False  # SaslHandshake v0: tokens follow as bare frames
    name = "?"
    while True:
        buf = await read_frame(reader)
        if bare_tokens and mech is not None:
            try:
                writer.write(frame(mech.step(buf)))
            except AuthFailed as exc:
                log(f"refused user={mech.user} mechanism={name}: {exc}")
                return False
        else:
            api_key, version, correlation, body = parse_request(buf)
            if api_key == API_VERSIONS:
                up_writer.write(frame(buf))
                await up_writer.drain()
                writer.write(frame(await read_frame(up_reader)))
            elif api_key == SASL_HANDSHAKE:
                (size,) = struct.unpack(">h", body[:2])
                name = body[2:2 + size].decode(errors="replace")
                if name not in MECHANISMS:
                    writer.write(handshake_response(correlation, UNSUPPORTED_SASL_MECHANISM))
                    await writer.drain()
                    log(f"refused mechanism={name}: not offered")
                    return False
                mech = Plain(users) if name == "PLAIN" else Scram(users, name)
                bare_tokens = version == 0
                writer.write(handshake_response(correlation, 0))
            elif api_key == SASL_AUTHENTICATE and mech is not None:
                try:
                    out = mech.step(authenticate_bytes(version, body))
                except AuthFailed as exc:
                    message = f"Authentication failed during authentication due to {exc} with SASL mechanism {name}"
                    writer.write(authenticate_response(correlation, version, SASL_AUTHENTICATION_FAILED, message, b""))
                    await writer.drain()
                    log(f"refused user={mech.user} mechanism={name}: {exc}")
                    return False
                writer.write(authenticate_response(correlation, version, 0, None, out))
            else:
                log(f"refused: request {api_key} before authentication")
                return False
        await writer.drain()
        if mech is not None and mech.done:
            log(f"authenticated user={mech.user} mechanism={name}")
            return True


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: tuple[str, int],
                       users: dict[str, str]) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection(*upstream)
    except OSError:
        writer.close()
        return
    try:
        ok = await authenticate(reader, writer, up_reader, up_writer, users)
    except (asyncio.IncompleteReadError, ConnectionError, OSError, struct.error, IndexError, UnicodeDecodeError):
        ok = False
    if not ok:
        writer.close()
        up_writer.close()
        return
    await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


def hostport(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", type=hostport, required=True)
    p.add_argument("--upstream", type=hostport, required=True)
    p.add_argument("--users", required=True, help="JSON file: user -> password")
    args = p.parse_args(argv)
    with open(args.users) as f:
        users = json.load(f)
    server = await asyncio.start_server(lambda r, w: serve_client(r, w, args.upstream, users), *args.listen)
    log(f"listening on {args.listen[0]}:{args.listen[1]}, upstream {args.upstream[0]}:{args.upstream[1]}")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
