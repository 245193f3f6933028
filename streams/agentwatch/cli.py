"""`agentwatch` command line: argument parsing only; each command lives in its own module."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .export import FORMATS


def _replay(args: argparse.Namespace) -> int:
    import orjson

    from .engine import Engine, EngineConfig
    from .otlp.decode import require_upb
    from .policy import PolicyError, load_policy
    from .process_tuning import tune_process
    from .replay import replay
    from .settings import SettingsError, from_env

    require_upb()
    try:
        settings = from_env(policy=args.policy, task_key=args.task_key)
        policy = load_policy(settings.policy)
    except (SettingsError, PolicyError) as exc:
        print(f"agentwatch replay: {exc}", file=sys.stderr)
        return 2
    engine = Engine(policy, EngineConfig.from_settings(settings))
    missing = [p for p in args.files if not p.is_file()]
    if missing:
        print(f"agentwatch replay: no such file: {missing[0]}", file=sys.stderr)
        return 2
    expected = None
    if args.expect is not None:
        try:
            expected = orjson.loads(args.expect.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            print(f"agentwatch replay: --expect {args.expect}: {exc}", file=sys.stderr)
            return 2
    tune_process(engine.pricer.load)
    out = sys.stdout.buffer
    produced: set[str] = set()
    for batch in replay(args.files, engine, max_record_bytes=settings.max_record_bytes,
                        encoding=settings.spans_encoding, flush=not args.no_flush):
        for alert in batch.alerts:
            produced.add(alert["alert_id"])
            out.write(orjson.dumps({"type": "alert", **alert}) + b"\n")
        for summary in batch.summaries:
            out.write(orjson.dumps({"type": "task", **summary}) + b"\n")
    out.flush()
    return 0 if expected is None else _check_expected(expected, produced, args.expect)


def _check_expected(expected: dict, produced: set[str], path: Path) -> int:
    """`replay --expect`: exit 1 when an alert raised live (export's expected file) is not raised again."""
    from .export import missing_alerts

    missing, skipped = missing_alerts(expected, produced)
    for m in missing:
        print(f"agentwatch replay: missing {m['kind']} alert {m['alert_id'][:12]} of task {m['task_id']} "
              f"(agent {m['agent']})", file=sys.stderr)
    total = sum(len(t["alert_ids"]) for t in expected.get("tasks", []) if not t.get("truncated"))
    note = f", {skipped} truncated task(s) not checked" if skipped else ""
    print(f"agentwatch replay: {total - len(missing)} of {total} expected alerts raised again ({path}){note}",
          file=sys.stderr)
    return 1 if missing else 0


def _run(args: argparse.Namespace) -> int:
    from .settings import SettingsError, from_env
    from .stream.run import run_worker

    try:
        settings = from_env(brokers=args.brokers, policy=args.policy, metrics_port=args.metrics_port)
    except SettingsError as exc:
        print(f"agentwatch run: {exc}", file=sys.stderr)
        return 2
    return run_worker(settings, embedded_broker=args.embedded_broker)


def _demo(args: argparse.Namespace) -> int:
    from .demo.runner import run_demo

    return run_demo()


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import cli_main

    return cli_main(args)


def _alerts(args: argparse.Namespace) -> int:
    from .alerts_cli import cli_main

    return cli_main(args)


def _export(args: argparse.Namespace) -> int:
    from .export import cli_main

    return cli_main(args)


def _notify(args: argparse.Namespace) -> int:
    from .notify import cli_main

    return cli_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentwatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start a worker (add replicas to scale; Kafka splits partitions)")
    run.add_argument("--brokers", help="default: $AGENTWATCH_BROKERS or kafka://127.0.0.1:9092")
    run.add_argument("--policy", help="default: $AGENTWATCH_POLICY or built-in defaults")
    run.add_argument("--metrics-port", type=int, help="default: $AGENTWATCH_METRICS_PORT or 9464")
    run.add_argument("--embedded-broker", action="store_true",
                     help="tune for the local tansu broker (fast group joins, one record per produce batch); "
                          "never against real Kafka")
    run.set_defaults(func=_run)
    demo = sub.add_parser("demo", help="the whole pipeline on this machine: broker, collector, worker, agents")
    demo.set_defaults(func=_demo)
    rp = sub.add_parser("replay", help="run the detectors offline over files of OTLP records")
    rp.add_argument("files", nargs="+", type=Path,
                    help="length-prefixed TracesData (.otlp), OTLP JSON, or JSONL of otlp_json records")
    rp.add_argument("--policy", help="policy YAML (default: $AGENTWATCH_POLICY or built-in defaults)")
    rp.add_argument("--task-key", choices=("trace", "conversation"), help="default: $AGENTWATCH_TASK_KEY or trace")
    rp.add_argument("--no-flush", action="store_true",
                    help="stop at the last span's time instead of judging open tasks as finished")
    rp.add_argument("--expect", type=Path, metavar="EXPECTED_JSON",
                    help="exit 1 unless every alert listed there (`agentwatch export` writes it) is raised again")
    rp.set_defaults(func=_replay)
    ex = sub.add_parser("export", help="write the flagged tasks (tail-keep) as a regression set replay reads")
    ex.add_argument("--out", type=Path, required=True, help="the file to write (and <out>.expected.json)")
    ex.add_argument("--format", choices=FORMATS, default="otlp",
                    help="otlp: replay's length-prefixed TracesData (default); otlp-json: one OTLP/JSON request "
                         "per line, for any OTLP endpoint")
    ex.add_argument("--since", help="tasks that ended after this: 7d, 24h, 30m, 90s ago, or an RFC 3339 time")
    ex.add_argument("--until", help="tasks that ended before this (same forms as --since)")
    ex.add_argument("--kind", action="append", help="only tasks that raised this alert kind (repeatable)")
    ex.add_argument("--agent", action="append", help="only agents matching this glob (repeatable)")
    ex.add_argument("--brokers", help="default: $AGENTWATCH_BROKERS or kafka://127.0.0.1:9092")
    ex.add_argument("--topic", help="default: $AGENTWATCH_FLAGGED_TOPIC or agentwatch.flagged")
    ex.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for the broker and to read to the end (default 10)")
    ex.set_defaults(func=_export)
    doc = sub.add_parser("doctor", help="check every dependency: one PASS/WARN/FAIL line each; exit 1 on FAIL")
    doc.add_argument("--brokers", help="default: $AGENTWATCH_BROKERS or kafka://127.0.0.1:9092")
    doc.add_argument("--policy", help="default: $AGENTWATCH_POLICY or built-in defaults")
    doc.add_argument("--metrics-port", type=int, help="default: $AGENTWATCH_METRICS_PORT or 9464")
    doc.add_argument("--timeout", type=float, default=5.0, help="seconds allowed per broker check (default 5)")
    doc.add_argument("--last-tasks", type=int, default=500,
                     help="task summaries read to find the models in use (default 500)")
    doc.add_argument("--json", action="store_true", help="one JSON object: {ok, checks: [{name, status, detail}]}")
    doc.set_defaults(func=_doctor)
    al = sub.add_parser("alerts", help="follow the alerts topic and print alerts for a person")
    al.add_argument("--brokers", help="default: $AGENTWATCH_BROKERS or kafka://127.0.0.1:9092")
    al.add_argument("--topic", help="default: $AGENTWATCH_ALERTS_TOPIC or agentwatch.alerts")
    al.add_argument("--from-beginning", action="store_true", help="start at the oldest alert (default: new ones)")
    al.add_argument("--follow", action=argparse.BooleanOptionalAction, default=True,
                    help="keep waiting for new alerts (default); --no-follow exits at the end of the topic")
    al.add_argument("--json", action="store_true", help="print each alert as a raw JSON line")
    al.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for the broker, and with --no-follow for the end (default 10)")
    al.set_defaults(func=_alerts)
    nt = sub.add_parser("notify", help="post every alert to Alertmanager (commits only what it accepted)")
    nt.add_argument("--alertmanager", default=os.environ.get("AGENTWATCH_ALERTMANAGER_URL"),
                    help="Alertmanager base URL (default: $AGENTWATCH_ALERTMANAGER_URL)")
    nt.add_argument("--brokers", help="default: $AGENTWATCH_BROKERS or kafka://127.0.0.1:9092")
    nt.add_argument("--topic", help="default: $AGENTWATCH_ALERTS_TOPIC or agentwatch.alerts")
    nt.add_argument("--trace-url", default=os.environ.get("AGENTWATCH_TRACE_URL"),
                    help="trace link template with {trace_id} (default: $AGENTWATCH_TRACE_URL; none)")
    nt.add_argument("--resolve-after", type=float, default=os.environ.get("AGENTWATCH_NOTIFY_RESOLVE_S", "300"),
                    help="seconds an alert stays firing unless raised again (default 300)")
    nt.add_argument("--max-age", type=float, default=os.environ.get("AGENTWATCH_NOTIFY_MAX_AGE_S", "3600"),
                    help="alerts older than this are not sent (default 3600)")
    nt.set_defaults(func=_notify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
