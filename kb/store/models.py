"""The system-wisdom schema: SQLAlchemy 2.0 models (changed only through Alembic revisions)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from kb.contract.kinds import (
    AdrStatus,
    ChangeType,
    ComponentKind,
    DependencyKind,
    DocumentKind,
    EventRole,
    Feedback,
    IdentityKind,
    InfraKind,
    Severity,
    WisdomKind,
    WisdomOrigin,
    WisdomStatus,
)

# Stable constraint names so Alembic revisions are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: kb stores timezone-aware UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every kb table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native enum, no CHECK) so a new value needs no table rebuild;
    # values are validated on the Python side.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        validate_strings=True,
        values_callable=lambda e: [m.value for m in e],
    )


class Source(Base):
    """A configured source (a repo, a Slack workspace, an ADR folder) and its sync cursor."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A connector kind: kb's own (SourceKind) or any a package registers, so plain text.
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The last checkpoint reached (last commit sha, last Slack ts per channel, ...);
    # it only advances in the same transaction as the batch it covers.
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestRun(Base):
    """One ingest run of a source: when it ran and what it did (counts, skips, failures)."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    # The run's `--json` summary (IngestReport.to_json), with "error" when it stopped early.
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Repo(Base):
    """A git repository known to kb."""

    __tablename__ = "repos"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    location: Mapped[str] = mapped_column(Text)
    remote_url: Mapped[str | None] = mapped_column(Text)
    # Where it is browsed (https://host/owner/repo) and the forge whose link forms it takes.
    web_url: Mapped[str | None] = mapped_column(Text)
    forge: Mapped[str | None] = mapped_column(String(20))
    default_branch: Mapped[str | None] = mapped_column(String(200))
    head_commit: Mapped[str | None] = mapped_column(String(64))
    is_monorepo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(Base):
    """One human (or bot) behind several identities; activity dates tell who has left."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    primary_email: Mapped[str | None] = mapped_column(String(320))
    team: Mapped[str | None] = mapped_column(String(200))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    first_activity_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime | None]
    # Set when someone is known to have left (Slack `deleted`, HR, `kb` command);
    # otherwise departure is inferred from last_activity_at.
    left_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )


class Identity(Base):
    """An email, name, Slack id or GitHub login that belongs to one person."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(_enum(IdentityKind))
    # Normalised for matching (lower-cased email, folded name); `raw` keeps what the source said.
    value: Mapped[str] = mapped_column(String(320))
    raw: Mapped[str] = mapped_column(String(320))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))

    person: Mapped[Person] = relationship(back_populates="identities")


class Service(Base):
    """A deployable service; in a monorepo it owns a path prefix."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"))
    path_prefix: Mapped[str] = mapped_column(String(500), default="")
    owner_team: Mapped[str | None] = mapped_column(String(200))
    owner_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # service | library (a shared internal package, the target of library edges)
    kind: Mapped[ComponentKind] = mapped_column(
        _enum(ComponentKind), default=ComponentKind.SERVICE, server_default="service"
    )


