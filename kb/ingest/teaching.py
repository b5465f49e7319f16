"""Taught knowledge: what a person tells kb, stored in their words, attributed and dated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from kb.contract.connector import SourceConfig
from kb.contract.records import Checkpoint, DocumentRecord, PersonRecord, Record, WisdomRecord
from kb.contract.visibility import CHANNEL_ID, PRIVATE
from kb.settings import Settings
from kb.store.models import DocumentKind, Severity, WisdomKind, WisdomOrigin


class TaughtNote:
    """A one-shot source yielding a taught note: a wisdom entry and a searchable document.

    It goes through the ingestion pipeline like any source, so it is redacted, embedded
    and stored atomically.
    """

    kind: ClassVar[str] = "taught"

    def __init__(
        self,
        text: str,
        said_by: str | None,
        when: datetime,
        service: str | None = None,
        wisdom_kind: WisdomKind = WisdomKind.UNWRITTEN_RULE,
        severity: Severity = Severity.MEDIUM,
        origin: WisdomOrigin = WisdomOrigin.TAUGHT,
        url: str | None = None,
        captured_by: str | None = None,
        private_to: str | None = None,
    ) -> None:
        if origin is WisdomOrigin.EXTRACTED:
            raise ValueError("a taught note is taught by a person or an agent, not extracted")
        self.text = text.strip()
        self.said_by = said_by
        self.when = when
        self.service = service
        self.wisdom_kind = wisdom_kind
        self.severity = severity
        self.origin = origin
        self.url = url
        self.captured_by = captured_by
        self.private_to = private_to
        digest = hashlib.sha256(
            f"{self.text}\x00{said_by or ''}\x00{when.isoformat()}".encode()
        ).hexdigest()[:16]
        self.external_id = f"taught:{digest}"

    def title(self) -> str:
        """A short title: the note's first sentence or line."""
        first = self.text.split("\n", 1)[0]
        for stop in (". ", "; "):
            if stop in first:
                first = first.split(stop, 1)[0]
        return first if len(first) <= 100 else first[:99].rstrip() + "…"

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        """Yield the teller, the note's document and its wisdom entry, then a checkpoint."""
        if self.said_by:
            email = self.said_by if "@" in self.said_by else None
            # An agent is no person: like a bot, it never counts as someone who knows or left.
            yield PersonRecord(
                name=None if email else self.said_by,
                emails=(email,) if email else (),
                is_bot=self.origin is WisdomOrigin.AGENT_TAUGHT,
            )
        yield DocumentRecord(
            external_id=self.external_id,
            kind=DocumentKind.NOTE,
            title=self.title(),
            body=self.text,
            service=self.service,
            author_name=self.said_by if self.said_by and "@" not in self.said_by else None,
            author_email=self.said_by if self.said_by and "@" in self.said_by else None,
            created_at=self.when,
            updated_at=self.when,
            url=self.url,
            meta={
                "wisdom_kind": self.wisdom_kind.value,
                "said_by": self.said_by,
                "origin": self.origin.value,
                **({"captured_by": self.captured_by} if self.captured_by else {}),
                **({PRIVATE: True, CHANNEL_ID: self.private_to} if self.private_to else {}),
            },
        )
        yield WisdomRecord(
            external_id=self.external_id,
            kind=self.wisdom_kind,
            title=self.title(),
            body=self.text,
            origin=self.origin,
            service=self.service,
            severity=self.severity,
            document_external_id=self.external_id,
            said_by_name=self.said_by if self.said_by and "@" not in self.said_by else None,
            said_by_email=self.said_by if self.said_by and "@" in self.said_by else None,
            created_at=self.when,
        )
        yield Checkpoint({"last": self.external_id})


@dataclass(frozen=True)
class Remembered:
    """A taught note as stored: its id, and how many secrets were redacted out of it."""

    id: str
    redacted: int
    origin: str = WisdomOrigin.TAUGHT.value
    said_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable `kb remember --json` object."""
        return {
            "id": self.id,
            "redacted": self.redacted,
            "origin": self.origin,
            "said_by": self.said_by,
        }

    def to_markdown(self) -> str:
        """One line confirming what was stored, and whose it is."""
        extra = f" ({self.redacted} secret(s) redacted before storing)" if self.redacted else ""
        who = f" from {self.said_by}" if self.said_by else ""
        marked = " (agent-taught)" if self.origin == WisdomOrigin.AGENT_TAUGHT else ""
        return f"Remembered `{self.id}`{who}{marked}{extra}."


def taught_source(settings: Settings) -> SourceConfig:
    """The source every taught note is stored under."""
    return SourceConfig(kind="taught", name="taught", location=str(settings.home))
