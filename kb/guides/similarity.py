"""How alike a past incident is to what is happening now: pure scoring, no model.

Three kinds of evidence, each a reason a person reads:

- the symptom: the words of the symptom found in the incident's title, root cause and
  resolution, and the symptom's class (latency, errors, backlog, data, capacity) shared
  with the incident's;
- the services: the service itself was involved, or one it depends on or that depends on it;
- recency: an incident's weight halves every `HALF_LIFE_DAYS`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

HALF_LIFE_DAYS = 365.0
_TEXT, _SERVICES, _RECENCY = 0.45, 0.40, 0.15

# Words that name the same kind of trouble: a symptom and a write-up rarely use the same ones.
SYMPTOM_CLASSES: dict[str, tuple[str, ...]] = {
    "latency": (
        "timeout", "timed", "slow", "latency", "p99", "p95", "hang", "hung", "stall",
        "blocked", "blocking", "waiting", "deadline", "504", "saturation", "saturated",
    ),
    "errors": (
        "error", "errors", "5xx", "500", "502", "503", "exception", "crash", "failing",
        "fail", "failed", "failure", "outage", "down", "unavailable",
    ),
    "backlog": (
        "lag", "backlog", "queue", "queued", "consumer", "stuck", "replay", "replayed",
        "offset", "duplicate", "duplicates", "storm", "redelivery",
    ),
    "data": (
        "schema", "decode", "deserialise", "deserialize", "field", "missing", "wrong",
        "mismatch", "corrupt", "inconsistent", "version",
    ),
    "locking": ("deadlock", "deadlocks", "lock", "locks", "contention", "row"),
    "auth": ("token", "tokens", "jwt", "jwks", "401", "403", "unauthorized", "signature"),
}  # fmt: skip
_CLASS_OF = {word: name for name, words in SYMPTOM_CLASSES.items() for word in words}
_STOP_WORDS = (
    "the and for with from that this was were are not but all any can has had have into "
    "its our out per than then them they too via when who why will after before over on "
    "of to in at by an a is it as be or"
)
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]")


def words(text: str) -> set[str]:
    """Lower-case words of `text`, stop words out, a plural 's' off."""
    out = set()
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 2:
            continue
        out.add(w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w)
    return out


def classes(text: str) -> set[str]:
    """The kinds of trouble `text` names (see SYMPTOM_CLASSES)."""
    found = set()
    for w in _WORD.findall(text.lower()):
        name = _CLASS_OF.get(w) or _CLASS_OF.get(w.rstrip("s"))
        if name:
            found.add(name)
    return found


@dataclass
class Likeness:
    """A past incident's similarity in [0, 1] and the reasons for it."""

    score: float
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        """{"score", "reasons"}."""
        return {"score": round(self.score, 3), "reasons": self.reasons}


def likeness(
    symptom: str | None,
    service: str,
    neighbours: Collection[str],
    incident_text: str,
    incident_services: Collection[str],
    started_at: datetime | None,
    now: datetime,
) -> Likeness:
    """How alike an incident (its text, services, start) is to `symptom` in `service`."""
    reasons = []
    text_w = 0.0
    if symptom:
        wanted, have = words(symptom), words(incident_text)
        shared = sorted(wanted & have)
        overlap = len(shared) / len(wanted) if wanted else 0.0
        want_cls, have_cls = classes(symptom), classes(incident_text)
        same = sorted(want_cls & have_cls)
        cls_w = len(same) / len(want_cls) if want_cls else 0.0
        text_w = max(overlap, cls_w)
        if shared:
            reasons.append("mentions " + ", ".join(f"'{w}'" for w in shared[:4]))
        if same:
            reasons.append("same kind of trouble: " + ", ".join(same))
    services_w = 0.0
    if service in incident_services:
        services_w = 1.0
        reasons.append(f"involved {service}")
    else:
        near = sorted(set(neighbours) & set(incident_services))
        if near:
            services_w = 0.5
            reasons.append("involved " + ", ".join(near) + f", next to {service}")
    recency_w = 0.0
    if started_at is not None:
        days = max(0.0, (now - started_at).total_seconds() / 86400)
        recency_w = math.pow(0.5, days / HALF_LIFE_DAYS)
        reasons.append(f"{round(days)} days ago")
    if not symptom:  # nothing to compare: services and recency decide
        return Likeness(0.7 * services_w + 0.3 * recency_w, reasons)
    return Likeness(_TEXT * text_w + _SERVICES * services_w + _RECENCY * recency_w, reasons)
