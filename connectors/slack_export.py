"""`kb ingest slack-export PATH.zip|DIR`: a standard Slack workspace export.

Layout: users.json, channels.json (maybe groups.json, mpims.json, dms.json) and one folder
per conversation holding one JSON array of messages per day (`YYYY-MM-DD.json`). A channel is
read whole (its threads span day files) and skipped on the next run when its files hash the
same. Bad input (damaged zip, invalid JSON, odd entries) is reported as `Failure`s, never raised.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from connectors.slack_common import (
    ChannelInfo,
    Directory,
    Message,
    SlackSite,
    SlackUser,
    parse_user,
    people,
    read_message,
    topic_value,
    ts_key,
    valid_ts,
)
from connectors.slack_incidents import channel_records
from kb.contract.connector import SourceConfig
from kb.contract.records import Checkpoint, Failure, Record, Skipped
from kb.errors import SourceError
from kb.settings import Settings

_DAY_FILE = re.compile(r"^([^/]+)/(\d{4}-\d{2}-\d{2})\.json$")
_CONVERSATION_LISTS = ("channels.json", "groups.json", "mpims.json", "dms.json")
_META_FILES = frozenset({"users.json", *_CONVERSATION_LISTS})
_EXPECTED = (
    "expected a Slack export: the .zip Slack gives you, or its unzipped directory "
    "(users.json, channels.json and one folder of YYYY-MM-DD.json files per channel)"
)
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), "a number")


@dataclass
class ExportFiles:
    """The members of an export (a directory, a zip, or what a damaged zip still holds)."""

    names: list[str]
    read: Callable[[str], bytes]
    failures: list[Failure] = field(default_factory=list)
    close: Callable[[], None] = lambda: None


def open_export(path: Path) -> ExportFiles:
    """The export's files, relative to its root folder; SourceError if PATH is no export."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory; {_EXPECTED}")
    if path.is_dir():
        names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        return _rooted(ExportFiles(names, lambda name: (path / name).read_bytes()))
    with path.open("rb") as fh:
        magic = fh.read(4)
    if not (magic.startswith(b"PK") or path.suffix.lower() == ".zip"):
        raise SourceError(f"{path} is neither a zip file nor a directory; {_EXPECTED}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        salvaged = _salvage_zip(path)
        note = (
            f"recovered {len(salvaged)} intact members by scanning the archive"
            if salvaged
            else "nothing could be recovered"
        )
        failure = Failure(
            str(path), f"corrupt or truncated zip ({exc}); {note} — download the export again"
        )
        files = ExportFiles(sorted(salvaged), salvaged.__getitem__, [failure])
        return _rooted(files)
    names = [i.filename for i in archive.infolist() if not i.is_dir()]
    return _rooted(ExportFiles(sorted(names), archive.read, close=archive.close))


def _rooted(files: ExportFiles) -> ExportFiles:
    """Strip the folder a zip often wraps everything in ("Acme Slack export Mar 1 2024/")."""
    names = [n for n in files.names if not n.startswith("__MACOSX/")]
    markers = [n for n in names if n.rsplit("/", 1)[-1] in _META_FILES]
    if markers:
        shallowest = min(markers, key=lambda n: n.count("/"))
        root = shallowest.rpartition("/")[0] + "/" if "/" in shallowest else ""
    elif any(_DAY_FILE.match(n) for n in names):
        root = ""
    else:
        tops = {n.split("/", 1)[0] for n in names if "/" in n}
        root = f"{tops.pop()}/" if len(tops) == 1 else ""
    inner = files.read
    return ExportFiles(
        [n.removeprefix(root) for n in names if n.startswith(root)],
        lambda name: inner(root + name),
        files.failures,
        files.close,
    )


def _salvage_zip(path: Path) -> dict[str, bytes]:
    """Members whose local header and data are intact, found without the central directory.

    A partly downloaded export loses its central directory (zipfile then refuses the whole
    archive) but keeps most members; their local headers still say how to read them.
    """
    out: dict[str, bytes] = {}
    with path.open("rb") as fh:
        if path.stat().st_size < 30:
            return out
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            pos = data.find(b"PK\x03\x04")
            while pos != -1 and pos + 30 <= len(data):
                # Local file header: signature, version, flags, method, time, date, CRC,
                # compressed size, size, name length, extra length (30 bytes).
                header = struct.unpack_from("<IHHHHHIIIHH", data, pos)
                flags, method, crc, csize, nlen, xlen = (header[i] for i in (2, 3, 6, 7, 9, 10))
                name = bytes(data[pos + 30 : pos + 30 + nlen]).decode(
                    "utf-8" if flags & 0x800 else "cp437", "replace"
                )
                start = pos + 30 + nlen + xlen
                content, end = _member_data(data, start, flags, method, crc, csize)
                if content is not None and not name.endswith("/"):
                    out[name] = content
                pos = data.find(b"PK\x03\x04", max(end, pos + 4))
    return out


def _member_data(
    data: mmap.mmap, start: int, flags: int, method: int, crc: int, csize: int
) -> tuple[bytes | None, int]:
    """One member's bytes (None when damaged, encrypted or of an unknown method) and its end."""
    sized = not flags & 0x08  # without a data descriptor the header has sizes and CRC
    if flags & 0x01 or method not in (0, 8) or (method == 0 and not sized):
        return None, start
    if method == 0:
        content = bytes(data[start : start + csize])
        ok = len(content) == csize and zlib.crc32(content) == crc
        return (content if ok else None), start + csize
    inflater = zlib.decompressobj(-15)
    stop = start + csize if sized else len(data)
    try:
        content = inflater.decompress(bytes(data[start:stop]))
    except zlib.error:
        return None, start
    end = stop - len(inflater.unused_data)
    if not inflater.eof or (sized and zlib.crc32(content) != crc):
        return None, end
    return content, end


def _load_json(data: bytes, where: str) -> tuple[Any, Failure | None]:
    """Parsed JSON, or a Failure naming the file, line and column."""
    try:
        return json.loads(data.decode("utf-8-sig")), None
    except UnicodeDecodeError as exc:
        return None, Failure(where, f"not UTF-8 text (byte {exc.start}); the file was skipped")
    except json.JSONDecodeError as exc:
        return None, Failure(
            f"{where} line {exc.lineno} col {exc.colno}",
            f"invalid JSON ({exc.msg}); the file was skipped — fix it or export again",
        )
    except RecursionError:
        return None, Failure(where, "JSON nested too deeply; the file was skipped")


def parse_day(
    channel: str, day: str, data: bytes, directory: Directory
) -> tuple[list[Message], list[Failure]]:
    """The messages of one day file, and a Failure for each thing that could not be read."""
    where = f"{channel}/{day}.json"
    value, failure = _load_json(data, where)
    if failure:
        return [], [failure]
    if not isinstance(value, list):
        got = _json_type(value)
        return [], [Failure(where, f"expected an array of messages, got {got}; skipped")]
    messages: list[Message] = []
    failures: list[Failure] = []
    for index, entry in enumerate(value):
        at = f"{where} message {index}"
        if not isinstance(entry, dict):
            failures.append(Failure(at, f"not a message object (got {_json_type(entry)})"))
        elif not valid_ts(entry.get("ts")):
            failures.append(Failure(at, f"message without a valid ts ({entry.get('ts')!r})"))
        else:
            try:
                message = read_message(entry, directory)
            except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
                # A safety net: one odd entry must not cost the rest of the export.
                failures.append(Failure(at, f"unreadable message ({type(exc).__name__}: {exc})"))
                continue
            if message is not None:
                messages.append(message)
    return messages, failures


@dataclass
class _Conversations:
    """What the export's conversation lists say, by folder name."""

    info: dict[str, ChannelInfo] = field(default_factory=dict)
    raw: dict[str, bytes] = field(default_factory=dict)
    direct: set[str] = field(default_factory=set)


class SlackExportConnector:
    """Ingests a Slack export: people, one document per thread / channel-day, incidents.

    Options: `workspace_url` (permalinks; default https://{source name}.slack.com),
    `include_dms` (direct messages are private and skipped unless true).
    Cursor: {"channels": {name: sha256}, "users": sha256, "left_seen": {user id: ts}}.
    """

    kind: ClassVar[str] = "slack-export"

    def __init__(self, source: SourceConfig, settings: Settings) -> None:
        self.source = source
        self.settings = settings
        self.path = Path(source.location).expanduser()
        url = source.options.get("workspace_url") or f"https://{source.name}.slack.com"
        self.site = SlackSite(source.name, str(url))
        self.include_dms = bool(source.options.get("include_dms", False))

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        """Yield the changed channels' records (a Checkpoint after each), then people."""
        files = open_export(self.path)
        try:
            yield from self._load(files, cursor)
        finally:
            files.close()

    def _read(self, files: ExportFiles, name: str) -> tuple[bytes | None, Failure | None]:
        try:
            return files.read(name), None
        except (KeyError, FileNotFoundError):
            return None, None
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError) as exc:
            return None, Failure(f"{self.path}:{name}", f"unreadable ({exc}); skipped")

    def _load(self, files: ExportFiles, cursor: dict[str, Any]) -> Iterator[Record]:
        yield from files.failures
        if files.failures and not files.names:  # a damaged zip with nothing left to read
            yield Checkpoint(_copy(cursor))
            return
        state: dict[str, Any] = {
            **cursor,
            "channels": dict(cursor.get("channels") or {}),
            "left_seen": dict(cursor.get("left_seen") or {}),
        }
        names = set(files.names)
        users_bytes, users = yield from self._users(files, "users.json" in names)
        directory = Directory({u.id: u for u in users})
        lists = yield from self._conversation_lists(files, names, directory)
        days: dict[str, list[tuple[str, str]]] = {}
        for name in files.names:
            match = _DAY_FILE.match(name)
            if match:
                days.setdefault(match.group(1), []).append((match.group(2), name))
        skipped_dms = sorted(folder for folder in days if folder in lists.direct)
        if skipped_dms and not self.include_dms:
            yield Skipped(
                "direct messages (set option include_dms to ingest them)",
                len(skipped_dms),
                str(self.path),
            )
        changed = False
        for folder in sorted(days):
            if folder in lists.direct and not self.include_dms:
                continue
            info = lists.info.get(folder) or ChannelInfo(id=folder, name=folder)
            contents: list[tuple[str, bytes]] = []
            # users.json is part of every channel's hash: the names in its documents come from it.
            digest = hashlib.sha256(users_bytes + lists.raw.get(folder, b""))
            for day, name in sorted(days[folder]):
                data, failure = self._read(files, name)
                if failure:
                    yield failure
                if data is not None:
                    contents.append((day, data))
                    digest.update(f"\0{day}\0{len(data)}\0".encode() + data)
            if state["channels"].get(info.name) == digest.hexdigest():
                continue
            changed = True
            yield from self._channel(info, contents, directory, state)
            state["channels"][info.name] = digest.hexdigest()
            yield Checkpoint(_copy(state))
        users_digest = hashlib.sha256(users_bytes).hexdigest()
        if changed or state.get("users") != users_digest:
            yield from people(users, state["left_seen"])
            state["users"] = users_digest
        yield Checkpoint(_copy(state))

    def _users(
        self, files: ExportFiles, present: bool
    ) -> Generator[Record, None, tuple[bytes, list[SlackUser]]]:
        where = f"{self.path}/users.json"
        data, failure = self._read(files, "users.json") if present else (None, None)
        if failure:
            yield failure
        if data is None:
            if not failure:
                yield Failure(
                    where,
                    "users.json is missing: authors and mentions show as raw user ids "
                    "(@U0123) — add users.json from the same export",
                )
            return b"", []
        value, failure = _load_json(data, "users.json")
        if failure or not isinstance(value, list):
            got = "" if failure else f" (got {_json_type(value)}, expected an array)"
            yield failure or Failure(where, f"users.json is not a list of users{got}")
            return data, []
        users = [u for u in (parse_user(raw) for raw in value) if u is not None]
        return data, users

    def _conversation_lists(
        self, files: ExportFiles, names: set[str], directory: Directory
    ) -> Generator[Record, None, _Conversations]:
        lists = _Conversations()
        for list_name in _CONVERSATION_LISTS:
            if list_name not in names:
                continue
            data, failure = self._read(files, list_name)
            value, failure = (None, failure) if data is None else _load_json(data, list_name)
            if failure:
                yield failure
            if not isinstance(value, list):
                continue
            for raw in value:
                if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                    continue
                name = raw.get("name")
                folder: str = name if isinstance(name, str) and name else raw["id"]
                info = ChannelInfo(
                    id=raw["id"],
                    name=folder,
                    topic=topic_value(raw, "topic"),
                    purpose=topic_value(raw, "purpose"),
                    # groups.json and mpims.json are private; dms.json is skipped by default.
                    private=list_name != "channels.json",
                )
                lists.info[folder] = info
                lists.raw[folder] = json.dumps(raw, sort_keys=True, default=str).encode()
                directory.channels[info.id] = folder
                if list_name == "dms.json":
                    lists.direct.add(folder)
        return lists

    def _channel(
        self,
        info: ChannelInfo,
        contents: list[tuple[str, bytes]],
        directory: Directory,
        state: dict[str, Any],
    ) -> Iterator[Record]:
        messages: list[Message] = []
        for day, data in contents:
            found, failures = parse_day(info.name, day, data, directory)
            yield from failures
            messages += found
        yield from channel_records(self.site, info, messages, directory)
        for message in messages:
            user = directory.users.get(message.user_id or "")
            if user and user.deleted:
                known = state["left_seen"].get(user.id)
                if known is None or ts_key(message.ts) > ts_key(known):
                    state["left_seen"][user.id] = message.ts


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(state))
