"""Slack logic shared by the export and live connectors, written once.

Raw Slack message objects (from an export's day files or the Web API) become `Message`s with
readable text; messages become one document per thread and one per channel per day (with
chunks of whole messages); people are seen at their first and last message. Incident
extraction lives next door in `connectors.slack_incidents`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kb.contract.chunking import MAX_CHUNK_CHARS
from kb.contract.kinds import DocumentKind
from kb.contract.records import ChunkText, DocumentRecord, PersonRecord
from kb.contract.visibility import PRIVATE

# Slack ts: epoch seconds "." microseconds; ten digits of seconds keep datetimes in range.
_TS = re.compile(r"^\d{1,10}(?:\.\d{1,6})?$")
_MARKUP = re.compile(r"<([^<>\n]+)>")
# Joins, leaves and housekeeping say nothing about the system.
_NOISE_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "group_join",
        "group_leave",
        "channel_archive",
        "channel_unarchive",
        "group_archive",
        "group_unarchive",
        "channel_name",
        "group_name",
        "message_deleted",
        "pinned_item",
        "unpinned_item",
        "reminder_add",
    }
)
TOPIC_SUBTYPES = frozenset({"channel_topic", "channel_purpose", "group_topic", "group_purpose"})
DELETED_TEXT = "(message deleted)"
TITLE_CHARS = 80


def valid_ts(value: Any) -> bool:
    """Whether `value` is a Slack timestamp string like "1710410520.000200"."""
    return isinstance(value, str) and bool(_TS.match(value))


def ts_key(ts: str) -> tuple[int, int]:
    """A sort key of a ts that orders "9.5" before "10.1" (string order would not)."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction.ljust(6, "0")[:6])


def ts_datetime(ts: str) -> datetime:
    """The aware-UTC datetime of a Slack ts (microsecond precision, no float rounding)."""
    seconds, micros = ts_key(ts)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def latest_ts(messages: Iterable[Message]) -> str:
    """The newest ts among messages (which must not be empty)."""
    return max((m.ts for m in messages), key=ts_key)


def topic_value(raw: dict[str, Any], key: str) -> str:
    """A conversation's topic or purpose text ({"topic": {"value": ...}})."""
    part = raw.get(key)
    return part["value"] if isinstance(part, dict) and isinstance(part.get("value"), str) else ""


@dataclass(frozen=True)
class SlackUser:
    """A workspace member as users.json / users.list describe them."""

    id: str
    name: str
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False


def parse_user(raw: Any) -> SlackUser | None:
    """A `SlackUser` from one users.json / users.list entry (None if it has no id)."""
    if not isinstance(raw, dict) or not _str(raw.get("id")):
        return None
    profile = _obj(raw.get("profile"))
    uid = raw["id"]
    name = (
        _str(raw.get("real_name")).strip()
        or _str(profile.get("real_name")).strip()
        or _str(raw.get("name")).strip()
        or uid
    )
    return SlackUser(
        id=uid,
        name=name,
        email=_str(profile.get("email")).strip() or None,
        is_bot=bool(raw.get("is_bot")) or bool(profile.get("bot_id")) or uid == "USLACKBOT",
        deleted=bool(raw.get("deleted")),
    )


@dataclass
class Directory:
    """User ids and channel ids to readable names; unknown ids stay raw (`@U0123`)."""

    users: dict[str, SlackUser] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)

    def user_name(self, uid: str) -> str:
        """The person's name, or the raw id when the workspace does not know it."""
        user = self.users.get(uid)
        return user.name if user else uid


