"""Secret redaction: applied to every record before anything is stored or embedded."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from typing import Any, TypeVar

T = TypeVar("T")

# Token shapes that are secrets wherever they appear, each with the literals it cannot match
# without: most text holds none of them, and a substring test is far cheaper than a regex
# pass (ten thousand commit messages a run).
_TOKEN_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern[str]]] = [
    (
        "private-key",
        ("-----BEGIN",),
        re.compile(
            r"-----BEGIN ((?:RSA|EC|DSA|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY( BLOCK)?-----"
            r"[\s\S]*?(-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----|\Z)"
        ),
    ),
    (
        "aws-access-key",
        ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"),
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
    ),
    ("slack-token", ("xox",), re.compile(r"\bxox[abposre]-[0-9A-Za-z-]{10,}")),
    ("slack-app-token", ("xapp-",), re.compile(r"\bxapp-\d-[0-9A-Za-z-]{10,}")),
    (
        "slack-webhook",
        ("hooks.slack.com",),
        re.compile(r"https://hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/[0-9A-Za-z]+"),
    ),
    (
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ),
    ("stripe-key", ("k_live_", "k_test_"), re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}")),
    ("google-api-key", ("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("openai-key", ("sk-",), re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}")),
    (
        "jwt",
        ("eyJ",),
        re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    ),
]

# A token cut short by a title or a snippet ("ghp_RGKE…") is too short for its own pattern,
# yet its first characters are still part of a secret.
_CUT_TOKEN = re.compile(
    r"(?:"
    + "|".join(re.escape(lit) for _, literals, _ in _TOKEN_PATTERNS for lit in literals)
    + r")[A-Za-z0-9_.+/=-]*…"
)

# scheme://user:password@host — the password goes, the rest stays readable.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)(?P<pw>[^\s@/]+)(?=@)")

# `password = "..."`, `token: ...`, `AWS_SECRET_ACCESS_KEY=...` (value judged below).
_ASSIGNMENT = re.compile(
    r"(?P<key>\b[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|auth[_-]?key|private[_-]?key|client[_-]?secret|credentials?)[\w.-]*)"
    r"(?P<sep>\s*[:=]\s*|\s*=>\s*)"
    r"(?P<q>[\"']?)(?P<value>[^\s\"',;)}\]]{6,})(?P=q)",
    re.IGNORECASE,
)

_PLACEHOLDER = re.compile(
    r"^(?:\$\{?.*|<.*>|\{\{.*\}\}|%\(.*|x{3,}|\*{3,}|changeme|change_me|example|placeholder"
    r"|redacted|none|null|true|false|os\.environ.*|getenv.*|env\(.*|settings\..*|config\..*"
    r"|\[REDACTED.*)$",
    re.IGNORECASE,
)


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_secret(value: str) -> bool:
    """A literal that is long and random enough to be a credential, not a name or a type."""
    if _PLACEHOLDER.match(value) or "(" in value or value.startswith(("[", "{")):
        return False
    classes = sum(
        bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    if len(value) >= 8 and classes >= 3:
        return True
    return len(value) >= 12 and _entropy(value) >= 3.0 and classes >= 2


# One search for all the literals above: most text holds none, and then no pattern runs.
_ANY_TOKEN_LITERAL = re.compile(
    "|".join(re.escape(lit) for _, literals, _ in _TOKEN_PATTERNS for lit in literals)
)
# Every key name _ASSIGNMENT accepts holds one of these (case-folded), with a separator
# after it: text without that shape ("primary key", "token bucket") skips the costly pass.
_KEY_LITERALS = ("passw", "pwd", "secret", "token", "key", "credential")
_KEY_THEN_SEPARATOR = re.compile(r"(?:passw|pwd|secret|token|key|credential)[\w.-]*\s*[:=]")


def redact(text: str) -> tuple[str, int]:
    """Text with secrets replaced by `[REDACTED:kind]`, and how many were replaced."""
    if not text:
        return text, 0
    total = 0
    if _ANY_TOKEN_LITERAL.search(text):
        for kind, literals, pattern in _TOKEN_PATTERNS:
            if any(lit in text for lit in literals):
                text, n = pattern.subn(f"[REDACTED:{kind}]", text)
                total += n
        if "…" in text:
            text, n = _CUT_TOKEN.subn("[REDACTED:cut-token]…", text)
            total += n
    if "://" in text:
        text, n = _URL_PASSWORD.subn(lambda m: f"{m.group('head')}[REDACTED:password]", text)
        total += n
    low = text.lower()
    if not any(lit in low for lit in _KEY_LITERALS) or not _KEY_THEN_SEPARATOR.search(low):
        return text, total

    def _assignment(m: re.Match[str]) -> str:
        nonlocal total
        if not _looks_secret(m.group("value")):
            return m.group(0)
        total += 1
        return f"{m.group('key')}{m.group('sep')}{m.group('q')}[REDACTED:secret]{m.group('q')}"

    text = _ASSIGNMENT.sub(_assignment, text)
    return text, total


def _redact_value(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        return redact(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redact_record(value)
    if isinstance(value, list):
        items = [_redact_value(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(value, tuple):
        items = [_redact_value(v) for v in value]
        return tuple(v for v, _ in items), sum(n for _, n in items)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        total = 0
        for k, v in value.items():
            out[k], n = _redact_value(v)
            total += n
        return out, total
    return value, 0


# Only free text can hold a secret; ids, paths and shas must stay intact for upserts.
_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "DocumentRecord": ("title", "body", "chunks", "meta", "url"),
    "ChunkText": ("text", "heading"),
    "CommitRecord": ("message",),
    "WisdomRecord": ("title", "body", "meta"),
    "IncidentRecord": ("title", "root_cause", "resolution", "meta"),
    "ServiceRecord": ("description",),
}


def redact_record(record: T) -> tuple[T, int]:
    """A copy of a record with every free-text field redacted, and the count."""
    fields = _TEXT_FIELDS.get(type(record).__name__, ())
    if not fields:
        return record, 0
    changes: dict[str, Any] = {}
    total = 0
    for name in fields:
        new, n = _redact_value(getattr(record, name))
        if n:
            changes[name] = new
            total += n
    if not changes:
        return record, 0
    return dataclasses.replace(record, **changes), total  # type: ignore[type-var]
