"""`agentwatch notify`'s loop with fakes: offsets are committed only after Alertmanager accepted the batch."""

from datetime import UTC, datetime, timedelta

import orjson

from agentwatch.notify import Notifier, Refused

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


class Msg:
    def __init__(self, offset: int, value: bytes, partition: int = 0) -> None:
        self._o, self._v, self._p = offset, value, partition

    def error(self) -> None:
        return None

    def value(self) -> bytes:
        return self._v

    def topic(self) -> str:
        return "agentwatch.alerts"

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o


def alert(n: int, ts: str = "2026-12-02T11:59:00.000Z") -> bytes:
    return orjson.dumps({"alert_id": f"id{n}", "kind": "token_budget", "severity": "critical", "ts": ts,
                         "agent": f"bot{n}", "task_id": f"t{n}", "trace_id": f"{n:032x}"})


def notifier(batches, post, commits, **kw):
    it = iter(batches)
    sleeps: list[float] = []
    n = Notifier(lambda: next(it, []), post, commits.append, now=lambda: NOW, sleep=sleeps.append, **kw)
    return n, sleeps


def test_commits_only_after_alertmanager_accepted_retrying_with_backoff() -> None:
    posted, commits = [], []
    failures = [ConnectionRefusedError("down")] * 4

    def post(alerts):
        if failures:
            raise failures.pop()
        posted.append([a["labels"]["agent"] for a in alerts])

    n, sleeps = notifier([[Msg(0, alert(0)), Msg(1, alert(1)), Msg(7, alert(2), partition=3)]], post, commits)
    order = []
    n._commit = lambda offsets: order.append(("commit", len(posted), offsets))
    assert n.step() == 3
    assert posted == [["bot0", "bot1", "bot2"]] and n.retries == 4 and sleeps == [0.5, 1.0, 2.0, 4.0]
    assert order == [("commit", 1, {("agentwatch.alerts", 0): 2, ("agentwatch.alerts", 3): 8})]


def test_stopping_while_alertmanager_is_down_commits_nothing() -> None:
    commits: list = []
    stop = []

    def post(alerts):
        stop.append(1)
        raise OSError("HTTP 503")

    n = Notifier(lambda: [Msg(0, alert(0))], post, commits.append, now=lambda: NOW, sleep=lambda s: None,
                 stop=lambda: bool(stop))
    assert n.step() == 0 and commits == [] and n.sent == 0


def test_refused_old_and_unreadable_alerts_are_skipped_and_committed() -> None:
    commits: list = []

    def post(alerts):
        raise Refused("HTTP 400: bad label")

    batch = [Msg(0, b"not json"), Msg(1, alert(1, ts="2026-12-02T09:00:00.000Z")), Msg(2, alert(2))]
    n, _ = notifier([batch], post, commits, max_age_s=3600)
    assert n.step() == 3
    assert (n.skipped_bad, n.skipped_old, n.refused, n.sent) == (1, 1, 1, 0)
    assert commits == [{("agentwatch.alerts", 0): 3}]


def test_a_batch_of_only_old_alerts_posts_nothing() -> None:
    commits: list = []
    n, _ = notifier([[Msg(5, alert(1, ts="2026-11-01T00:00:00.000Z"))]], lambda a: 1 / 0, commits)
    assert n.step() == 1 and commits == [{("agentwatch.alerts", 0): 6}]


def test_an_alert_held_through_an_outage_does_not_arrive_already_resolved() -> None:
    clock = [NOW]
    posted: list = []

    def post(alerts):
        if clock[0] < NOW + timedelta(seconds=60):
            clock[0] += timedelta(seconds=20)  # Alertmanager down for a minute
            raise ConnectionRefusedError("down")
        posted.extend(alerts)

    n = Notifier(lambda: [Msg(0, alert(0))], post, lambda o: None, now=lambda: clock[0], sleep=lambda s: None,
                 resolve_after_s=30)
    n.step()
    (sent,) = posted
    assert datetime.fromisoformat(sent["endsAt"]) == clock[0] + timedelta(seconds=30)
