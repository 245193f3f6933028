"""Evaluation events sent as OTLP logs through rotel's logs exporter reach the agent's baseline, and a
drop in score fires score_drift. Event time is compressed: ~6 hours of tasks sent at once, one every
5 min, then 24 in the last hour (window drift needs 10 scores in the hour and a 15-minute hold)."""

from __future__ import annotations

import random
import time

import orjson
import pytest
from kafka_helpers import consume
from test_worker_e2e import _start_stack, _summaries_for

from agentwatch.demo.synth import Step, Task, emit_evaluation, make_logger_provider
from agentwatch.local.worker import LocalWorker

pytestmark = pytest.mark.e2e

MIN_NS = 60 * 10**9
DROP = 24  # the last hour's tasks score 0.5 instead of ~0.8


def _wait_scored(worker: LocalWorker, k: int) -> None:
    """Until the worker has observed `k` scores of eval-bot."""
    def scored() -> float:
        return sum(float(m.rsplit(" ", 1)[1]) for m in worker.metrics().splitlines()
                   if m.startswith('agentwatch_evaluation_score_count{agent="eval-bot"'))
    deadline = time.monotonic() + 30
    while scored() < k and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scored() == k


def test_score_drop_sent_as_otlp_logs_fires_score_drift(tmp_path_factory: pytest.TempPathFactory):
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    rng = random.Random(3)
    now = time.time_ns()
    ends = [now - 360 * MIN_NS + i * 5 * MIN_NS for i in range(60)]
    ends = [e for e in ends if e < now - 62 * MIN_NS] + [now - 60 * MIN_NS + k * 150 * 10**9 for k in range(DROP)]
    n = len(ends)
    tasks = [(Task("eval-bot", [Step("llm", input_tokens=rng.randint(900, 1100), output_tokens=50,
                                     duration_ms=1000)]), end - 2 * 10**9) for end in ends]
    for stack in _start_stack(tmp_path_factory, AGENTWATCH_LOGS_TOPIC="otlp_logs"):
        ids = stack.emit(tasks)
        summaries = _summaries_for(stack, ids, timeout_s=90)
        assert len(summaries) == n
        logs = make_logger_provider("eval-judge", OTLPLogExporter(endpoint=f"{stack.rotel.otlp_http_endpoint}/v1/logs"))

        # The baseline's scores at once; the drop's in event-time order, each observed before the next is
        # sent: scores reach the per-agent stage through several re-key partitions, in no set order, and
        # the excursion must hold 15 minutes of event time (scores out of order can break the hold).
        for i, (trace_id, end) in enumerate(zip(ids, ends, strict=True)):
            score = 0.5 if i >= n - DROP else rng.gauss(0.8, 0.03)
            emit_evaluation(logs, trace_id, "1" * 16, "relevance", round(score, 4), end + 10**9)
            logs.force_flush()
            if i >= n - DROP - 1:
                _wait_scored(stack.worker, i + 1)
        logs.shutdown()

        def drift(recs):
            return any(orjson.loads(r.value)["kind"] == "score_drift" for r in recs)

        alerts = [orjson.loads(r.value) for r in
                  consume(stack.broker.bootstrap, "agentwatch.alerts", timeout_s=60, until=drift)]
        score = [a for a in alerts if a["kind"] == "score_drift"]
        counts = [m for m in stack.worker.metrics().splitlines() if m.startswith("agentwatch_evaluation_score_count")]
        assert len(score) == 1, ([a["kind"] for a in alerts], counts)
        assert score[0]["agent"] == "eval-bot" and score[0]["evidence"]["direction"] == "down"
        assert score[0]["baseline"]["n"] >= 30 and score[0]["observed"] < score[0]["baseline"]["mean"]
        assert 'agentwatch_evaluation_score_count{agent="eval-bot",evaluation="relevance"}' in stack.worker.metrics()
