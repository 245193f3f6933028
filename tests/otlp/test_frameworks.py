"""Conformance: `agentwatch replay` on spans recorded from real instrumentations (tests/data/frameworks/*/)
gives the numbers the instrumentation and its fake model reported (each directory's expected.json), with no
double count. Each directory has the script that records it again (record.sh) and NOTES.md on its keys.

`not_emitted` in expected.json lists what the task did (the fake returned reasoning tokens, a tool ran) that
no span of that instrumentation records: agentwatch must then count 0, not make it up. `not_read` lists what
agentwatch does not count right from these spans (they say it but it is not read, or they keep only a part
of it): a ✗ in the README's table, with the reason in NOTES.md; nothing is asserted for those fields.

The README's conformance table has one row per directory; every ✓ in it is one of the checks below.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agentwatch.cli import main
from agentwatch.model import TOOL
from agentwatch.otlp.decode import decode_record
from agentwatch.replay import read_records

FRAMEWORKS = Path(__file__).resolve().parents[1] / "data" / "frameworks"
FIXTURES = sorted(p.parent for p in FRAMEWORKS.rglob("expected.json"))


def _replay(capsys: pytest.CaptureFixture[str], d: Path) -> dict[str, dict]:
    inputs = [p for p in (d / "spans.json", d / "spans.otlp") if p.exists()]
    assert inputs, f"{d} has no spans.json or spans.otlp"
    assert main(["replay", *map(str, inputs)]) == 0
    out = capsys.readouterr()
    assert "internal_error" not in out.err, out.err
    tasks = [orjson.loads(line) for line in out.out.splitlines()]
    return {t["trace_id"]: t for t in tasks if t["type"] == "task"}


@pytest.mark.parametrize("fixture", FIXTURES, ids=[str(p.relative_to(FRAMEWORKS)) for p in FIXTURES])
def test_replay_matches_the_instrumentation(capsys: pytest.CaptureFixture[str], fixture: Path) -> None:
    expected = orjson.loads((fixture / "expected.json").read_bytes())
    got = _replay(capsys, fixture)
    for want in expected["tasks"]:
        task = got.get(want["trace_id"])
        assert task is not None, f"no summary for trace {want['trace_id']} (have {sorted(got)})"
        where = f"{fixture.relative_to(FRAMEWORKS)} trace {want['trace_id']}"
        # What the task did but no span of this instrumentation says: nothing may be made up for it.
        missing = set(want.get("not_emitted", ()))
        unread = set(want.get("not_read", ()))
        if "llm_calls" not in unread:
            assert task["llm_calls"] == want["llm_calls"], where
        if "tool_calls" in missing:
            assert (task["tool_calls"], task["tools"]) == (0, {}), where
        else:
            assert task["tool_calls"] == want["tool_calls"], where
            assert task["tools"] == want["tools"], where
        for field in ("input", "output", "cache_read", "reasoning", "total"):
            if "tokens" in unread:
                break
            n = 0 if f"tokens.{field}" in missing else want["tokens"][field]
            assert task["tokens"][field] == n, f"{where}: tokens.{field}"
        if "models" not in unread:
            assert sorted(task["models"]) == sorted(want["models"]), where
        if want.get("agent") and "agent" not in unread and "agent" not in missing:
            assert task["agent"] == want["agent"], where
        if want.get("errors") is not None and "errors" not in unread:
            assert task["errors"] == want["errors"], where
        if want.get("tool_args_recorded") and "tool_calls" not in missing:
            # loop detection compares tool calls by their arguments: every tool span must have them
            assert want["trace_id"] in _traces_with_tool_args(fixture), where


def _traces_with_tool_args(d: Path) -> set[str]:
    """Traces whose tool spans all carry arguments (the loop detector's call signature)."""
    spans = [s for p in (d / "spans.json", d / "spans.otlp") if p.exists()
             for rec in read_records(p) for s in decode_record(rec, max_bytes=1 << 30).spans if s.kind == TOOL]
    return {s.trace_id for s in spans} - {s.trace_id for s in spans if s.args_hash is None}
