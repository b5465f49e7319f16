"""Typed records that connectors yield and the ingestion pipeline stores.

A connector yields these from a cursor; a `Checkpoint` closes a batch: everything
yielded before it is committed together with the checkpoint's cursor, atomically.
A `Failure` is a value, not an exception: the item is reported and skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from kb.contract.kinds import (
    AdrStatus,
    ChangeType,
    ComponentKind,
    DependencyKind,
    DocumentKind,
    EventRole,
    InfraKind,
    Severity,
    WisdomKind,
    WisdomOrigin,
    WisdomStatus,
)


def content_hash(text: str) -> str:
    """The stable hash kb keys text by (documents, chunks, the embedding cache)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChunkText:
    """One retrievable piece of a document, before it has an id."""

    text: str
    heading: str | None = None
    start_line: int | None = None
    end_line: int | None = None


@dataclass
class DocumentRecord:
    """A unit of source text with a stable external id (upserted by that id)."""

    external_id: str
    kind: DocumentKind
    title: str
    body: str
    repo: str | None = None
    path: str | None = None
    commit_sha: str | None = None
    url: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: AdrStatus | None = None
    service: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # None: the pipeline chunks `body` itself.
    chunks: list[ChunkText] | None = None


@dataclass(frozen=True)
class DocumentSet:
    """The complete set of document ids a source now has under an id prefix.

    Stored documents under `prefix` that are not in `external_ids` were deleted at the
    source and are removed (with their chunks and vectors).
    """

    prefix: str
    external_ids: frozenset[str]


@dataclass(frozen=True)
class RepoRecord:
    """A git repository."""

    name: str
    location: str
    remote_url: str | None = None
    web_url: str | None = None  # https://host/owner/repo, for citation links
    forge: str | None = None  # github | gitlab | bitbucket | gitea
    default_branch: str | None = None
    head_commit: str | None = None
    is_monorepo: bool = False


@dataclass(frozen=True)
class TreeFile:
    """One file of a repository's HEAD tree."""

    path: str
    size: int | None = None
    # Why knowledge analyses leave it out: vendored | lock file | generated | binary.
    excluded: str | None = None


@dataclass(frozen=True)
class RepoTreeRecord:
    """The complete file list of a repository at `head` (replaces the previous one)."""

    repo: str
    head: str
    files: tuple[TreeFile, ...]


@dataclass(frozen=True)
class PersonRecord:
    """Someone seen by a source, by any of their identities; merged with known people."""

    name: str | None = None
    emails: tuple[str, ...] = ()
    slack_id: str | None = None
    github_login: str | None = None
    is_bot: bool = False
    team: str | None = None
    # The source says this person has left (e.g. a deactivated Slack account): `left`, and
    # `left_at` when it knows a date (else the person's last activity kb has seen is used).
    left_at: datetime | None = None
    left: bool = False
    seen_at: datetime | None = None


class FileChangeRecord(NamedTuple):
    """What a commit did to one path (a tuple: a large history has hundreds of thousands)."""

    change_type: ChangeType
    path: str
    old_path: str | None = None


@dataclass
class CommitRecord:
    """One commit, its classification and its per-file changes."""

    repo: str
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str | None
    committer_email: str | None
    committed_at: datetime | None
    message: str
    is_merge: bool = False
    is_revert: bool = False
    is_fix: bool = False
    co_authors: tuple[tuple[str, str], ...] = ()  # (name, email) from Co-authored-by
    tickets: tuple[str, ...] = ()
    changes: list[FileChangeRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceRecord:
    """A service: a repo by default, or a path prefix of a monorepo."""

    name: str
    repo: str | None = None
    path_prefix: str = ""
    owner_team: str | None = None
    owner: str | None = None  # a person's name or email
    description: str | None = None
    # Other spellings the system uses for it (compose, Kubernetes, proto, catalog names);
    # given, they replace the stored ones.
    aliases: tuple[str, ...] | None = None
    # A library is a shared internal package services depend on, not deployed on its own.
    kind: ComponentKind = ComponentKind.SERVICE


class Evidence(NamedTuple):
    """One place that shows a dependency: repo, path and 1-based line."""

    repo: str
    path: str
    line: int | None


@dataclass(frozen=True)
class DependencyRecord:
    """`from_service` depends on `to_service`, shown by evidence at repo/path:line."""

    from_service: str
    to_service: str
    kind: DependencyKind
    detail: str = ""
    evidence_repo: str | None = None
    evidence_path: str | None = None
    evidence_line: int | None = None
    contract_path: str | None = None
    # Further places that show the same edge, after the first (evidence_*).
    more_evidence: tuple[Evidence, ...] = ()

    def evidence(self) -> list[Evidence]:
        """Every place that shows the edge, the first one first."""
        first = (
            [Evidence(self.evidence_repo, self.evidence_path, self.evidence_line)]
            if self.evidence_repo and self.evidence_path
            else []
        )
        return first + [e for e in self.more_evidence if e not in first]


@dataclass(frozen=True)
class InfrastructureRecord:
    """Infrastructure a repository runs (a broker, a database, a proxy ...): never a service."""

    name: str
    kind: InfraKind
    repo: str
    path: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class ServiceMapSet:
    """What follows is the complete service map extracted from `repo`.

    The map facts stored from an earlier run of the repo (its dependencies other than the
    derived async ones, its infrastructure) are dropped before the new ones are written.
    """

    repo: str


@dataclass(frozen=True)
class EventTopicRecord:
    """A service publishes or subscribes to a topic (subscribers depend on publishers)."""

    service: str
    topic: str
    role: EventRole
    evidence_repo: str | None = None
    evidence_path: str | None = None
    evidence_line: int | None = None
    contract_path: str | None = None


@dataclass(frozen=True)
class CodeOwnerRecord:
    """A CODEOWNERS line (or Backstage owner) of a repo."""

    repo: str
    pattern: str
    owner: str
    line: int | None = None


@dataclass
class WisdomRecord:
    """A wisdom entry found in a source (or taught by a person)."""

    external_id: str
    kind: WisdomKind
    title: str
    body: str
    origin: WisdomOrigin = WisdomOrigin.EXTRACTED
    service: str | None = None
    repo: str | None = None
    path_glob: str | None = None
    line: int | None = None
    severity: Severity = Severity.MEDIUM
    status: WisdomStatus = WisdomStatus.ACTIVE
    document_external_id: str | None = None
    said_by_name: str | None = None
    said_by_email: str | None = None
    created_at: datetime | None = None
    superseded_by_external_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class IncidentRecord:
    """An incident, from a Slack channel, a postmortem, or both (merged by external id)."""

    external_id: str
    title: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    severity: Severity | None = None
    services: tuple[str, ...] = ()
    root_cause: str | None = None
    resolution: str | None = None
    channel: str | None = None
    postmortem_external_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """An item that could not be read: where (file/line/channel), why; skipped."""

    where: str
    message: str


@dataclass(frozen=True)
class Skipped:
    """Items deliberately skipped (vendored, generated, lock, binary, too large), counted."""

    reason: str
    count: int = 1
    where: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Closes a batch: records before it commit together with this cursor."""

    cursor: dict[str, Any]


Record = (
    DocumentRecord
    | DocumentSet
    | RepoRecord
    | RepoTreeRecord
    | PersonRecord
    | CommitRecord
    | ServiceRecord
    | DependencyRecord
    | EventTopicRecord
    | CodeOwnerRecord
    | WisdomRecord
    | IncidentRecord
    | Failure
    | Skipped
    | Checkpoint
    | InfrastructureRecord
    | ServiceMapSet
)
