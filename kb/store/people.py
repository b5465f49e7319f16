"""Who is behind each record: people resolved by their identities, created on first sight.

One person may write under several emails, a name, a Slack id and a GitHub login; every
source's records resolve through the identities already stored, strongest evidence first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from kb.contract.identity import normalise_email, normalise_name
from kb.contract.records import PersonRecord
from kb.store import db
from kb.store.models import Identity, IdentityKind, Person, utcnow


def _better_name(current: str, candidate: str) -> str:
    # Prefer "Priya Sharma" over "priya sharma" or "priya": capitalised, then longer.
    def score(n: str) -> tuple[int, int]:
        return (int(any(c.isupper() for c in n)) + int(" " in n.strip()), len(n))

    return candidate if score(candidate) > score(current) else current


def earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two times, either of which may be unknown."""
    return b if a is None else a if b is None else min(a, b)


def latest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two times, either of which may be unknown."""
    return b if a is None else a if b is None else max(a, b)


@dataclass
class PersonUpdate:
    """What a batch learnt about one person, applied once at the end of the batch."""

    names: list[str] = field(default_factory=list)
    email: str | None = None
    is_bot: bool = False
    team: str | None = None
    left_at: datetime | None = None
    left: bool = False
    first: datetime | None = None
    last: datetime | None = None

    def seen(self, lo: datetime | None, hi: datetime | None) -> None:
        """Widen the activity span."""
        self.first = earliest(self.first, lo)
        self.last = latest(self.last, hi)


class PeopleWriter:
    """Resolves and creates people inside one batch's transaction; their updates wait for
    `flush`, applied once per person at the end of the batch."""

    def __init__(self, session: Session, source_id: int | None) -> None:
        self.s = session
        self.source_id = source_id
        self._people: dict[tuple[str, str], int] = {}
        self._identity: dict[tuple[IdentityKind, str], int] | None = None
        self.pending: dict[int, PersonUpdate] = {}
        self._new_identities: list[dict[str, Any]] = []  # written by flush
        self._insert_sql: str | None = None
        self._created_at: Any = None

    def _identities(self) -> dict[tuple[IdentityKind, str], int]:
        # Loaded once per batch: resolving thousands of commit authors must not cost a
        # query each (identities number in the hundreds, even for large projects).
        if self._identity is None:
            rows = self.s.execute(select(Identity.kind, Identity.value, Identity.person_id))
            self._identity = {(k, v): pid for k, v, pid in rows.tuples()}
        return self._identity

    def person(self, rec: PersonRecord) -> int:
        """Resolve (or create) the person behind a record's identities; update activity."""
        keys: list[tuple[IdentityKind, str, str]] = []
        for email in rec.emails:
            if email and "@" in email:
                keys.append((IdentityKind.EMAIL, normalise_email(email), email))
        if rec.slack_id:
            keys.append((IdentityKind.SLACK, rec.slack_id, rec.slack_id))
        if rec.github_login:
            keys.append((IdentityKind.GITHUB, rec.github_login.lower(), rec.github_login))
        if rec.name and normalise_name(rec.name):
            keys.append((IdentityKind.NAME, normalise_name(rec.name), rec.name))
        known = self._identities()
        # Strongest evidence first: an email or a chat id beats a name.
        order = {IdentityKind.EMAIL: 0, IdentityKind.SLACK: 1, IdentityKind.GITHUB: 2}
        matches = sorted(
            (order.get(kind, 3), known[(kind, value)])
            for kind, value, _ in keys
            if (kind, value) in known
        )
        if matches:
            pid = matches[0][1]
        else:
            name = rec.name or (rec.emails[0] if rec.emails else rec.slack_id or "?")
            pid = self._create(name, rec.is_bot)
        for kind, value, raw in keys:
            if (kind, value) not in known:
                self._new_identities.append(
                    {
                        "person_id": pid, "kind": kind, "value": value, "raw": raw,
                        "source_id": self.source_id,
                    }
                )  # fmt: skip
                known[(kind, value)] = pid
        update = self.pending.setdefault(pid, PersonUpdate())
        if rec.name:
            update.names.append(rec.name)
        if rec.emails and update.email is None:
            update.email = normalise_email(rec.emails[0])
        update.is_bot = update.is_bot or rec.is_bot
        update.team = rec.team or update.team
        update.left_at = rec.left_at or update.left_at
        update.left = update.left or rec.left or rec.left_at is not None
        update.seen(rec.seen_at, rec.seen_at)
        return pid

    def _create(self, display_name: str, is_bot: bool) -> int:
        """Insert a person; its id. A large project has thousands of authors: one driver
        statement each, not an ORM flush (nor a Core statement built and compiled) each."""
        conn = self.s.connection()
        if self._insert_sql is None:
            table = cast(Table, Person.__table__)
            dialect = conn.dialect
            self._created_at = table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
            mark = db.placeholder(conn)
            self._insert_sql = (
                f"INSERT INTO {table.name} (display_name, is_bot, created_at) "
                f"VALUES ({mark}, {mark}, {mark}) RETURNING id"
            )
        now = utcnow()
        created = self._created_at(now) if self._created_at is not None else now
        row = conn.exec_driver_sql(self._insert_sql, (display_name, is_bot, created)).one()
        return int(row[0])

    def flush(self) -> None:
        """Write the batch's new identities and person updates (call before commit)."""
        if self._new_identities:
            rows, self._new_identities = self._new_identities, []
            self.s.connection().execute(insert(cast(Table, Identity.__table__)), rows)
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        ids = list(pending)
        for start in range(0, len(ids), 500):
            for person in self.s.scalars(
                select(Person).where(Person.id.in_(ids[start : start + 500]))
            ):
                up = pending[person.id]
                for name in up.names:
                    person.display_name = _better_name(person.display_name, name)
                if up.email and not person.primary_email:
                    person.primary_email = up.email
                person.is_bot = person.is_bot or up.is_bot
                person.team = up.team or person.team
                person.left_at = up.left_at or person.left_at
                person.first_activity_at = earliest(person.first_activity_at, up.first)
                person.last_activity_at = latest(person.last_activity_at, up.last)
                if up.left and person.left_at is None:
                    # Left on an unknown date: by their last activity seen, a lower bound.
                    person.left_at = person.last_activity_at or utcnow()
        self.s.flush()

    def find_person(self, handle: str) -> int | None:
        """The known person behind an email, a login (`@alex-morgan`) or a name; never creates.

        Ownership files name people by handles that may match no one we have seen; a
        bogus person per handle would distort every who-knows-what figure.
        """
        handle = handle.strip().lstrip("@")
        known = self._identities()
        if "@" in handle:
            return known.get((IdentityKind.EMAIL, normalise_email(handle)))
        login = handle.split("/")[-1].lower()
        pid = known.get((IdentityKind.GITHUB, login)) or known.get(
            (IdentityKind.NAME, normalise_name(login))
        )
        if pid is not None and (IdentityKind.GITHUB, login) not in known:
            self.s.add(
                Identity(
                    person_id=pid, kind=IdentityKind.GITHUB, value=login, raw=handle,
                    source_id=self.source_id,
                )
            )  # fmt: skip
            known[(IdentityKind.GITHUB, login)] = pid
        return pid

    def person_for(self, name: str | None, email: str | None) -> int | None:
        """Person id for an author name/email pair (resolved or created)."""
        if not name and not email:
            return None
        key = (name or "", (email or "").lower())
        if key in self._people:
            return self._people[key]
        pid = self.person(PersonRecord(name=name, emails=(email,) if email else ()))
        self._people[key] = pid
        return pid
