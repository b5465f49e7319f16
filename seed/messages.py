"""Commit messages: each person's habits, and the reasons people give for changes."""

from __future__ import annotations

import random

FEATURE_WHY = (
    "{Summary} in one place so that callers stop re-implementing it inline.",
    "We saw {nouns} in production with a malformed {field}; this catches them at the edge.",
    "Small building block for the next roadmap item; the API wiring follows separately.",
    "Came up in code review of the last release: the logic was duplicated in two handlers.",
)
FIX_WHY = (
    "{knob} was {old}, which is too {adj} for production traffic: {reason}. "
    "{new} matches what we see on the dashboards.",
    "On-call follow-up: {reason}. Changing {knob} from {old} to {new}.",
)
FIX_REASONS = (
    "we were hitting timeouts during the evening peak",
    "the on-call saw a burst of retries after the last deploy",
    "the query planner switched to a sequential scan on large batches",
    "mobile clients on slow connections were seeing partial pages",
    "the alert was flapping every few minutes",
)
LOG_WHY = "Needed this while debugging a support ticket; cheap at debug level."


def commit_message(
    author: str, style: str, ticket: str, summary: str, body: str | None, vocab, rng: random.Random
) -> str:
    """A commit message in the author's habitual style."""
    cap = summary[0].upper() + summary[1:]
    scope = vocab.pkg if vocab else "platform"
    if author == "alex":
        subject = f"{ticket}: {cap}"
        keep = 0.55
    elif author == "sofia":
        subject = f"{style}({scope}): {summary} ({ticket})"
        keep = 0.2
    elif author == "priya":
        subject = f"[{ticket}] {cap}" if rng.random() < 0.4 else cap
        keep = 0.15
    elif author == "ben":
        subject = summary if rng.random() < 0.6 else f"{ticket} {summary}"
        keep = 0.1
    elif author == "chen":
        subject = f"[{ticket}] {cap}"
        keep = 0.4
    elif author == "maria":
        subject = f"{ticket} {cap}"
        keep = 0.3
    elif author == "jamie":
        subject = summary
        keep = 0.1
    else:
        subject = f"{style}: {summary}"
        keep = 0.1
    if body and rng.random() < keep:
        return f"{subject}\n\n{body}\n"
    return subject + "\n"
