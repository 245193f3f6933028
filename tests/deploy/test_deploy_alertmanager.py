"""helm/examples/alertmanager.yml: a valid Alertmanager config whose routes send agentwatch's severities
where the README says (critical -> pager, warning -> chat, info -> digest), checked with Debian's amtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / "helm" / "examples" / "alertmanager.yml"
pytestmark = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (prometheus-alertmanager) missing")


def _amtool(*args: str) -> str:
    out = subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_example_config_is_valid() -> None:
    assert "SUCCESS" in _amtool("check-config", str(CONFIG))


@pytest.mark.parametrize(("severity", "receiver"), [("critical", "pager"), ("warning", "chat"), ("info", "digest")])
def test_severities_route_to_their_receivers(severity: str, receiver: str) -> None:
    got = _amtool("config", "routes", "test", f"--config.file={CONFIG}", "alertname=agentwatch_token_budget",
                  f"severity={severity}", "agent=bot", "kind=token_budget")
    assert got == receiver
