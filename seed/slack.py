"""Write a Slack workspace export (standard layout) and a deterministic zip of it."""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from seed.people import PEOPLE, SLACK_BOTS, Person
from seed.timeline import AS_OF, epoch, utc_offset_minutes

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ZIP_DATE = (2026, 11, 1, 0, 0, 0)


@dataclass(frozen=True)
class Msg:
    """One scripted message; `thread` names the key of its parent."""

    at: str
    who: str
    text: str
    key: str = ""
    thread: str = ""
    broadcast: bool = False
    edited: str = ""
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    kind: str = ""
    attachment: dict | None = None
    # Added after the export's randomness was laid out: drawn from a stream of its own, so
    # every earlier message keeps its ts (evaluation sets cite messages by ts).
    late: bool = False


@dataclass
class Channel:
    """A channel with its metadata and scripted messages."""

    name: str
    created: str
    creator: str
    purpose: str
    topic: str = ""
    members: tuple[str, ...] = ()
    archived: bool = False
    general: bool = False
    messages: list[Msg] = field(default_factory=list)
    late: bool = False  # its id, like a late message's ts, comes from the late stream


@dataclass(frozen=True)
class SlackExport:
    """Where the export went and the ids it assigned."""

    directory: Path
    zip_path: Path
    user_ids: dict[str, str]
    channel_ids: dict[str, str]
    message_ts: dict[str, tuple[str, str]]


def _slack_id(rng: random.Random, prefix: str) -> str:
    return prefix + "0" + "".join(rng.choice(_ALNUM) for _ in range(9))


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        everyone = [p for p in PEOPLE if not p.is_bot] + list(SLACK_BOTS)
        self.team = _slack_id(rng, "T")
        self.users = {p.key: _slack_id(rng, "U") for p in everyone}
        self.bots = {p.key: _slack_id(rng, "B") for p in SLACK_BOTS}
        self.people = {p.key: p for p in everyone}


def _ts(rng: random.Random, stamp: str, taken: set[str]) -> str:
    seconds = epoch(stamp)
    while True:
        ts = f"{seconds}.{rng.randrange(1, 1_000_000):06d}"
        if ts not in taken:
            taken.add(ts)
            return ts


def _markup(text: str, ids: _Ids, channel_ids: dict[str, str]) -> str:
    # Scripts write <@alex> and <#incidents>; Slack stores <@U0…> and <#C0…|incidents>.
    text = re.sub(r"<@([a-z]+)>", lambda m: f"<@{ids.users[m.group(1)]}>", text)
    return re.sub(r"<#([a-z0-9\-]+)>", lambda m: f"<#{channel_ids[m.group(1)]}|{m.group(1)}>", text)


def _avatar(person: Person) -> str:
    return hashlib.md5(person.email.encode(), usedforsecurity=False).hexdigest()


def _profile_stub(person: Person, ids: _Ids) -> dict:
    first = person.name.partition(" ")[0]
    return {
        "avatar_hash": "g" + _avatar(person)[:11],
        "image_72": f"https://secure.gravatar.com/avatar/{_avatar(person)}.jpg?s=72",
        "first_name": first,
        "real_name": person.name,
        "display_name": person.slack_name,
        "team": ids.team,
        "name": person.slack_name,
        "is_restricted": False,
        "is_ultra_restricted": False,
    }


def _render(msg: Msg, ts: str, ids: _Ids, channel_ids: dict[str, str], rng: random.Random) -> dict:
    who = ids.people[msg.who]
    text = _markup(msg.text, ids, channel_ids)
    if msg.kind == "bot":
        out: dict = {
            "type": "message",
            "subtype": "bot_message",
            "text": text,
            "ts": ts,
            "bot_id": ids.bots[msg.who],
            "username": who.name,
        }
        if msg.attachment:
            out["attachments"] = [msg.attachment]
        return out
    if msg.kind == "join":
        return {
            "type": "message",
            "subtype": "channel_join",
            "user": ids.users[msg.who],
            "text": f"<@{ids.users[msg.who]}> has joined the channel",
            "ts": ts,
        }
    out = {
        "client_msg_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": "message",
        "text": text,
        "user": ids.users[msg.who],
        "ts": ts,
        "team": ids.team,
    }
    if rng.random() < 0.85:
        out["user_profile"] = _profile_stub(who, ids)
    if msg.edited:
        out["edited"] = {"user": ids.users[msg.who], "ts": f"{epoch(msg.edited)}.000000"}
    if msg.reactions:
        out["reactions"] = [
            {"name": name, "users": [ids.users[u] for u in users], "count": len(users)}
            for name, users in msg.reactions
        ]
    return out


