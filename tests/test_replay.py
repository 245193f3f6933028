"""`agentwatch replay` on the recorded four-agent scenario, and its input formats."""

import io
from pathlib import Path

import orjson
import pytest

from agentwatch.cli import main
from agentwatch.replay import read_records, write_length_prefixed
from otel_helpers import pdata_json

SCENARIO = Path(__file__).parent / "data" / "scenario.otlp"


def replay_lines(capsys, *args):
    assert main(["replay", *map(str, args)]) == 0
    captured = capsys.readouterr()
    return [orjson.loads(line) for line in captured.out.splitlines()], captured.err


def test_scenario_prints_expected_alerts_once_and_four_summaries(capsys):
    lines, _ = replay_lines(capsys, SCENARIO)
    alerts = sorted((x["kind"], x["agent"]) for x in lines if x["type"] == "alert")
    assert alerts == [("stalled_task", "stuck-bot"), ("token_budget", "hungry-bot"), ("tool_loop", "looping-bot")]
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
    assert len([x for x in lines if x["type"] == "alert"]) == 3


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
