"""rotel flags from collector-config/rotel.args, for the deploy tests and end-to-end tests.

`ROTEL_FLAGS` is the argv list after `rotel-agent start` (comments dropped). `rotel_argv()` swaps in a
test broker and loopback endpoints so a test can run the same configuration locally.
"""

from __future__ import annotations

import shlex
from pathlib import Path

ROTEL_ARGS_FILE = Path(__file__).resolve().parents[2] / "collector-config" / "rotel.args"


def read_flags(path: Path = ROTEL_ARGS_FILE) -> list[str]:
    flags: list[str] = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            flags.extend(shlex.split(line))
    return flags


ROTEL_FLAGS: list[str] = read_flags()


def flag_value(flag: str, flags: list[str] = ROTEL_FLAGS) -> str:
    """Value following `flag` (KeyError if absent)."""
    if flag not in flags:
        raise KeyError(flag)
    return flags[flags.index(flag) + 1]


def rotel_argv(brokers: str, grpc_endpoint: str = "127.0.0.1:4317", http_endpoint: str = "127.0.0.1:4318",
               **overrides: str) -> list[str]:
    """ROTEL_FLAGS with the brokers and endpoints replaced; overrides use flag names without dashes,
    underscores for hyphens (traces_batch_max_size="256")."""
    flags = list(ROTEL_FLAGS)
    values = {"--kafka-exporter-brokers": brokers, "--otlp-grpc-endpoint": grpc_endpoint,
              "--otlp-http-endpoint": http_endpoint}
    values.update({"--" + k.replace("_", "-"): v for k, v in overrides.items()})
    for flag, value in values.items():
        if flag in flags:
            flags[flags.index(flag) + 1] = value
        else:
            flags += [flag, value]
    return flags
