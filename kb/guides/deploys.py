"""Deploy announcements in chat, read as change events: which service, which commit or
version, when.

A deploy channel (`Settings.deploy_channels`, names or globs) holds the messages of a deploy
bot or CI job. A message is an announcement when it matches `Settings.deploy_pattern`; the
service is a known service named in it, the commit a hex sha of 7 to 40 digits in it (a
link's label or target), the version a `v1.2.3`-like token. kb stores a conversation as one
`Name (YYYY-MM-DD HH:MM UTC): text` line per message, so minutes are what a deploy's time
keeps.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_LINE = re.compile(r"^(?P<who>[^\n(]{1,120}?) \((?P<at>\d{4}-\d\d-\d\d \d\d:\d\d) UTC\): ", re.M)
_SHA = re.compile(r"(?<![0-9a-zA-Z])([0-9a-f]{7,40})(?![0-9a-zA-Z])")
_VERSION = re.compile(r"(?<![\w.])v?(\d+\.\d+(?:\.\d+)?(?:[-+][\w.]+)?)(?![\w])")


@dataclass(frozen=True)
class Deploy:
    """One deploy announcement."""

    service: str
    at: datetime
    by: str
    sha: str | None
    version: str | None
    text: str
    url: str | None  # the conversation it was said in

    def to_json(self) -> dict[str, Any]:
        """{"service", "at", "by", "sha", "version", "text", "url"}."""
        return {
            "service": self.service,
            "at": self.at.isoformat(),
            "by": self.by,
            "sha": self.sha,
            "version": self.version,
            "text": self.text,
            "url": self.url,
        }


def channel_of(title: str) -> str:
    """The channel of a stored conversation's title ('#deploys 2024-03-14: ...')."""
    return re.split(r"[\s:]", title.removeprefix("#"), maxsplit=1)[0]


def is_deploy_channel(channel: str, patterns: Iterable[str]) -> bool:
    """Whether `channel` is named by one of the names or globs in `patterns`."""
    return any(fnmatch.fnmatchcase(channel.lower(), p.strip().lower()) for p in patterns)


def split_patterns(setting: str) -> list[str]:
    """'deploys, releases,*-deploys' as ['deploys', 'releases', '*-deploys']."""
    return [p.strip().lstrip("#") for p in setting.split(",") if p.strip()]


def messages(body: str) -> list[tuple[str, datetime, str]]:
    """(who, when, text) of each message of a stored conversation."""
    out: list[tuple[str, datetime, str]] = []
    starts = list(_LINE.finditer(body))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(body)
        when = datetime.strptime(m.group("at"), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        out.append((m.group("who").strip(), when, body[m.end() : end].strip()))
    return out


def parse_deploys(
    body: str, services: Sequence[str], pattern: str, url: str | None = None
) -> list[Deploy]:
    """The deploy announcements of a conversation's `body` that name one of `services`."""
    wanted = re.compile(pattern, re.I)
    # Longest names first: 'payment-service-worker' is not 'payment-service'.
    names = sorted(services, key=len, reverse=True)
    out = []
    for who, at, text in messages(body):
        if not wanted.search(text):
            continue
        service = _service_in(text, names)
        if service is None:
            continue
        sha = _SHA.search(text)
        rest = _SHA.sub(" ", re.sub(r"https?://\S+", " ", text))
        version = _VERSION.search(rest)
        if sha is None and version is None:
            continue
        out.append(
            Deploy(
                service, at, who, sha.group(1) if sha else None,
                version.group(1) if version else None, text.split("\n", 1)[0][:300], url,
            )
        )  # fmt: skip
    return out


def _service_in(text: str, names: Sequence[str]) -> str | None:
    low = text.lower()
    for name in names:
        if re.search(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", low):
            return name
    return None
