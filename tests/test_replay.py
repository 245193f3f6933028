"""`agentwatch replay` on the recorded four-agent scenario, and its input formats."""

import io
from pathlib import Path

import orjson
import pytest

from agentwatch.cli import main
from agentwatch.demo.synth import Step, Task
from agentwatch.engine import Engine
from agentwatch.replay import read_records, write_length_prefixed
from otel_helpers import T0, pdata_json, record_of

SCENARIO = Path(__file__).parent / "data" / "scenario.otlp"


def replay_lines(capsys, *args):
    assert main(["replay", *map(str, args)]) == 0
    captured = capsys.readouterr()
    return [orjson.loads(line) for line in captured.out.splitlines()], captured.err


def test_scenario_prints_expected_alerts_once_and_four_summaries(capsys):
    lines, _ = replay_lines(capsys, SCENARIO)
    alerts = sorted((x["kind"], x["agent"]) for x in lines if x["type"] == "alert" and "resolves" not in x)
    assert alerts == [("stalled_task", "stuck-bot"), ("token_budget", "hungry-bot"), ("tool_loop", "looping-bot")]
    # the stuck task times out at the end of input: its stall gets its all-clear
    stall = next(x for x in lines if x.get("kind") == "stalled_task" and "resolves" not in x)
    [cleared] = [x for x in lines if "resolves" in x]
    assert cleared["resolves"] == {"alert_id": stall["alert_id"], "severity": "warning", "action": "review"}
    assert cleared["severity"] == "info" and cleared["task_id"] == stall["task_id"]
    tasks = {x["agent"]: x for x in lines if x["type"] == "task"}
    assert len([x for x in lines if x["type"] == "task"]) == 4
    assert tasks["healthy-bot"]["alerts"] == [] and tasks["healthy-bot"]["outcome"] == "ok"
    assert tasks["hungry-bot"]["tokens"]["total"] == 300_000
    assert tasks["stuck-bot"]["outcome"] == "timed_out"
    assert all(x["schema"] == "agentwatch.task/v1" for x in tasks.values())


def test_no_flush_leaves_open_tasks_unjudged(capsys):
    lines, _ = replay_lines(capsys, SCENARIO, "--no-flush")
    assert "stalled_task" not in {x.get("kind") for x in lines}


def _json_records() -> list[bytes]:
    return [orjson.dumps(pdata_json(rec)) for rec in read_records(SCENARIO)]


def test_jsonl_and_json_files_give_the_same_result(tmp_path, capsys):
    want, _ = replay_lines(capsys, SCENARIO)
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_bytes(b"\n".join(_json_records()) + b"\n")
    got, _ = replay_lines(capsys, jsonl)
    assert got == want
    one = tmp_path / "one.json"
    one.write_bytes(_json_records()[0])
    lines, _ = replay_lines(capsys, one)
    assert lines  # one record of the scenario still makes tasks


def test_bad_record_is_reported_and_skipped(tmp_path, capsys):
    recs = list(read_records(SCENARIO))
    buf = io.BytesIO()
    write_length_prefixed([recs[0], b"\x0a\xff\xff\xff\xff\x0fbad", *recs[1:]], buf)
    f = tmp_path / "bad.otlp"
    f.write_bytes(buf.getvalue())
    lines, err = replay_lines(capsys, f)
    assert "record 1: malformed" in err
    assert len([x for x in lines if x["type"] == "alert" and "resolves" not in x]) == 3


def test_truncated_file_and_missing_file(tmp_path, capsys):
    f = tmp_path / "t.otlp"
    f.write_bytes(SCENARIO.read_bytes()[:-10])
    _lines, err = replay_lines(capsys, f)
    assert "only" in err and "left" in err
    assert main(["replay", str(tmp_path / "none.otlp")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bad_policy_is_a_clear_error(tmp_path, capsys):
    p = tmp_path / "p.yaml"
    p.write_text("agents:\n  - match: x\n    tool_repeat: 0\n")
    assert main(["replay", "--policy", str(p), str(SCENARIO)]) == 2
    assert "tool_repeat: must be at least 2" in capsys.readouterr().err


@pytest.mark.parametrize("repeat", [5, 6])
def test_policy_changes_the_verdict(tmp_path, capsys, repeat):
    p = tmp_path / "p.yaml"
    p.write_text(f'agents:\n  - match: "*"\n    tool_repeat: {repeat}\n')
    lines, _ = replay_lines(capsys, "--policy", p, SCENARIO)
    loops = [x for x in lines if x.get("kind") == "tool_loop"]
    assert len(loops) == (1 if repeat == 5 else 0)


def _four_tasks_file(tmp_path: Path, bad_tokens: object = 100) -> Path:
    """Four tasks of four agents, one record each; record 1's LLM span reports `bad_tokens` input tokens."""
    tokens = [100, bad_tokens, 100, 100]
    recs = [record_of([(Task(f"bot-{i}", [Step("llm", input_tokens=n, output_tokens=5)]), T0 + i * 10**9)])  # type: ignore[arg-type]
            for i, n in enumerate(tokens)]
    buf = io.BytesIO()
    write_length_prefixed(recs, buf)
    f = tmp_path / "four.otlp"
    f.write_bytes(buf.getvalue())
    return f


def test_invalid_value_is_reported_and_every_task_summarized(tmp_path, capsys):
    lines, err = replay_lines(capsys, _four_tasks_file(tmp_path, float("nan")))
    tasks = {x["agent"]: x for x in lines if x["type"] == "task"}
    assert sorted(tasks) == ["bot-0", "bot-1", "bot-2", "bot-3"]
    assert tasks["bot-1"]["tokens"]["input"] == 0 and tasks["bot-1"]["tokens"]["output"] == 5
    assert tasks["bot-0"]["tokens"]["input"] == 100
    assert err.splitlines() == [f"{tmp_path / 'four.otlp'}: record 1: invalid_value: span 'chat gpt-4o-mini' "
                                "attribute gen_ai.usage.input_tokens: nan is not a token count"]


def test_internal_error_skips_only_its_record(tmp_path, capsys, monkeypatch):
    calls = []
    process = Engine.process

    def flaky(self, spans, *args, **kwargs):
        calls.append(len(spans))
        if len(calls) == 2:
            raise RuntimeError("boom\nsecond line")
        return process(self, spans, *args, **kwargs)

    monkeypatch.setattr(Engine, "process", flaky)
    lines, err = replay_lines(capsys, _four_tasks_file(tmp_path))
    assert len(calls) == 4
    assert sorted(x["agent"] for x in lines if x["type"] == "task") == ["bot-0", "bot-2", "bot-3"]
    assert f"{tmp_path / 'four.otlp'}: record 1: internal_error: RuntimeError: boom\n" in err
    assert "Traceback (most recent call last)" in err and "second line" in err
