"""Incidents read from Slack: one per incident channel, one per alert thread of #incidents.

Shared by the export and the live connector. The incident key `incident:INC-…` is the one the
git postmortem parser uses, so a channel and its postmortem merge into one incident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from connectors.slack_common import (
    DELETED_TEXT,
    TOPIC_SUBTYPES,
    ChannelInfo,
    Conversation,
    Directory,
    Message,
    SlackSite,
    build_conversations,
    first_line,
    sightings,
    ts_key,
)
from kb.contract.incidents import (
    INCIDENT_KEY,
    SERVICE_MENTION,
    incident_key,
    services_mentioned,
    worst_severity,
)
from kb.contract.kinds import Severity, WisdomKind, WisdomOrigin
from kb.contract.records import IncidentRecord, Record, WisdomRecord

_PER_INCIDENT_CHANNEL = re.compile(r"^(?:incident|inc)[-_].", re.I)
_SHARED_CHANNEL = re.compile(r"^(?:incidents?|incidents[-_].*)$", re.I)
# Channel names and topics are free-form ("inc-2024-03-checkout"); in messages only the
# upper-case form counts, so "inc" in running text is not taken for an id.
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\b")
_ROOT_CAUSE = re.compile(r"\b(?:root[ -]?cause|RCA)\b\s*(?::|-|—|(?:was|is)\b:?)\s*(.*)", re.I)
_CAUSE_WAS = re.compile(r"\bcause (?:was|is)\b:?\s*(.*)", re.I)
# Tiers of resolution evidence, strongest first: "resolved: latency is back" is a status
# update, "fix: raise the pool size" says what was done.
_RESOLUTION_TIERS = (
    re.compile(
        r"\b(?:(?:resolution|fix(?:es)?)\s*:|(?:fixed|resolved) (?:by|with)\b)\s*(.*)", re.I
    ),
    re.compile(
        r"\b(?:(?:mitigation|workaround)(?:\s*\d+)?\s*:|mitigated (?:by|with)\b)\s*(.*)", re.I
    ),
    re.compile(r"\bresolved\s*:\s*(.*)", re.I),
)
# "Root cause: unknown yet" is not a root cause.
_NOT_KNOWN = re.compile(
    r"^(?:unknown|unclear|tb[cd]|n/?a|todo|\?+|not (?:yet )?(?:known|clear)|"
    r"(?:still |under )?investigat\w*)\b",
    re.I,
)
_ENDED = re.compile(r"(?<!not )(?<!n't )\b(?:resolved|all[ -]clear|recovered)\b", re.I)
_MITIGATED = re.compile(r"(?<!not )(?<!n't )\bmitigated\b", re.I)
_LEADING_TIME = re.compile(
    r"^\s*(?:at\s+)?(?:[01]?\d|2[0-3]):[0-5]\d\s*(?:UTC)?\s*[.,;:]?\s*", re.I
)
_UTC_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\s*UTC\b")
_ALERT_NUMBER = re.compile(r"#(\d{2,})\b")
_CHANNEL_MENTION = re.compile(r"#([a-z0-9][a-z0-9_-]*)")
_STATUS_LINE = re.compile(r"\b(?:IC|status|on[- ]?call|commander|owner)\s*:", re.I)
_ALERT_WORDS = re.compile(
    r"\b(?:alert|alarm|incident|outage|down|degraded|errors?|fail(?:ing|ed|ure)?|timeouts?|"
    r"latency|5\d\d|paged?|firing|sev[-_ ]?\d|P[0-4])\b",
    re.I,
)


def incident_channel_kind(name: str) -> Literal["channel", "shared"] | None:
    """Per-incident channel ("channel"), the shared #incidents ("shared"), or neither."""
    if _SHARED_CHANNEL.match(name):  # "incidents", "incident", "incidents-payments"
        return "shared"
    if _PER_INCIDENT_CHANNEL.match(name):  # "incident-…", "inc-…", "inc_…"
        return "channel"
    return None


def incident_id(channel: str, texts: Iterable[str], messages: Iterable[Message]) -> str | None:
    """The INC id (INC-2024-03): in the topic/purpose, else the messages, else the name.

    Explicit mentions win over the channel name: "inc-2024-03-14-checkout-outage" is named
    after a date, and a date is never taken for an id.
    """
    return (
        incident_key(*texts, loose=True)
        or incident_key(*(m.text for m in messages))
        or incident_key(channel, loose=True)
    )


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(" *_`:-–—")[:500]