def _channel_messages(
    channel: Channel,
    ids: _Ids,
    channel_ids: dict[str, str],
    rng: random.Random,
    keyed: dict[str, tuple[str, str]],
    late_rng: random.Random,
) -> list[dict]:
    taken: set[str] = set()
    rendered: list[tuple[Msg, dict]] = []
    by_key: dict[str, dict] = {}
    for msg in sorted(channel.messages, key=lambda m: m.at):
        draw = late_rng if msg.late or channel.late else rng
        ts = _ts(draw, msg.at, taken)
        if msg.kind == "deleted":
            # The parent was deleted but has replies: Slack keeps a tombstone in its place.
            out = {
                "type": "message",
                "subtype": "tombstone",
                "text": "This message was deleted.",
                "user": "USLACKBOT",
                "hidden": True,
                "ts": ts,
            }
        else:
            out = _render(msg, ts, ids, channel_ids, draw)
        if msg.key:
            if msg.key in keyed:
                raise ValueError(f"#{channel.name}: message key {msg.key!r} is used twice")
            by_key[msg.key] = out
            keyed[msg.key] = (channel.name, ts)
        rendered.append((msg, out))
    for msg, out in rendered:
        if not msg.thread:
            continue
        parent = by_key[msg.thread]
        out["thread_ts"] = parent["ts"]
        out["parent_user_id"] = parent.get("user", "USLACKBOT")
        parent["thread_ts"] = parent["ts"]
        parent.setdefault("replies", []).append({"user": out.get("user", ""), "ts": out["ts"]})
        if msg.broadcast:
            out["subtype"] = "thread_broadcast"
            out["root"] = {
                "text": parent["text"],
                "user": parent.get("user", "USLACKBOT"),
                "ts": parent["ts"],
                "thread_ts": parent["ts"],
            }
    for parent in by_key.values():
        replies = parent.get("replies")
        if not replies:
            continue
        users = list(dict.fromkeys(r["user"] for r in replies))
        parent.update(
            {
                "reply_count": len(replies),
                "reply_users_count": len(users),
                "latest_reply": replies[-1]["ts"],
                "reply_users": users,
                "is_locked": False,
                "subscribed": False,
            }
        )
    return [out for _, out in rendered]


def _users_json(ids: _Ids) -> list[dict]:
    users = []
    for key, uid in ids.users.items():
        p = ids.people[key]
        first, _, last = p.name.partition(" ")
        profile = {
            "title": p.title,
            "phone": "",
            "skype": "",
            "real_name": p.name,
            "real_name_normalized": p.name,
            "display_name": p.slack_name,
            "display_name_normalized": p.slack_name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "avatar_hash": "g" + _avatar(p)[:11],
            "email": p.email,
            "first_name": first,
            "last_name": last,
            "image_72": f"https://secure.gravatar.com/avatar/{_avatar(p)}.jpg?s=72",
            "image_192": f"https://secure.gravatar.com/avatar/{_avatar(p)}.jpg?s=192",
            "team": ids.team,
        }
        if p.is_bot:
            profile["bot_id"] = ids.bots[key]
            profile.pop("email")
        users.append(
            {
                "id": uid,
                "team_id": ids.team,
                "name": p.slack_name,
                "deleted": p.left is not None,
                "color": _avatar(p)[:6],
                "real_name": p.name,
                "tz": p.tz_name,
                "tz_label": p.tz_name,
                "tz_offset": utc_offset_minutes(p.zone, AS_OF) * 60,
                "profile": profile,
                "is_admin": key == "alex",
                "is_owner": key == "alex",
                "is_primary_owner": False,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": p.is_bot,
                "is_app_user": False,
                "updated": int(AS_OF.timestamp()) - 86400,
            }
        )
    return sorted(users, key=lambda u: u["id"])


def write_slack_export(out_dir: Path, seed: int, channels: list[Channel]) -> SlackExport:
    """Write slack-export/ and slack-export.zip under out_dir."""
    rng = random.Random(f"{seed}:slack")
    ids = _Ids(rng)
    late_rng = random.Random(f"{seed}:slack:late")
    channel_ids = {c.name: _slack_id(rng, "C") for c in channels if not c.late}
    channel_ids.update({c.name: _slack_id(late_rng, "C") for c in channels if c.late})
    root = out_dir / "slack-export"
    root.mkdir(parents=True)
    keyed: dict[str, tuple[str, str]] = {}
    meta = []
    files: dict[str, bytes] = {}
    for channel in channels:
        messages = _channel_messages(channel, ids, channel_ids, rng, keyed, late_rng)
        days: dict[str, list[dict]] = {}
        for message in messages:
            day = datetime.fromtimestamp(float(message["ts"]), UTC).strftime("%Y-%m-%d")
            days.setdefault(day, []).append(message)
        for day, batch in sorted(days.items()):
            files[f"{channel.name}/{day}.json"] = _dump(batch)
        meta.append(
            {
                "id": channel_ids[channel.name],
                "name": channel.name,
                "created": epoch(channel.created),
                "creator": ids.users[channel.creator],
                "is_archived": channel.archived,
                "is_general": channel.general,
                "members": sorted(ids.users[m] for m in channel.members),
                "topic": {
                    "value": channel.topic,
                    "creator": ids.users[channel.creator],
                    "last_set": epoch(channel.created) if channel.topic else 0,
                },
                "purpose": {
                    "value": channel.purpose,
                    "creator": ids.users[channel.creator],
                    "last_set": epoch(channel.created),
                },
            }
        )
    files["channels.json"] = _dump(meta)
    files["users.json"] = _dump(_users_json(ids))
    files["integration_logs.json"] = _dump(
        [
            {
                "service_id": ids.bots[b.key],
                "service_type": b.name,
                "user_id": ids.users["alex"],
                "user_name": "alex.morgan",
                "date": str(epoch("2023-11-02 10:00") + i * 600),
                "change_type": "added",
                "channel": "incidents" if b.key == "pagerduty" else "deploys",
            }
            for i, b in enumerate(SLACK_BOTS)
        ]
    )
    for name, payload in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
    zip_path = out_dir / "slack-export.zip"
    _write_zip(zip_path, files)
    return SlackExport(root, zip_path, dict(ids.users), channel_ids, keyed)


def _dump(value: object) -> bytes:
    return (json.dumps(value, indent=4, ensure_ascii=False) + "\n").encode()


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    # Fixed dates, permissions and order so the same seed gives the same bytes.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, files[name], compresslevel=6)