def render_markup(text: str, directory: Directory) -> str:
    """Slack markup to readable text: mentions, channel links, URLs, entities."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            if uid in directory.users:
                return "@" + directory.users[uid].name
            return "@" + (label.lstrip("@") or uid)
        if target.startswith("#"):
            cid = target[1:]
            return "#" + (label or directory.channels.get(cid) or cid)
        if target.startswith("!"):
            command = target[1:]
            if command in {"here", "channel", "everyone"}:
                return "@" + command
            if label:  # <!subteam^S1|@oncall>, <!date^...|Feb 18>
                return label
            return "@" + command.split("^")[-1]
        if target.startswith("mailto:"):
            return label or target.removeprefix("mailto:")
        if label and label not in (target, target.split("://", 1)[-1]):
            return f"{label} ({target})"
        return target

    return html.unescape(_MARKUP.sub(replace, text)) if "<" in text or "&" in text else text


@dataclass(frozen=True)
class ChannelInfo:
    """A conversation: its id, name, and what its topic and purpose say."""

    id: str
    name: str
    topic: str = ""
    purpose: str = ""
    # Members only: its content is cited only to them (kb.contract.visibility).
    private: bool = False


@dataclass(frozen=True)
class Message:
    """One message, readable: who, when, what (markup resolved, files and attachments in)."""

    ts: str
    author: str
    text: str
    user_id: str | None = None
    thread_ts: str | None = None
    reply_count: int = 0
    is_bot: bool = False
    subtype: str | None = None

    @property
    def at(self) -> datetime:
        """When it was posted (aware UTC)."""
        return ts_datetime(self.ts)

    @property
    def in_thread(self) -> bool:
        """A reply, or a parent whose replies exist."""
        return self.thread_ts is not None and (self.thread_ts != self.ts or self.reply_count > 0)

    def block(self) -> str:
        """The message as it reads in a document: `Name (2024-03-14 10:02 UTC): text`."""
        return f"{self.author} ({self.at:%Y-%m-%d %H:%M} UTC): {self.text}"


def read_message(raw: dict[str, Any], directory: Directory) -> Message | None:
    """A readable `Message` from a raw Slack message (None for joins, leaves and noise).

    `raw["ts"]` must be valid (callers report entries without one); every other field is
    read defensively because exports are hand-edited and damaged in the wild.
    """
    subtype = _str(raw.get("subtype")) or None
    if subtype in _NOISE_SUBTYPES:
        return None
    if subtype == "message_changed" and isinstance(raw.get("message"), dict):
        # The wrapped message is the current version of the original (same ts).
        inner = dict(raw["message"])
        if not valid_ts(inner.get("ts")):
            return None
        if "thread_ts" not in inner and valid_ts(raw.get("thread_ts")):
            inner["thread_ts"] = raw["thread_ts"]
        if inner.get("subtype") == "message_changed":
            inner.pop("subtype")  # never nested in real data; don't recurse on crafted input
        return read_message(inner, directory)
    ts = raw["ts"]
    thread_ts = raw.get("thread_ts") if valid_ts(raw.get("thread_ts")) else None
    reply_count = raw.get("reply_count")
    replies = _dicts(raw.get("replies"))
    count = reply_count if isinstance(reply_count, int) and reply_count > 0 else len(replies)
    uid = _str(raw.get("user")) or None
    if subtype == "tombstone":
        return Message(ts, "unknown", DELETED_TEXT, None, thread_ts or ts, count, False, subtype)
    if subtype in TOPIC_SUBTYPES:
        said = _str(raw.get("topic")) or _str(raw.get("purpose")) or _str(raw.get("text"))
        author = directory.user_name(uid) if uid else "unknown"
        return Message(ts, author, render_markup(said, directory), uid, None, 0, False, subtype)
    bot_profile = _obj(raw.get("bot_profile"))
    is_bot = subtype == "bot_message" or bool(raw.get("bot_id")) or uid == "USLACKBOT"
    if uid and uid in directory.users:
        author = directory.users[uid].name
        is_bot = is_bot or directory.users[uid].is_bot
    elif is_bot:
        author = (
            _str(raw.get("username"))
            or _str(bot_profile.get("name"))
            or _str(raw.get("bot_id"))
            or "bot"
        )
    else:
        profile = _obj(raw.get("user_profile"))
        author = (
            _str(profile.get("real_name")) or _str(profile.get("display_name")) or uid or "unknown"
        )
    if subtype == "bot_message" and _str(raw.get("username")):
        author = raw["username"]  # integrations post as a named bot ("PagerDuty")
    text = _message_text(raw, directory)
    return Message(ts, author, text, uid, thread_ts, count, is_bot, subtype)


def _message_text(raw: dict[str, Any], directory: Directory) -> str:
    """Text, then attachment text (alerts live there), then the names of shared files."""
    parts = [render_markup(_str(raw.get("text")), directory).strip()]
    for att in _dicts(raw.get("attachments")):
        lines = [_str(att.get(k)).strip() for k in ("pretext", "title")]
        lines.append(_str(att.get("text")).strip() or _str(att.get("fallback")).strip())
        lines += [
            f"{_str(f.get('title'))}: {_str(f.get('value'))}".strip(": ")
            for f in _dicts(att.get("fields"))
        ]
        for line in lines:
            rendered = render_markup(line, directory)
            if rendered and rendered not in parts:
                parts.append(rendered)
    files = _dicts(raw.get("files")) + _dicts([raw.get("file")])
    names = [_str(f.get("name")) or _str(f.get("title")) for f in files]
    if any(names):
        parts.append("[files: " + ", ".join(n for n in names if n) + "]")
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class SlackSite:
    """A workspace as documents cite it: its name (in external ids) and its web address."""

    workspace: str
    url: str

    def permalink(self, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
        """The web link of a message (a reply carries its thread and channel)."""
        link = f"{self.url.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel_id}"
        return link

    def document_id(self, channel_id: str, key: str) -> str:
        """External id of a thread (`key` = thread ts) or a day (`key` = "day:YYYY-MM-DD")."""
        return f"slack:{self.workspace}:{channel_id}:{key}"


@dataclass
class Conversation:
    """A thread or a channel's day of top-level messages, and the document made of it."""

    channel: ChannelInfo
    key: str
    messages: list[Message]
    document: DocumentRecord

    @property
    def is_thread(self) -> bool:
        """A thread (else a day of messages that were not in a thread)."""
        return not self.key.startswith("day:")


