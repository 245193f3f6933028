import pytest

from agentwatch.policy import DEFAULT_RULE, PolicyError, load_policy, parse_policy

GOOD = """
agents:
  - match: "support-*"
    task_tokens: 1000
    task_cost_usd: 0.5
    stall_s: null
  - match: "*"
    tool_repeat: 4
prices:
  my-finetune: {input: 0.5, output: 1.5}
"""


def test_first_matching_glob_wins_and_missing_keys_take_defaults():
    policy = parse_policy(GOOD)
    support = policy.rule_for("support-bot")
    assert support.task_tokens == 1000 and support.task_cost_usd == 0.5
    assert support.stall_s is None  # explicit null turns the check off
    assert support.tool_repeat == DEFAULT_RULE.tool_repeat
    other = policy.rule_for("billing-bot")
    assert other.match == "*" and other.tool_repeat == 4 and other.task_tokens == DEFAULT_RULE.task_tokens
    assert policy.prices == {"my-finetune": {"input": 0.5, "output": 1.5}}


def test_no_fallback_rule_uses_built_in_defaults():
    policy = parse_policy('agents:\n  - match: "a-*"\n    task_tokens: 5\n')
    assert policy.rule_for("zzz") is DEFAULT_RULE


@pytest.mark.parametrize(("text", "expected"), [
    ('agents:\n  - match: "x"\n    task_tokens: lots\n', ":3: agents.0.task_tokens: expected a number"),
    ('agents:\n  - match: "x"\n    tool_repeat: 1\n', ":3: agents.0.tool_repeat: must be at least 2"),
    ('agents:\n  - match: "x"\n    tokens: 5\n', ":3: agents.0.tokens.<key>: unknown key"),
    ('agents:\n  - task_tokens: 5\n', ":2: agents.0: 'match'"),
    ('agent:\n  - match: x\n', ":1: agent.<key>: unknown key"),
    ('prices:\n  m: {input: 1}\n', ":2: prices.m: expected {input"),
    ('agents: [\n', "not valid YAML"),
])
def test_errors_name_line_and_field(text, expected):
    with pytest.raises(PolicyError) as exc:
        parse_policy(text, "p.yaml")
    assert expected in str(exc.value)
    assert str(exc.value).startswith("p.yaml")


def test_load_policy_missing_file_and_defaults(tmp_path):
    assert load_policy(None).rules == ()
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")
    f = tmp_path / "p.yaml"
    f.write_text(GOOD)
    assert load_policy(f).source == str(f)
