"""The README's main command: `agentwatch demo` prints the expected alerts and its summary, exits 0."""

import io

import pytest

from agentwatch.demo.runner import run_demo

pytestmark = pytest.mark.e2e


def test_demo_passes_and_prints_alerts_and_summary():
    out = io.StringIO()
    assert run_demo(out) == 0, out.getvalue()
    text = out.getvalue()
    for kind, agent in (("tool_loop", "looping-bot"), ("token_budget", "hungry-bot"), ("stalled_task", "stuck-bot"),
                        ("score_drift", "drifting-bot")):
        assert any(kind in line and agent in line and "ALERT" in line for line in text.splitlines()), (kind, text)
    assert not any("ALERT" in line and "healthy-bot" in line for line in text.splitlines())
    assert "healthy-bot" in text.split("summary (")[1]  # the summary table lists every agent
    assert "demo passed" in text