def _statements(messages: list[Message], pattern: re.Pattern[str]) -> list[tuple[str, Message]]:
    """Statements introduced by `pattern` (the rest of the line, or the next line), in order."""
    found: list[tuple[str, Message]] = []
    for index, message in enumerate(messages):
        lines = message.text.splitlines()
        for lineno, line in enumerate(lines):
            match = pattern.search(line)
            if not match:
                continue
            said = _clean(_LEADING_TIME.sub("", match.group(1)))
            if len(said) < 3:  # "Root cause:" with the answer on the next line
                following = [s for s in lines[lineno + 1 :] if s.strip()]
                if not following and index + 1 < len(messages):
                    following = messages[index + 1].text.splitlines()[:1]
                said = _clean(following[0]) if following else ""
            if len(said) >= 3 and not _NOT_KNOWN.match(said):
                found.append((said, message))
    return found


def _root_cause(messages: list[Message]) -> tuple[str, Message] | None:
    """The last root cause stated (later statements refine earlier guesses)."""
    found = _statements(messages, _ROOT_CAUSE) or _statements(messages, _CAUSE_WAS)
    return found[-1] if found else None


def _resolution(messages: list[Message]) -> str | None:
    """Every fix (else mitigation, else "resolved:" note) stated, joined in order."""
    for tier in _RESOLUTION_TIERS:
        found = list(dict.fromkeys(said for said, _ in _statements(messages, tier)))
        if found:
            return "; ".join(found)[:1000]
    return None


def _ended_at(messages: list[Message]) -> tuple[datetime, bool]:
    """When it was declared resolved (else mitigated), else the last message; and whether
    it was declared. "resolved: 14:49 UTC" posted at 14:50 ended at 14:49."""
    for pattern in (_ENDED, _MITIGATED):
        for message in messages[1:]:
            if pattern.search(message.text) and not message.text.rstrip().endswith("?"):
                return _stated_time(message) or message.at, True
    return messages[-1].at, False


def _stated_time(message: Message) -> datetime | None:
    """An explicit "HH:MM UTC" in a message, within the 12 hours before it was posted."""
    match = _UTC_TIME.search(message.text)
    if not match:
        return None
    posted = message.at
    stated = posted.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
    if stated > posted:
        stated -= timedelta(days=1)
    return stated if posted - stated <= timedelta(hours=12) else None


def incident_records(
    site: SlackSite, channel: ChannelInfo, conversations: list[Conversation], topics: list[str]
) -> list[IncidentRecord | WisdomRecord]:
    """The incidents (and known issues) of an incident channel's conversations."""
    kind = incident_channel_kind(channel.name)
    if kind == "channel":
        texts = [channel.topic, channel.purpose, *topics]
        key = f"{channel.id}#incident"
        titles = [channel.topic, channel.purpose]
        return _incident(site, channel, conversations, texts, titles, key, per_channel=True)
    if kind != "shared":
        return []
    # Alerting tools post "Resolved #1187: …" as a new message, not in the alert's thread.
    resolved: dict[str, datetime] = {}
    for conv in conversations:
        for message in [] if conv.is_thread else conv.messages:
            if _ENDED.search(message.text):
                for number in _ALERT_NUMBER.findall(message.text):
                    resolved.setdefault(number, message.at)
    out: list[IncidentRecord | WisdomRecord] = []
    for conv in conversations:
        if not conv.is_thread or not _is_alert(conv) or _moved_to_channel(conv):
            continue
        key = f"{channel.id}:{conv.key}#incident"
        number = _ALERT_NUMBER.search(conv.messages[0].text)
        at = resolved.get(number[1]) if number else None
        out += _incident(site, channel, [conv], [], [], key, per_channel=False, resolved_at=at)
    return out


def _moved_to_channel(conv: Conversation) -> bool:
    """The thread opens by sending people to a dedicated incident channel: that channel is
    the incident (an incident of its own here would compete with it for title and times)."""
    return any(
        incident_channel_kind(name) == "channel"
        for name in _CHANNEL_MENTION.findall(conv.messages[0].text)
    )


def _best_title(candidates: list[str], inc: str | None) -> str:
    """The topic or purpose that names the incident, rather than one giving its status."""
    present = [c for c in candidates if c.strip()]
    for choice in (
        [c for c in present if inc and inc.lower() in c.lower()],
        [c for c in present if not _STATUS_LINE.search(c)],
        present,
    ):
        if choice:
            return choice[0]
    return ""


