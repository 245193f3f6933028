"""`agentwatch alerts`: follow the alerts topic and print each alert as one line for a person.

It reads with `kafka_clients.read_topic`: manual assignment and no consumer group (a group join takes
seconds, more on tansu, and would commit offsets nobody needs; a reader of alerts wants them at once,
from the end or from the beginning, and several people can follow without splitting partitions).

`format_alert` is the one-line rendering, shared with `agentwatch demo`. Every text field is
stripped of control characters: agent names and messages come from span attributes, and an escape
sequence in one must not reach the terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

log = logging.getLogger("agentwatch.alerts")

_COLORS = {"critical": "\x1b[1;31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
_RESET = "\x1b[0m"
_AGENT_MAX = 32


def _text(value: Any) -> str:
    """A field as printable single-line text (control characters and escapes become spaces or '?')."""
    s = "" if value is None else str(value)
    return "".join(c if c.isprintable() else (" " if c in "\t\n\r" else "?") for c in s)


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else _text(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4g}"


def _clock(ts: Any) -> str:
    """RFC 3339 UTC -> local HH:MM:SS (a person reads their own clock); the raw text if it does not parse."""
    try:
        return datetime.fromisoformat(str(ts)).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return _text(ts)[:8].ljust(8) if ts else "--:--:--"


def format_alert(alert: Mapping[str, Any], color: bool) -> str:
    """One alert (`agentwatch.alert/v1` JSON) as one line:

    `22:14:03  CRITICAL  tool_loop       looping-bot     task 4bf92f35…  observed 3 / threshold 3  message`

    Missing fields print as '-'; `color` wraps the severity in an ANSI colour (for a TTY).
    """
    severity = _text(alert.get("severity") or "-")
    sev = f"{severity.upper():<8}"
    if color and severity.lower() in _COLORS:
        sev = f"{_COLORS[severity.lower()]}{sev}{_RESET}"
    agent = _text(alert.get("agent") or alert.get("service") or "-")
    if len(agent) > _AGENT_MAX:
        agent = agent[: _AGENT_MAX - 1] + "…"
    task = _text(alert.get("task_id") or "-")
    parts = [_clock(alert.get("ts")), sev, f"{_text(alert.get('kind') or '-'):<14}", f"{agent:<14}",
             f"task {task[:8]}{'…' if len(task) > 8 else ''}"]
    if alert.get("observed") is not None or alert.get("threshold") is not None:
        parts.append(f"observed {_num(alert.get('observed'))} / threshold {_num(alert.get('threshold'))}")
    message = _text(alert.get("message"))
    if message:
        parts.append(message)
    return "  ".join(parts)


def follow_alerts(bootstrap: str, topic: str, emit: Callable[[dict[str, Any], bytes], None], *,
                  from_beginning: bool = False, follow: bool = True, timeout_s: float = 10.0,
                  security: Mapping[str, str] | None = None, warn: Callable[[str], None] | None = None,
                  stop: Callable[[], bool] = lambda: False) -> int:
    """Call `emit(alert, raw_value)` for each alert on `topic`; return how many.

    follow=False: return once every partition's end (as of the start) is reached, or after `timeout_s`.
    follow=True: wait for the topic if it does not exist yet and run until `stop()` or Ctrl-C.
    Undecodable records are skipped with `warn(one line)`. Raises `TopicUnavailable` if the broker does not
    answer within `timeout_s` (or, with follow=False, the topic does not exist).
    """
    from .stream.kafka_clients import read_topic

    if warn is None:
        def warn(msg: str) -> None:
            print(msg, file=sys.stderr)
    count = 0

    def one(m: Any) -> None:
        nonlocal count
        try:
            alert = json.loads(m.value())
            if not isinstance(alert, dict):
                raise ValueError("not a JSON object")
        except (ValueError, TypeError) as exc:
            warn(f"skipped undecodable record {topic}[{m.partition()}]@{m.offset()}: {exc}")
            return
        emit(alert, m.value())
        count += 1

    read_topic(bootstrap, topic, one, group="agentwatch-alerts-cli", from_beginning=from_beginning, follow=follow,
               timeout_s=timeout_s, security=security, warn=warn, stop=stop, logger=log)
    return count


def cli_main(args: argparse.Namespace) -> int:
    """Print alerts (one line each, or `--json` raw lines) until the end (--no-follow) or Ctrl-C."""
    from .stream.kafka_admin import CliStartError, cli_broker
    from .stream.kafka_clients import TopicUnavailable

    def warn(msg: str) -> None:
        print(f"agentwatch alerts: {msg}", file=sys.stderr, flush=True)

    try:
        settings, bootstrap, security = cli_broker(args.brokers, max(args.timeout, 0.1))
    except CliStartError as exc:
        warn(str(exc))
        return exc.code
    if not log.handlers:  # librdkafka's own complaints, one line each, only when they are errors
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("agentwatch alerts: kafka: %(message)s"))
        handler.setLevel(logging.ERROR)
        log.addHandler(handler)
        log.propagate = False
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    def emit(alert: dict[str, Any], raw: bytes) -> None:
        line = json.dumps(alert, ensure_ascii=False, separators=(",", ":")) if args.json else format_alert(alert, color)
        print(line, flush=True)

    try:
        follow_alerts(bootstrap, args.topic or settings.alerts_topic, emit, from_beginning=args.from_beginning,
                      follow=args.follow, timeout_s=args.timeout, security=security, warn=warn)
    except TopicUnavailable as exc:
        warn(str(exc))
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `agentwatch alerts | head`: the reader left; silence the exit-time flush too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
