"""Regenerate tests/data/scenario.otlp: the four-agent scenario, recorded as the collector would ship it.

Run: .venv/bin/python tests/data/make_scenario.py
One healthy task, a looping agent, an over-budget agent and a stalled agent (agentwatch.demo.synth),
emitted through the real SDK, encoded by the real OTLP encoder into records of 6 spans (in export
order, so a trace is split over several records), written length-prefixed (the replay format).
"""

from pathlib import Path

from agentwatch.demo.synth import emit_task, make_provider, records, scenario_tasks, tracer_for
from agentwatch.replay import write_length_prefixed

T0 = 1_790_000_000_000_000_000


def main() -> None:
    spans = []
    for task, start in scenario_tasks(T0)[:4]:  # the second healthy task is left out: four tasks, four summaries
        # Each agent runs as its own service, as in a real deployment.
        provider = make_provider(task.agent, {"k8s.namespace.name": "agents", "k8s.pod.name": f"{task.agent}-0"})
        emit_task(tracer_for(provider, task.vocab), task, start)
        spans += provider.memory_exporter.get_finished_spans()
    spans.sort(key=lambda s: s.end_time)  # the order a shared collector would see them end
    out = Path(__file__).with_name("scenario.otlp")
    with out.open("wb") as f:
        write_length_prefixed(records(spans, per_record=6), f)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