def _is_alert(conv: Conversation) -> bool:
    head = conv.messages[0]
    return (
        head.is_bot
        or bool(_ALERT_WORDS.search(head.text))
        or bool(INCIDENT_KEY.search(head.text))
        or bool(SERVICE_MENTION.search(head.text))
    )


def _incident(
    site: SlackSite,
    channel: ChannelInfo,
    conversations: list[Conversation],
    texts: list[str],
    titles: list[str],
    fallback_key: str,
    per_channel: bool,
    resolved_at: datetime | None = None,
) -> list[IncidentRecord | WisdomRecord]:
    """One incident from its conversations, and its known issue when a root cause is stated."""
    document_of: dict[str, str] = {}
    by_ts: dict[str, Message] = {}
    for conv in conversations:
        for message in conv.messages:
            by_ts[message.ts] = message
            document_of[message.ts] = conv.document.external_id
    messages = sorted(by_ts.values(), key=lambda m: ts_key(m.ts))
    if not messages:
        return []
    # A per-incident channel may be named after its id; a shared channel is not.
    inc = incident_id(channel.name if per_channel else "", texts, messages)
    external_id = f"incident:{inc}" if inc else f"slack:{site.workspace}:{fallback_key}"
    readable = [m for m in messages if m.text != DELETED_TEXT]
    head = readable[0] if readable else messages[0]
    title = first_line(_best_title(titles, inc), 200) or first_line(head.text, 200)
    title = title or f"#{channel.name}"
    texts = [*texts, *(m.text for m in messages)]
    root = _root_cause(messages)
    humans = [m.author for m in messages if not m.is_bot and m.text != DELETED_TEXT]
    services = services_mentioned(texts)
    severity = worst_severity(texts)
    thread_key = conversations[0].key if len(conversations) == 1 else None
    end, declared = _ended_at(messages)
    # An alert resolved elsewhere ends then, unless its thread declared an end itself.
    hinted = resolved_at is not None and not declared and resolved_at >= messages[0].at
    meta = {
        "source": "slack",
        "workspace": site.workspace,
        "channel_id": channel.id,
        "participants": list(dict.fromkeys(humans)),
        "alerts_from": list(dict.fromkeys(m.author for m in messages if m.is_bot)),
        "message_count": len(messages),
        "documents": list(dict.fromkeys(c.document.external_id for c in conversations)),
        "url": site.permalink(channel.id, messages[0].ts, messages[0].thread_ts),
        "inc_id": inc,
    }
    if thread_key and not thread_key.startswith("day:"):
        meta["thread_ts"] = thread_key
    incident = IncidentRecord(
        external_id=external_id,
        title=title,
        started_at=messages[0].at,
        ended_at=resolved_at if hinted else end,
        severity=severity,
        services=services,
        root_cause=root[0] if root else None,
        resolution=_resolution(messages),
        channel=channel.name,
        meta=meta,
    )
    if not root:
        return [incident]
    return [incident, _known_issue(incident, root, first_line(head.text, 200), document_of)]


def _known_issue(
    incident: IncidentRecord,
    root: tuple[str, Message],
    symptom: str,
    document_of: dict[str, str],
) -> WisdomRecord:
    """What to remember from an incident: symptom, root cause, fix, who said it and where."""
    cause, said_in = root
    inc = incident.meta.get("inc_id")
    started = incident.started_at
    body = (
        f"Symptom: {symptom}\nRoot cause: {cause}\n"
        f"Resolution: {incident.resolution or 'not recorded'}\n"
        f"Seen in {inc or 'an incident'} on {started:%Y-%m-%d} in #{incident.channel}."
    )
    return WisdomRecord(
        external_id=f"{incident.external_id}#known-issue",
        kind=WisdomKind.KNOWN_ISSUE,
        title=incident.title,
        body=body,
        origin=WisdomOrigin.EXTRACTED,
        service=incident.services[0] if incident.services else None,
        severity=incident.severity or Severity.MEDIUM,
        document_external_id=document_of[said_in.ts],
        said_by_name=None if said_in.is_bot else said_in.author,
        created_at=said_in.at,
        meta={"incident": incident.external_id, "channel": incident.channel},
    )


def channel_records(
    site: SlackSite, channel: ChannelInfo, messages: list[Message], directory: Directory
) -> list[Record]:
    """Everything one channel's messages say: documents, incidents, known issues, people seen."""
    topics = [m.text for m in messages if m.subtype in TOPIC_SUBTYPES]
    conversations = build_conversations(site, channel, messages)
    records: list[Record] = [c.document for c in conversations]
    records += incident_records(site, channel, conversations, topics)
    records += sightings(messages, directory)
    return records
