"""`agentwatch run` refuses to start, with one clear line, when a dependency is missing."""

import subprocess
import sys
import time

from agentwatch.local.broker import free_port


def _run(env_extra: dict[str, str]) -> tuple[int, str, float]:
    env = {"PATH": "/usr/bin:/bin", "AGENTWATCH_METRICS_PORT": str(free_port()),
           "AGENTWATCH_METRICS_HOST": "127.0.0.1", **env_extra}
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "agentwatch.cli", "run"], env=env, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stderr, time.monotonic() - t


def test_unreachable_broker_fails_after_the_bounded_wait():
    code, err, took = _run({"AGENTWATCH_BROKERS": f"kafka://127.0.0.1:{free_port()}",
                            "AGENTWATCH_BROKER_WAIT_S": "2"})
    assert code == 2 and "unreachable" in err and "AGENTWATCH_BROKERS" in err
    assert took < 30


def test_bad_policy_and_bad_setting_fail_before_connecting(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("agents:\n  - match: x\n    stall_s: -1\n")
    code, err, _ = _run({"AGENTWATCH_POLICY": str(policy)})
    assert code == 2 and "stall_s: must be positive" in err
    code, err, _ = _run({"AGENTWATCH_TASK_KEY": "span"})
    assert code == 2 and "AGENTWATCH_TASK_KEY" in err