class ServiceAlias(Base):
    """Another spelling a system uses for a service (compose, Kubernetes, proto, catalog)."""

    __tablename__ = "service_aliases"
    __table_args__ = (UniqueConstraint("service_id", "alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    alias: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Infrastructure(Base):
    """A broker, database, cache, proxy ... a repository runs: never reported as a service."""

    __tablename__ = "infrastructure"
    __table_args__ = (UniqueConstraint("repo_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InfraKind] = mapped_column(_enum(InfraKind))
    path: Mapped[str | None] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer)


class DependencyEvidence(Base):
    """Each place that shows a dependency, in order (the first is also on the dependency)."""

    __tablename__ = "dependency_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    dependency_id: Mapped[int] = mapped_column(
        ForeignKey("service_dependencies.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    repo: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer)


class ServiceDependency(Base):
    """`from_service` depends on `to_service`, with the evidence that shows it."""

    __tablename__ = "service_dependencies"
    __table_args__ = (UniqueConstraint("from_service_id", "to_service_id", "kind", "detail"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    to_service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[DependencyKind] = mapped_column(_enum(DependencyKind))
    # What flows: an endpoint, an event topic, a table, a package ("" when unknown).
    detail: Mapped[str] = mapped_column(String(500), default="")
    evidence_repo: Mapped[str | None] = mapped_column(String(200))
    evidence_path: Mapped[str | None] = mapped_column(String(1000))
    evidence_line: Mapped[int | None] = mapped_column(Integer)
    contract_path: Mapped[str | None] = mapped_column(String(1000))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceEvent(Base):
    """A service publishes or subscribes to an event topic; async dependencies follow."""

    __tablename__ = "service_events"
    __table_args__ = (UniqueConstraint("service_id", "topic", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(300), index=True)
    role: Mapped[EventRole] = mapped_column(_enum(EventRole))
    evidence_repo: Mapped[str | None] = mapped_column(String(200))
    evidence_path: Mapped[str | None] = mapped_column(String(1000))
    evidence_line: Mapped[int | None] = mapped_column(Integer)
    contract_path: Mapped[str | None] = mapped_column(String(1000))


class Document(Base):
    """A unit of source text (ADR, commit message, doc, code header, Slack thread, ...)."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(600), unique=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind), index=True)
    title: Mapped[str] = mapped_column(Text)
    repo_id: Mapped[int | None] = mapped_column(
        ForeignKey("repos.id", ondelete="SET NULL"), index=True
    )
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    path: Mapped[str | None] = mapped_column(String(1000))
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    author_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    author_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # ADR lifecycle; null for documents that are not decisions.
    status: Mapped[AdrStatus | None] = mapped_column(_enum(AdrStatus))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)

    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Chunk.ordinal"
    )


class Chunk(Base):
    """A retrievable piece of a document; its id is also its id in the vector store."""

    __tablename__ = "chunks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    start_line: Mapped[int | None] = mapped_column(Integer)
    end_line: Mapped[int | None] = mapped_column(Integer)

    document: Mapped[Document] = relationship(back_populates="chunks")


class EmbeddingCache(Base):
    """A vector computed once per (model, text hash): unchanged text is never re-embedded."""

    __tablename__ = "embedding_cache"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Commit(Base):
    """One commit of a repo, with its classification flags."""

    __tablename__ = "commits"
    __table_args__ = (
        UniqueConstraint("repo_id", "sha"),
        Index("ix_commits_repo_authored", "repo_id", "authored_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    sha: Mapped[str] = mapped_column(String(64), index=True)
    parents: Mapped[str] = mapped_column(String(1000), default="")
    author_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    author_name: Mapped[str] = mapped_column(String(200))
    author_email: Mapped[str] = mapped_column(String(320))
    authored_at: Mapped[datetime]
    committer_email: Mapped[str | None] = mapped_column(String(320))
    committed_at: Mapped[datetime | None]
    message: Mapped[str] = mapped_column(Text)
    is_merge: Mapped[bool] = mapped_column(Boolean, default=False)
    is_revert: Mapped[bool] = mapped_column(Boolean, default=False)
    is_fix: Mapped[bool] = mapped_column(Boolean, default=False)
    # Co-authors (from `Co-authored-by:` trailers) and ticket ids found in the message.
    co_authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    tickets: Mapped[str] = mapped_column(String(500), default="")

    changes: Mapped[list[FileChange]] = relationship(
        back_populates="commit", cascade="all, delete-orphan"
    )


class FileChange(Base):
    """What one commit did to one path."""

    __tablename__ = "file_changes"
    __table_args__ = (Index("ix_file_changes_path", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commit_id: Mapped[int] = mapped_column(ForeignKey("commits.id", ondelete="CASCADE"), index=True)
    change_type: Mapped[ChangeType] = mapped_column(_enum(ChangeType))
    path: Mapped[str] = mapped_column(String(1000))
    old_path: Mapped[str | None] = mapped_column(String(1000))

    commit: Mapped[Commit] = relationship(back_populates="changes")


class RepoFile(Base):
    """A file of a repository at its ingested HEAD, and why analyses leave it out (if they do)."""

    __tablename__ = "repo_files"

    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    size: Mapped[int | None] = mapped_column(Integer)
    # vendored | lock file | generated | binary: someone else's or nobody's knowledge.
    excluded: Mapped[str | None] = mapped_column(String(40))


class FileAuthorship(Base):
    """Degree-of-authorship facts of one person on one file (Fritz et al.; Avelino et al.)."""

    __tablename__ = "file_authorship"

    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    first_authorship: Mapped[bool] = mapped_column(Boolean, default=False)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    acceptances: Mapped[int] = mapped_column(Integer, default=0)
    doa: Mapped[float] = mapped_column(Float, default=0.0)
    last_change_at: Mapped[datetime | None]


class CodeOwner(Base):
    """A CODEOWNERS (or Backstage) ownership rule of a repo."""

    __tablename__ = "code_owners"
    __table_args__ = (UniqueConstraint("repo_id", "pattern", "owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    pattern: Mapped[str] = mapped_column(String(1000))
    owner: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    line: Mapped[int | None] = mapped_column(Integer)


class WisdomEntry(Base):
    """A piece of system wisdom: why it is like this, what not to touch, what bit us."""

    __tablename__ = "wisdom_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(600), unique=True)
    kind: Mapped[WisdomKind] = mapped_column(_enum(WisdomKind), index=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), index=True
    )
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="SET NULL"))
    path_glob: Mapped[str | None] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[Severity] = mapped_column(_enum(Severity), default=Severity.MEDIUM)
    status: Mapped[WisdomStatus] = mapped_column(_enum(WisdomStatus), default=WisdomStatus.ACTIVE)
    origin: Mapped[WisdomOrigin] = mapped_column(_enum(WisdomOrigin))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    said_by_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    said_by_name: Mapped[str | None] = mapped_column(String(200))
    superseded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("wisdom_entries.id", ondelete="SET NULL")
    )
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_verified_at: Mapped[datetime | None]


class Incident(Base):
    """An incident: when, how bad, which services, why, and where it was discussed."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(600), unique=True)
    title: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    severity: Mapped[Severity | None] = mapped_column(_enum(Severity))
    root_cause: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(200))
    postmortem_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL")
    )
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    services: Mapped[list[Service]] = relationship(secondary="incident_services")


class IncidentService(Base):
    """Which services an incident touched."""

    __tablename__ = "incident_services"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )


class Question(Base):
    """A question asked of kb, its answer and citations, who asked where, and the feedback."""

    __tablename__ = "questions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    answered: Mapped[bool] = mapped_column(Boolean, default=True)
    # The services the question was about (named, or of the sources), for `kb gaps`.
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    asker: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(200))
    surface: Mapped[str] = mapped_column(String(32), default="cli")
    feedback: Mapped[Feedback | None] = mapped_column(_enum(Feedback))
    feedback_comment: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None]


class SurfaceEvent(Base):
    """A delivery a surface has handled (a Slack event id), or what it keeps between runs.

    The key's insert is the claim: a retried delivery, even after a restart, finds it taken.
    `data` holds what the surface must remember (the message it keeps current, a thread's
    question).
    """

    __tablename__ = "surface_events"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