def first_line(text: str, limit: int = TITLE_CHARS) -> str:
    """The first non-empty line, whitespace collapsed, cut to `limit` characters."""
    line = next((s for s in text.splitlines() if s.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def message_chunks(title: str, blocks: list[str]) -> list[ChunkText]:
    """Chunks of a few whole messages each; only a message too long alone is cut."""
    chunks: list[ChunkText] = []
    buf: list[str] = []
    start = line = 1

    def flush() -> None:
        nonlocal buf, start
        if buf:
            text = "\n".join(buf)
            chunks.append(ChunkText(text, title, start, start + text.count("\n")))
        buf, start = [], line

    for block in blocks:
        size = sum(len(b) + 1 for b in buf)
        if buf and size + len(block) > MAX_CHUNK_CHARS:
            flush()
        if len(block) > MAX_CHUNK_CHARS:
            flush()
            for piece, first, last in _split_long(block):
                chunks.append(ChunkText(piece, title, line + first, line + last))
            line += block.count("\n") + 1
            start = line
            continue
        buf.append(block)
        line += block.count("\n") + 1
    flush()
    return chunks


def _split_long(block: str) -> list[tuple[str, int, int]]:
    """A long message in pieces of at most MAX_CHUNK_CHARS, at line ends where possible.

    Each piece comes with the offsets of its first and last line within the message.
    """
    pieces: list[tuple[str, int, int]] = []
    current: list[str] = []
    first = 0
    lines = block.split("\n")
    for offset, raw_line in enumerate(lines):
        line = raw_line
        while len(line) > MAX_CHUNK_CHARS:  # a log dump or a stack trace on one line
            if current:
                pieces.append(("\n".join(current), first, offset - 1))
                current = []
            pieces.append((line[:MAX_CHUNK_CHARS], offset, offset))
            line = line[MAX_CHUNK_CHARS:]
        if current and sum(len(s) + 1 for s in current) + len(line) > MAX_CHUNK_CHARS:
            pieces.append(("\n".join(current), first, offset - 1))
            current = []
        if not current:
            first = offset
        current.append(line)
    if "".join(current).strip():
        pieces.append(("\n".join(current), first, len(lines) - 1))
    return pieces


def build_conversations(
    site: SlackSite, channel: ChannelInfo, messages: Iterable[Message]
) -> list[Conversation]:
    """One document per thread (parent + replies by ts) and one per channel per UTC day."""
    by_ts: dict[str, Message] = {}
    for message in messages:
        if message.subtype not in TOPIC_SUBTYPES:
            by_ts[message.ts] = message  # a later copy (edit, broadcast) replaces the earlier
    groups: dict[str, list[Message]] = {}
    for message in sorted(by_ts.values(), key=lambda m: ts_key(m.ts)):
        if message.in_thread and message.thread_ts:
            key = message.thread_ts
        else:
            key = f"day:{message.at:%Y-%m-%d}"
        groups.setdefault(key, []).append(message)
    return [
        _conversation(site, channel, key, group)
        for key, group in sorted(groups.items(), key=lambda kv: ts_key(kv[1][0].ts))
    ]


def _conversation(
    site: SlackSite, channel: ChannelInfo, key: str, messages: list[Message]
) -> Conversation:
    is_thread = not key.startswith("day:")
    head = messages[0]
    parent = head if is_thread and head.ts == key else None
    participants = list(dict.fromkeys(m.author for m in messages if m.text != DELETED_TEXT))
    meta: dict[str, Any] = {
        "channel": channel.name,
        "channel_id": channel.id,
        "participants": participants,
        "message_count": len(messages),
    }
    if is_thread:
        replies = len(messages) - (1 if parent else 0)
        meta["thread_ts"] = key
        meta["reply_count"] = max(parent.reply_count if parent else 0, replies)
        title = f"#{channel.name}: {first_line(head.text) or '(no text)'}"
        url = (
            site.permalink(channel.id, key) if parent else site.permalink(channel.id, head.ts, key)
        )
    else:
        day = key.removeprefix("day:")
        meta["date"] = day
        title = f"#{channel.name} {day}: {first_line(head.text) or '(no text)'}"
        url = site.permalink(channel.id, head.ts)
    if channel.topic:
        meta["topic"] = channel.topic
    if channel.private:
        meta[PRIVATE] = True
    blocks = [m.block() for m in messages]
    document = DocumentRecord(
        external_id=site.document_id(channel.id, key),
        kind=DocumentKind.SLACK,
        title=title,
        body="\n".join(blocks),
        url=url,
        author_name=None if head.text == DELETED_TEXT else head.author,
        created_at=head.at,
        updated_at=messages[-1].at,
        meta=meta,
        chunks=message_chunks(title, blocks),
    )
    return Conversation(channel, key, messages, document)


def sightings(messages: Iterable[Message], directory: Directory) -> Iterator[PersonRecord]:
    """Each author seen, twice: at their first and at their last message (activity span)."""
    span: dict[tuple[str | None, str], tuple[Message, Message]] = {}
    for m in messages:
        if m.text == DELETED_TEXT or m.subtype in TOPIC_SUBTYPES:
            continue
        key = (m.user_id, m.author) if m.user_id else (None, m.author)
        first, last = span.get(key, (m, m))
        span[key] = (
            m if ts_key(m.ts) < ts_key(first.ts) else first,
            m if ts_key(m.ts) > ts_key(last.ts) else last,
        )
    for (uid, name), (first, last) in span.items():
        user = directory.users.get(uid) if uid else None
        for seen in dict.fromkeys([first.ts, last.ts]):
            yield PersonRecord(
                name=user.name if user else name,
                emails=(user.email,) if user and user.email else (),
                slack_id=uid,
                is_bot=first.is_bot or bool(user and user.is_bot),
                seen_at=ts_datetime(seen),
            )


def people(users: Iterable[SlackUser], last_seen: dict[str, str]) -> Iterator[PersonRecord]:
    """The workspace's members; a deactivated one gets `left_at` = their last message seen.

    Slack does not say when an account was deactivated. The user object's `updated` is no
    evidence (profile syncs and admin edits touch it too), so the last message kb has read
    (`last_seen`) is used: a lower bound. Without one, only `left` says so (kb then dates
    the departure by the person's last activity from any source, git included).
    """
    for user in users:
        left = user.deleted and user.id in last_seen
        yield PersonRecord(
            name=user.name,
            emails=(user.email,) if user.email else (),
            slack_id=user.id,
            is_bot=user.is_bot,
            left_at=ts_datetime(last_seen[user.id]) if left else None,
            left=user.deleted,
        )
