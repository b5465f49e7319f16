"""What a question asks: its kind (why, danger, who, ...) and what it names.

Read once per question by the retriever (to weigh sources) and by the answer service (to
compose), from the words of the question and what kb knows: service names and catalog
descriptions, people, ADR numbers, dates.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

STOPWORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "over",
        "under",
        "about",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "having",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "when",
        "where",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "nor",
        "i",
        "we",
        "you",
        "he",
        "she",
        "they",
        "me",
        "us",
        "our",
        "your",
        "their",
        "my",
        "mine",
        "ours",
        "as",
        "than",
        "too",
        "very",
        "just",
        "also",
        "any",
        "all",
        "some",
        "each",
        "every",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "again",
        "further",
        "once",
        "out",
        "up",
        "down",
        "off",
        "both",
        "few",
        "get",
        "got",
        "make",
        "made",
        "use",
        "used",
        "using",
        "like",
        "anyone",
        "someone",
        "something",
        "thing",
        "things",
        "know",
        "knows",
        "now",
        "currently",
        "today",
        "still",
        "ever",
    )
)

_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_ADR_REF = re.compile(r"\badr[-\s#]?0*(\d{1,4})\b", re.IGNORECASE)


def terms_of(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without duplicates."""
    out: list[str] = []
    for tok in _TOKEN.findall(question.lower()):
        if tok in STOPWORDS or len(tok) < 2:
            continue
        if tok not in out:
            out.append(tok)
    return out


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[._+-][A-Za-z0-9]+)*")
_SENTENCE = re.compile(r"(?<=[.?!;:])\s+")
# Months and weekdays are capitalised but name a time, which sources write as a date
# ("2024-03-14"): "the March 2024 outage" asks about something kb may well hold.
_WEEKDAYS = frozenset(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)


def names_of(question: str) -> list[str]:
    """The names a question uses: words capitalised mid-sentence or inside ("GraphQL",
    "Erlang", "NIF", "Next.js"), a plural's "s" dropped ("DTOs" → "DTO"); not months or
    weekdays."""
    out: list[str] = []
    for sentence in _SENTENCE.split(question.strip()):
        for i, match in enumerate(_NAME.finditer(sentence)):
            word = match.group()
            inner = any(c.isupper() for c in word[1:])
            if word == "I" or not (inner or (i > 0 and word[0].isupper())):
                continue
            if word.lower() in _MONTHS or word.lower() in _WEEKDAYS:
                continue
            if len(word) > 2 and word.endswith("s") and word[-2].isupper():
                word = word[:-1]
            if word not in out:
                out.append(word)
    return out


