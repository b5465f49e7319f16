"""The schema's vocabulary: kinds, statuses, severities (plain enums, no SQLAlchemy).

Stored as their string values. Kept apart from the models so that records, the CLI and
the analyses can name them without loading the ORM.
"""

from __future__ import annotations

import enum


class SourceKind(enum.StrEnum):
    GIT = "git"
    SLACK_EXPORT = "slack-export"
    SLACK = "slack"
    ADR = "adr"
    TAUGHT = "taught"


class DocumentKind(enum.StrEnum):
    ADR = "adr"
    COMMIT = "commit"
    DOC = "doc"
    CODE = "code"
    SLACK = "slack"
    POSTMORTEM = "postmortem"
    CONTRACT = "contract"
    NOTE = "note"


class AdrStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DEPRECATED = "deprecated"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class IdentityKind(enum.StrEnum):
    EMAIL = "email"
    NAME = "name"
    SLACK = "slack"
    GITHUB = "github"


class DependencyKind(enum.StrEnum):
    SYNC_HTTP = "sync_http"
    ASYNC_EVENT = "async_event"
    SHARED_DB = "shared_db"
    LIBRARY = "library"
    GRPC = "grpc"


class ComponentKind(enum.StrEnum):
    """What a named component of a system is: one of its services, or what they run on."""

    SERVICE = "service"
    LIBRARY = "library"


class InfraKind(enum.StrEnum):
    """Infrastructure a system runs but does not build as a service of its own."""

    BROKER = "broker"
    DATABASE = "database"
    CACHE = "cache"
    PROXY = "proxy"
    COLLECTOR = "collector"
    OBSERVABILITY = "observability"
    LOADGEN = "loadgen"
    REGISTRY = "registry"
    CONFIG = "config"
    FEATURE_FLAGS = "feature_flags"
    SEARCH = "search"
    EXTERNAL = "external"


class ChangeType(enum.StrEnum):
    ADD = "add"
    MODIFY = "modify"
    RENAME = "rename"
    DELETE = "delete"
    COPY = "copy"


class WisdomKind(enum.StrEnum):
    DESIGN_RATIONALE = "design_rationale"
    DANGER_ZONE = "danger_zone"
    KNOWN_ISSUE = "known_issue"
    INCIDENT = "incident"
    UNWRITTEN_RULE = "unwritten_rule"
    COUNTERINTUITIVE = "counterintuitive"
    FIRST_WEEK = "first_week"


class WisdomStatus(enum.StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    RESOLVED = "resolved"


class WisdomOrigin(enum.StrEnum):
    EXTRACTED = "extracted"
    TAUGHT = "taught"
    # Taught by a coding agent (through MCP), not by a person: cited as the agent's note.
    AGENT_TAUGHT = "agent_taught"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# SEV0/SEV1 (or P0/P1) are critical, SEV2 high, SEV3 medium, SEV4/5 low: one scale for
# postmortems and incident channels, so the two sources of one incident agree.
SEVERITY_BY_LEVEL: dict[int, Severity] = {
    0: Severity.CRITICAL,
    1: Severity.CRITICAL,
    2: Severity.HIGH,
    3: Severity.MEDIUM,
    4: Severity.LOW,
    5: Severity.LOW,
}
# How bad, for "the worst of": low < medium < high < critical.
SEVERITY_RANK: dict[Severity, int] = {
    Severity.LOW: 0,
    Severity.MEDIUM: 1,
    Severity.HIGH: 2,
    Severity.CRITICAL: 3,
}


class Feedback(enum.StrEnum):
    UP = "up"
    DOWN = "down"


class EventRole(enum.StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
