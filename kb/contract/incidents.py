"""The incident rules every connector shares, so a Slack channel and its postmortem merge.

An incident's key is `INC-<digits>` (`INC-2024-03`); Slack channel names and topics write it
loosely (`inc-2024-03`, `inc_42`). A severity is `SEV1`/`sev 2`/`severity-0` or a priority
`P1`; services are named `*-service`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kb.contract.kinds import SEVERITY_BY_LEVEL, SEVERITY_RANK, Severity

INCIDENT_KEY = re.compile(r"\bINC-?(\d+(?:-\d+)*)\b")
INCIDENT_KEY_LOOSE = re.compile(r"\binc[-_ ]?(\d+(?:[-_]\d+)*)\b", re.I)
SEVERITY_LEVEL = re.compile(r"\bsev(?:erity)?[-_ ]?([0-5])\b", re.I)
PRIORITY_LEVEL = re.compile(r"\bP([0-4])\b")
SERVICE_MENTION = re.compile(r"\b([a-z0-9]+(?:-[a-z0-9]+)*-service)\b", re.I)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\b")


def incident_key(*texts: str, loose: bool = False) -> str | None:
    """The first incident key in `texts`, in order, as `INC-…`.

    A channel name like `inc-2024-03-14-checkout` holds a date, not a key: such digits are
    passed over.
    """
    pattern = INCIDENT_KEY_LOOSE if loose else INCIDENT_KEY
    for text in texts:
        for match in pattern.finditer(text):
            digits = re.sub(r"[-_]", "-", match.group(1))
            if not _DATE.match(digits):
                return "INC-" + digits
    return None


def severity_levels(text: str, priorities: bool = True) -> list[int]:
    """Every severity level named in `text` (SEV1 → 1; P2 → 2 when `priorities`)."""
    levels = [int(m.group(1)) for m in SEVERITY_LEVEL.finditer(text)]
    if priorities:
        levels += [int(m.group(1)) for m in PRIORITY_LEVEL.finditer(text)]
    return levels


def worst_severity(texts: Iterable[str]) -> Severity | None:
    """The worst severity named (SEV1, sev 2, P1): an incident is as bad as its peak."""
    found: Severity | None = None
    for text in texts:
        for level in severity_levels(text):
            severity = SEVERITY_BY_LEVEL[level]
            if found is None or SEVERITY_RANK[severity] > SEVERITY_RANK[found]:
                found = severity
    return found


def services_mentioned(texts: Iterable[str]) -> tuple[str, ...]:
    """`*-service` names mentioned, lower-cased, in order of first mention."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in SERVICE_MENTION.finditer(text):
            seen.setdefault(match.group(1).lower(), None)
    return tuple(seen)