def _stem(word: str) -> str:
    # A crude stem for matching snippet sentences: "timeouts" ~ "timeout", "retries" ~ "retry".
    for suffix in ("ies", "es", "s", "ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@dataclass
class Intent:
    """What kind of question this is, and what it names."""

    services: list[str] = field(default_factory=list)
    adr_numbers: list[int] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    # Services named only by a common word ("orders", "payments"): weaker evidence.
    loose_services: list[str] = field(default_factory=list)
    why: bool = False
    danger: bool = False
    who: bool = False
    incident: bool = False
    howto: bool = False
    history: bool = False
    now: bool = False
    past: bool = False  # asks how things were before ("back then", "originally")
    # asks who wrote or when something was added: the commit that added a file says both
    origin: bool = False
    # names code: a snake_case or CamelCase name, a source file, `a span`, a call()
    code: bool = False
    # A period the question names ("in May 2026", "the March 2024 outage"): [start, end).
    period: tuple[date, date] | None = None


# "can I just ...", "is it OK to ...", "should I fix ...": asking leave is asking for the rule.
_PERMISSION = re.compile(
    r"(?:^|[.?!;:,—-]\s*)(?:can|could|may|should|shall)\s+(?:i|we)\b"
    r"|\bis\s+it\s+(?:ok|okay|safe|fine|alright|allowed)\b|\bam\s+i\s+allowed\b"
    r"|\bwithout\s+telling\b"
)
_NEVER_DO = re.compile(
    r"\b(?:never|not)\s+(?:touch|change|edit|modify|remove|delete|rename|deploy|run|drop)\b"
    r"|\bdon'?t\b|\bdo\s+not\b|\bmust\s+not\b|\bshould(?:n'?t|\s+not)\b"
)
# "when" asks for a time only as the question word, not as a conjunction ("when X is down").
_WHEN_QUESTION = re.compile(
    r"^\s*when\b|\bwhen\s+(?:did|was|were|has|have|had|and)\b|[\u2014,;:-]\s*when\b"
)
# "Who wrote ...?", "... and when was it added?": asked by the question, not a relative
# clause ("the person who wrote it").
_ORIGIN = re.compile(
    r"(?:^|[.?!;:,\u2014-]\s*|\band\s+)(?:who\s+(?:first\s+)?(?:wrote|write|added|introduced|"
    r"created|proposed|decided|authored|started)\b|when\s+(?:was|were|did)\b.*\b(?:add|"
    r"added|introduce|introduced|create|created|get|got|start|started|adopt|adopted|decide|"
    r"decided|write|written|wrote|begin|began)\b)"
)
# "uniffi_bindgen", "askama.toml", "RustCallStatus", "`make serve`", "build()"; not a
# product name of one or two parts ("JavaScript", "GitHub", "UniFFI").
_CODE_NAME = re.compile(
    r"\b\w*[a-z0-9]_\w+\b"
    r"|\b[\w-]+\.(?:rs|py|pyi|go|rb|ts|tsx|js|jsx|mjs|toml|ya?ml|json|java|kt|swift|c|h|cc|cpp|"
    r"hpp|cs|php|sh|sql|erb|rake)\b"
    r"|\b[A-Z]?[a-z]+(?:[A-Z][a-z0-9]+){2,}\b|`[^`\n]+`|\b\w+\(\)"
)
_OUT_OF_SERVICE = re.compile(r"\b(?:is|are|was|were|went|goes|go|going|be|been|being)\s+down\b")
# "page" asks who when someone is paged ("which team should I page?"); a web page
# ("take a page off the site", "the multi-page form") asks nothing of the kind.
_PAGE_SOMEONE = re.compile(
    r"\b(?:i|we|you|they|to|should|must|can|could|will|would)\s+page\b(?!-)"
    r"|\bpage\s+(?:someone|somebody|anyone|them|him|her|the\s+on-?call)\b"
)
_PAST = re.compile(
    r"(?:^|[,;:\u2014]\s*)before\b|\b(?:originally|previously|formerly|used\s+to|"
    r"back\s+then|at\s+first|in\s+the\s+beginning|old\s+design)\b"
)
# A service called by what it does: "the accounts service", "the email API".
_SERVICE_PHRASE = re.compile(r"\b([a-z][a-z0-9]+)\s+(?:service|api|team|app|backend)\b")


_MONTHS = {
    name: n
    for n, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH_YEAR = re.compile(r"\b([a-z]{3,9})\.?\s+(?:of\s+)?((?:19|20)\d\d)\b")
ISO_DATE = re.compile(r"\b((?:19|20)\d\d)-(\d\d)(?:-(\d\d))?\b")
_YEAR = re.compile(r"\b(?:in|during|since|of)\s+((?:19|20)\d\d)\b")


def period_named(question: str) -> tuple[date, date] | None:
    """The month, day or year a question names, as [start, end), or None."""
    q = question.lower()
    for named in _MONTH_YEAR.finditer(q):
        month = _MONTHS.get(named.group(1))
        if month:
            return _month(int(named.group(2)), month)
    iso = ISO_DATE.search(q)
    if iso and 1 <= int(iso.group(2)) <= 12:
        year, month = int(iso.group(1)), int(iso.group(2))
        if iso.group(3):
            with contextlib.suppress(ValueError):
                day = date(year, month, int(iso.group(3)))
                return day, day + timedelta(days=1)
        return _month(year, month)
    year_only = _YEAR.search(q)
    if year_only:
        year = int(year_only.group(1))
        return date(year, 1, 1), date(year + 1, 1, 1)
    return None


def _month(year: int, month: int) -> tuple[date, date]:
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date(year, month, 1), end


def read_intent(
    question: str, services: Sequence[str] | Mapping[str, str | None], people: Sequence[str] = ()
) -> Intent:
    """Detect the question's kind and the services, ADRs and people it names.

    `services` may map each name to its catalog description, so that "the accounts service"
    finds the one service whose description is about accounts.
    """
    q = question.lower()
    words = set(_TOKEN.findall(q))
    intent = Intent()
    for name in services:
        stem = name.lower().removesuffix("-service").removesuffix("_service")
        if name.lower() in q or re.search(rf"\b{re.escape(stem)}'?s?\s+(?:service|svc)\b", q):
            intent.services.append(name)
        elif len(stem) > 2 and (stem in words or f"{stem}s" in words or f"{stem}'s" in q):
            intent.services.append(name)
            intent.loose_services.append(name)
    if isinstance(services, Mapping):
        for word in _SERVICE_PHRASE.findall(q):
            owners = [
                n for n, text in services.items()
                if text and _stem(word) in {_stem(w) for w in _TOKEN.findall(text.lower())}
            ]  # fmt: skip
            if len(owners) == 1 and owners[0] not in intent.services:
                intent.services.append(owners[0])
    for person in people:
        first = person.split()[0].lower() if person.split() else ""
        if person.lower() in q or (len(first) > 2 and first in words):
            intent.people.append(person)
    intent.adr_numbers = [int(n) for n in _ADR_REF.findall(question)]
    intent.why = bool(
        words & {"why", "reason", "reasons", "rationale", "decided", "decision", "decisions",
                 "chose", "chosen"}
    )  # fmt: skip
    intent.danger = (
        bool(words & {"touch", "careful", "danger", "dangerous", "risky", "avoid", "fragile"})
        or bool(_NEVER_DO.search(q))
        or bool(_PERMISSION.search(q))
    )
    intent.who = bool(words & {"who", "whom", "expert", "owner", "owns", "ask"}) or bool(
        _PAGE_SOMEONE.search(q)
    )
    intent.incident = bool(
        words & {"incident", "outage", "timeouts", "timeout", "errors", "failing",
                 "broke", "broken", "alert", "paged", "latency", "storm", "lag", "sev1"}
    ) or bool(_OUT_OF_SERVICE.search(q))  # fmt: skip
    intent.howto = (
        bool(words & {"how", "setup", "configure", "install", "steps", "procedure", "guide"})
        or "set up" in q
    )
    intent.now = bool(words & {"now", "currently", "today", "latest", "still"})
    intent.past = bool(_PAST.search(q))
    intent.origin = bool(_ORIGIN.search(q))
    intent.code = bool(_CODE_NAME.search(question))
    intent.period = period_named(q)
    intent.history = bool(
        words & {"changed", "change", "revert", "reverted", "introduced", "added",
                 "removed", "ago", "history", "commit", "shortened", "shorter", "longer",
                 "renamed", "moved", "fixed", "undo", "undid", "rolled"}
    ) or bool(_WHEN_QUESTION.search(q))  # fmt: skip
    return intent
