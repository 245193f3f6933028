"""Policy: budgets and detector thresholds per agent, from YAML (`AGENTWATCH_POLICY`) or built-in defaults.

Rules match agent names by glob, in file order; the first match wins. A key a rule leaves out takes
the built-in default; an explicit `null` turns that check off for the rule. When no rule matches (the
file has no `*` rule), the built-in defaults apply. Errors name the file, line, field and what was
expected, so a bad policy fails `agentwatch doctor` and worker start-up, never a running worker.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the line and field."""


@dataclass(frozen=True, slots=True)
class Rule:
    match: str = "*"
    task_tokens: int | None = 200_000       # per-task token envelope
    task_cost_usd: float | None = 2.50      # per-task cost envelope
    daily_cost_usd: float | None = 500.0    # per agent, UTC day
    tool_repeat: int | None = 3             # identical consecutive tool calls that make a loop
    stall_s: float | None = 300.0           # open task with no span for this long
    drift_sigma: float | None = 3.0         # short-window mean vs baseline, in standard errors
    cost_multiple: float | None = 5.0       # one task's cost vs the agent's rolling mean
    idle_timeout_s: float = 900.0           # extension: close an open task after this long without spans
    silence_multiple: float | None = 3.0    # extension: agent silent after this x its median gap between tasks
    # extension (tail-keep): keep a task's spans when its mean score of an evaluation is below the threshold
    keep_below: tuple[tuple[str, float], ...] = ()

    def name(self, key: str) -> str:
        """The `rule` field of an alert: which rule and which key fired."""
        return f"{self.match}/{key}"


DEFAULT_RULE = Rule()
_INT_KEYS = {"task_tokens", "tool_repeat"}
_NUM_KEYS = {"task_cost_usd", "daily_cost_usd", "stall_s", "drift_sigma", "cost_multiple", "idle_timeout_s",
             "silence_multiple"}
_NULLABLE = {f.name for f in fields(Rule)} - {"match", "idle_timeout_s", "keep_below"}
_PRICE_KEYS = {"input", "output", "cache_read"}
_MATCH_CACHE_MAX = 4096


class Policy:
    """Ordered rules plus price overrides. `rule_for` memoizes agent -> rule (bounded)."""

    def __init__(self, rules: tuple[Rule, ...] = (), prices: Mapping[str, Mapping[str, float]] | None = None,
                 source: str = "built-in defaults") -> None:
        self.rules = rules
        self.prices = dict(prices or {})
        self.source = source
        self._matched: dict[str, Rule] = {}

    def rule_for(self, agent: str) -> Rule:
        """First rule whose glob matches `agent`; the built-in defaults if none does."""
        rule = self._matched.get(agent)
        if rule is None:
            rule = next((r for r in self.rules if fnmatchcase(agent, r.match)), DEFAULT_RULE)
            if len(self._matched) >= _MATCH_CACHE_MAX:
                self._matched.clear()
            self._matched[agent] = rule
        return rule


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, val in node.value:
            out[(*path, k.value, "<key>")] = k.start_mark.line + 1
            _lines(val, (*path, k.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def load_policy(path: str | Path | None) -> Policy:
    """Read and validate a policy file; None or '' gives the built-in defaults."""
    if not path:
        return Policy()
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read policy file: {exc.strerror}") from None
    return parse_policy(text, str(p))


def _keep_below(val: Any, where: tuple[Any, ...], fail: Callable[[tuple[Any, ...], str], PolicyError]
                ) -> tuple[tuple[str, float], ...]:
    """`keep_below: {evaluation name: score}`: a mapping of names to finite numbers."""
    if val is None:
        return ()
    if not isinstance(val, dict):
        raise fail(where, f"expected a mapping of evaluation name -> score, got {val!r}")
    out = []
    for name, score in val.items():
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise fail((*where, name), f"expected a finite number, got {score!r}")
        out.append((str(name), float(score)))
    return tuple(out)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise PolicyError(f"{source}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)

    def fail(path: tuple[Any, ...], msg: str) -> PolicyError:
        line = lines.get(path) or lines.get(path[:-1]) or lines.get(())
        field = ".".join(str(x) for x in path) or "(top level)"
        return PolicyError(f"{source}:{line}: {field}: {msg}")

    if doc is None:
        return Policy(source=source)
    if not isinstance(doc, dict):
        raise fail((), "expected a mapping with keys 'agents' and 'prices'")
    for key in doc:
        if key not in ("agents", "prices"):
            raise fail((key, "<key>"), "unknown key (expected 'agents' or 'prices')")
    rules = []
    agents = doc.get("agents") or []
    if not isinstance(agents, list):
        raise fail(("agents",), "expected a list of rules")
    for i, item in enumerate(agents):
        if not isinstance(item, dict):
            raise fail(("agents", i), "expected a mapping with at least 'match'")
        if not isinstance(item.get("match"), str) or not item["match"]:
            raise fail(("agents", i), "'match' (an agent-name glob such as \"support-*\") is required")
        values: dict[str, Any] = {"match": item["match"]}
        for key, val in item.items():
            if key == "match":
                continue
            where = ("agents", i, key)
            if key == "keep_below":
                values[key] = _keep_below(val, where, fail)
                continue
            if key not in _INT_KEYS and key not in _NUM_KEYS:
                known = ", ".join(sorted(_INT_KEYS | _NUM_KEYS | {"keep_below"}))
                raise fail((*where, "<key>"), f"unknown key (known: match, {known})")
            if val is None:
                if key not in _NULLABLE:
                    raise fail(where, "cannot be null")
                values[key] = None
                continue
            if isinstance(val, bool) or not isinstance(val, int | float):
                raise fail(where, f"expected a number, got {val!r}")
            if key in _INT_KEYS and not float(val).is_integer():
                raise fail(where, f"expected a whole number, got {val!r}")
            if val <= 0 or (key == "tool_repeat" and val < 2):
                raise fail(where, f"must be {'at least 2' if key == 'tool_repeat' else 'positive'}, got {val!r}")
            values[key] = int(val) if key in _INT_KEYS else float(val)
        rules.append(replace(DEFAULT_RULE, **values))
    prices: dict[str, dict[str, float]] = {}
    raw_prices = doc.get("prices") or {}
    if not isinstance(raw_prices, dict):
        raise fail(("prices",), "expected a mapping of model name -> {input, output[, cache_read]}")
    for model, p in raw_prices.items():
        where = ("prices", model)
        if not isinstance(p, dict) or not {"input", "output"} <= p.keys():
            raise fail(where, "expected {input: USD per 1M tokens, output: USD per 1M tokens[, cache_read: ...]}")
        for k, val in p.items():
            if k not in _PRICE_KEYS:
                raise fail((*where, k, "<key>"), "unknown key (known: input, output, cache_read)")
            if isinstance(val, bool) or not isinstance(val, int | float) or val < 0:
                raise fail((*where, k), f"expected a non-negative number, got {val!r}")
        prices[str(model)] = {k: float(val) for k, val in p.items()}
    return Policy(rules=tuple(rules), prices=prices, source=source)
