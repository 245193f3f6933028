"""Task state on hand-built spans where the point is the span tree, not a vocabulary (vocabularies are
covered on real SDK spans in test_engine.py and on real instrumentations in otlp/test_frameworks.py)."""

from itertools import permutations

from agentwatch.model import AGENT, LLM, OTHER, TOOL, Resource, Span
from agentwatch.pricing import Pricer
from agentwatch.tasks import MAX_ERROR_SPANS, TaskState

RES = Resource("svc", "", "", "")
PRICER = Pricer()


def failed(span_id: str, parent_id: str, error_type: str | None, start: int = 1, kind: int = OTHER,
           error: bool = True) -> Span:
    s = Span("t" * 32, span_id, parent_id, span_id, start, start + 1, RES)
    s.error, s.error_type, s.kind = error, error_type, kind
    return s


def errors_of(*batches: list[Span]) -> dict[str, int]:
    task = TaskState("task", "t" * 32, RES)
    for batch in batches:
        task.apply(list(batch), PRICER)
    return TaskState.from_dict(task.to_dict()).error_counts()


# root (invoke_agent) > llm (chat, error.type) > http (POST, no type); a sibling tool failed on its own
CHAIN = [failed("root", "", "openai.InternalServerError", kind=AGENT),
         failed("llm", "root", "InternalServerError", kind=LLM), failed("http", "llm", None),
         failed("tool", "root", "TimeoutError", kind=TOOL)]


def test_a_failure_counts_once_not_once_per_span_it_propagates_through_whatever_the_order() -> None:
    for order in permutations(CHAIN):
        assert errors_of(list(order)) == {"InternalServerError": 1, "TimeoutError": 1}, order
        assert errors_of(*([s] for s in order)) == {"InternalServerError": 1, "TimeoutError": 1}, order


def test_failed_calls_are_the_unit_when_there_are_any() -> None:
    # OpenAI Agents: the failed generation and the failed agent are linked only through a turn span that is OK
    agents = [failed("agent", "root", None, kind=AGENT), failed("turn", "agent", None, error=False),
              failed("gen", "turn", None, kind=LLM)]
    for order in permutations(agents):
        assert errors_of(list(order)) == {"_OTHER": 1}
    # a tool failing because the LLM call inside it failed is one failure; two failed calls are two
    assert errors_of([failed("tool", "", "ToolError", kind=TOOL), failed("llm", "tool", "RateLimit", kind=LLM)]) == {
        "RateLimit": 1}
    assert errors_of([failed("a", "root", "Boom", kind=LLM), failed("b", "root", "Boom", kind=LLM),
                      failed("root", "", "Wrapped", kind=AGENT)]) == {"Boom": 2}


def test_the_task_fails_when_its_root_or_its_agent_span_failed() -> None:
    for spans, want in [([failed("root", "", None, error=False), failed("agent", "root", None, kind=AGENT)], True),
                        ([failed("root", "", None, error=False),
                          failed("agent", "root", None, kind=AGENT, error=False)], False),
                        ([failed("root", "", "X")], True)]:
        for s in spans:
            s.agent_name = "bot" if s.kind == AGENT else None
        task = TaskState("task", "t" * 32, RES)
        task.apply(spans, PRICER)
        assert TaskState.from_dict(task.to_dict()).failed is want


def test_an_untyped_failure_takes_its_nearest_typed_ancestors_type() -> None:
    assert errors_of([failed("root", "", None), failed("llm", "root", None), failed("http", "llm", None)]) == {
        "_OTHER": 1}
    assert errors_of([failed("root", "", "Boom"), failed("llm", "root", None)]) == {"Boom": 1}


def test_the_same_span_sent_twice_counts_once() -> None:
    assert errors_of([failed("a", "", "Boom")], [failed("a", "", "Boom")]) == {"Boom": 1}


def test_a_parent_cycle_in_hostile_input_terminates() -> None:
    assert errors_of([failed("a", "b", None), failed("b", "a", None)]) == {}  # each has a failed child
    # "a" is a leaf whose ancestors loop (b > c > b) without a type: the walk ends, "a" counts once
    assert errors_of([failed("a", "b", None), failed("b", "c", None), failed("c", "b", None)]) == {"_OTHER": 1}


def test_failures_beyond_the_bound_count_per_span() -> None:
    spans = [failed(f"s{i}", "", "Boom", start=i) for i in range(MAX_ERROR_SPANS + 10)]
    spans.append(failed("child", "s0", "Child", start=10_000))  # past the bound: its parent is not known to fail
    assert errors_of(spans) == {"Boom": MAX_ERROR_SPANS + 10, "Child": 1}
    task = TaskState("task", "t" * 32, RES)
    task.apply(spans, PRICER)
    assert len(task.error_spans) == MAX_ERROR_SPANS


def test_state_persisted_before_the_failure_fields_still_loads() -> None:
    task = TaskState("task", "t" * 32, RES)
    task.apply([failed("a", "", "Boom", kind=LLM)], PRICER)
    old = task.to_dict()
    del old["error_spans"], old["agent_error"]
    loaded = TaskState.from_dict(old)
    assert (loaded.error_spans, loaded.agent_error, loaded.error_counts()) == ({}, False, {})
