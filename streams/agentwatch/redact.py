"""Redaction for every text field that leaves agentwatch: secrets, bearer tokens, e-mail addresses.

Alerts never carry prompts or tool arguments (only hashes, counts, names, span IDs); this is the
second line of defence for names and messages that may echo user data.
"""

from __future__ import annotations

import re

MAX_TEXT = 300

_PATTERNS = [
    (re.compile(r"(?i)\bbearer\s+[a-z0-9._~+/=-]{8,}"), "Bearer [REDACTED]"),
    (re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"), "[REDACTED_KEY]"),           # OpenAI/Anthropic style
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "[REDACTED_KEY]"),                         # AWS access key id
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), "[REDACTED_KEY]"),              # GitHub tokens
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "[REDACTED_KEY]"),               # Slack tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[REDACTED_JWT]"),
    (re.compile(r"(?i)\b(api[_-]?key|secret|password|token)\s*[=:]\s*\S+"), r"\1=[REDACTED]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[REDACTED_EMAIL]"),
]


def redact(text: str, limit: int = MAX_TEXT) -> str:
    """Mask secrets and e-mail addresses, then truncate to `limit` characters (with an ellipsis)."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
