"""End to end, the feedback loop of tail-keep: a looping task flagged live (OTel SDK -> rotel -> tansu -> worker
-> agentwatch.flagged) -> `agentwatch export` -> `agentwatch replay --expect` raises the same tool_loop alert
(same ID), in both export formats; a healthy task is never exported; the metrics count what was kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka_helpers import consume
from test_worker_e2e import POLICY, Stack, _start_stack

from agentwatch.cli import main
from agentwatch.demo.synth import Step, Task

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _start_stack(tmp_path_factory)


def _looping(agent: str) -> Task:
    return Task(agent, [Step("llm", input_tokens=10, output_tokens=1),
                        *[Step("tool", tool="search", args={"q": "paris"}) for _ in range(4)],
                        Step("llm", input_tokens=10, output_tokens=1)])


def _healthy(agent: str) -> Task:
    return Task(agent, [Step("llm", input_tokens=10, output_tokens=1), Step("tool", tool="search", args={"q": 1})])


def _replay(capsys: pytest.CaptureFixture[str], policy: Path, *args: str) -> tuple[int, list[dict], str]:
    code = main(["replay", "--policy", str(policy), *args])
    out = capsys.readouterr()
    return code, [orjson.loads(line) for line in out.out.splitlines()], out.err


def test_a_flagged_loop_exports_and_replays_to_the_same_alert(stack: Stack, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    start = time.time_ns() - 60 * 10**9
    loop_id, healthy_id = stack.emit([(_looping("keep-looper"), start), (_healthy("keep-healthy"), start)])
    flagged = consume(stack.broker.bootstrap, "agentwatch.flagged", timeout_s=60,
                      until=lambda recs: any(r.key == loop_id.encode() for r in recs))
    assert any(r.key == loop_id.encode() for r in flagged), "the looping task was not flagged"
    consume(stack.broker.bootstrap, "agentwatch.tasks", timeout_s=60,
            until=lambda recs: healthy_id in {orjson.loads(r.value)["trace_id"] for r in recs})
    live = [orjson.loads(r.value) for r in consume(stack.broker.bootstrap, "agentwatch.alerts", timeout_s=5,
                                                   until=lambda recs: False)]
    (live_loop,) = [a for a in live if a["trace_id"] == loop_id and a["kind"] == "tool_loop"]
    assert all(r.key != healthy_id.encode() for r in flagged), "a healthy task was flagged"

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    for fmt in ("otlp", "otlp-json"):
        out = tmp_path / f"incidents.{fmt}"
        assert main(["export", "--brokers", stack.broker.url, "--out", str(out), "--format", fmt,
                     "--agent", "keep-*", "--since", "1h", "--timeout", "20"]) == 0
        expected = orjson.loads(out.with_name(out.name + ".expected.json").read_bytes())
        assert [t["task_id"] for t in expected["tasks"]] == [loop_id]
        assert live_loop["alert_id"] in expected["tasks"][0]["alert_ids"]
        code, rows, err = _replay(capsys, policy, str(out), "--expect", str(out) + ".expected.json")
        assert code == 0, err
        replayed = [r for r in rows if r["type"] == "alert" and r["kind"] == "tool_loop"]
        assert [a["alert_id"] for a in replayed] == [live_loop["alert_id"]]
        (summary,) = [r for r in rows if r["type"] == "task"]
        assert summary["task_id"] == loop_id and summary["tool_calls"] == 4

    # The gate fails when the policy would no longer catch the incident.
    code, _, err = _replay(capsys, _write(tmp_path / "lax.yaml", POLICY.replace("tool_repeat: 3", "tool_repeat: 9")),
                           str(tmp_path / "incidents.otlp"), "--expect", str(tmp_path / "incidents.otlp.expected.json"))
    assert code == 1 and "missing tool_loop alert" in err

    text = stack.worker.metrics()
    series = 'agentwatch_tail_keep_tasks_total{reason="alert",status="kept"}'
    kept = [ln for ln in text.splitlines() if ln.startswith(series)]
    assert kept and float(kept[0].rsplit(" ", 1)[1]) >= 1
    assert "agentwatch_tail_keep_buffer_bytes" in text


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
