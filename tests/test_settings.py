import pytest

from agentwatch.settings import SettingsError, from_env


def test_defaults_and_env():
    s = from_env({})
    assert s.spans_topic == "otlp_spans" and s.metrics_port == 9464 and s.max_label_values == 200
    assert not s.aggregate_in_place
    s = from_env({"AGENTWATCH_INPUT_KEYED_BY_TRACE": "true", "AGENTWATCH_MAX_ACTIVE_TASKS": "5"})
    assert s.aggregate_in_place and s.max_active_tasks == 5
    assert not from_env({"AGENTWATCH_INPUT_KEYED_BY_TRACE": "1", "AGENTWATCH_TASK_KEY": "conversation"}
                        ).aggregate_in_place


@pytest.mark.parametrize(("env", "msg"), [
    ({"AGENTWATCH_TASK_KEY": "span"}, "AGENTWATCH_TASK_KEY"),
    ({"AGENTWATCH_METRICS_PORT": "x"}, "AGENTWATCH_METRICS_PORT must be a whole number"),
    ({"AGENTWATCH_INPUT_KEYED_BY_TRACE": "maybe"}, "true or false"),
    ({"AGENTWATCH_SPANS_ENCODING": "avro"}, "SPANS_ENCODING"),
    ({"AGENTWATCH_MAX_ACTIVE_TASKS": "0"}, "MAX_ACTIVE_TASKS must be positive"),
    ({"AGENTWATCH_MAX_INPUT_SKEW_S": "-1"}, "MAX_INPUT_SKEW_S must be 0"),
    ({"AGENTWATCH_MAX_INPUT_SKEW_S": "nan"}, "MAX_INPUT_SKEW_S must be 0"),
])
def test_bad_values_name_the_variable(env, msg):
    with pytest.raises(SettingsError, match=msg):
        from_env(env)

