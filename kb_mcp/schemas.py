"""The typed shapes of kb's MCP tools: arguments in, structured content out.

Each output model mirrors the `to_json()` of the kb result the tool returns (the stable JSON
of docs/contract.md), plus `page` on tools that list. Clients validate the structured
content against these schemas; `tests/test_mcp.py` checks that they name every key the
results produce, so a key added to a result must be added here too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Paging: every tool that lists takes `limit` (at most MAX_LIMIT) and the `cursor` a
# previous page returned; resource listings come RESOURCE_PAGE at a time.
MAX_LIMIT = 50
RESOURCE_PAGE = 50


class Args(BaseModel):
    """Tool arguments: unknown ones are refused, so a misspelt argument is not ignored."""

    model_config = ConfigDict(extra="forbid")


class PagedArgs(Args):
    """Arguments of a tool that lists."""

    limit: int = Field(10, ge=1, le=MAX_LIMIT, description=f"Items per page (1-{MAX_LIMIT}).")
    cursor: str | None = Field(
        None, description="The `page.next_cursor` of the previous call, for the next page."
    )


class AskArgs(Args):
    question: str = Field(
        min_length=1, max_length=2000, description="A question in plain words, as a person asks."
    )
    k: int = Field(5, ge=1, le=10, description="At most this many sources retrieved and cited.")


class DangerZonesArgs(PagedArgs):
    path: str = Field(
        min_length=1,
        max_length=1000,
        description="The file or directory about to be edited: repo-relative "
        "(src/orders/checkout.py), `repo:path`, or an absolute path inside a checkout.",
    )


class WhoKnowsArgs(PagedArgs):
    query: str = Field(
        min_length=1,
        max_length=500,
        description="A path (`repo:path` or repo-relative), a service, a repository or a topic.",
    )
    limit: int = Field(5, ge=1, le=MAX_LIMIT, description=f"People per page (1-{MAX_LIMIT}).")


class ServiceArgs(Args):
    service: str = Field(min_length=1, max_length=200, description="A service name.")


class PagedServiceArgs(PagedArgs):
    service: str = Field(min_length=1, max_length=200, description="A service name.")


class ChangeImpactArgs(PagedArgs):
    target: str = Field(
        min_length=1,
        max_length=500,
        description="What changes: a path (`repo:path`), a topic or an RPC / endpoint.",
    )


class IncidentTraceArgs(Args):
    service: str = Field(min_length=1, max_length=200, description="The service that misbehaves.")
    symptom: str = Field(
        min_length=1, max_length=1000, description="What is seen: 'timeouts on POST /payments'."
    )


class RememberArgs(Args):
    text: str = Field(
        min_length=1,
        max_length=4000,
        description="What to remember, in plain words (a rule, a danger, a known issue).",
    )
    service: str | None = Field(None, max_length=200, description="The service it is about.")
    kind: Literal[
        "unwritten_rule",
        "danger_zone",
        "known_issue",
        "counterintuitive",
        "design_rationale",
        "first_week",
    ] = Field("unwritten_rule", description="What kind of knowledge it is.")


# -- outputs ------------------------------------------------------------------------------


class Page(BaseModel):
    """Where this page sits in the whole list."""

    offset: int
    limit: int
    total: int | None = Field(description="Items in the whole list, when known.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


class Contact(BaseModel):
    name: str
    departed: bool
    reason: str


class Citation(BaseModel):
    kind: str = Field(
        description="adr | commit | doc | code | slack | postmortem | contract | note"
    )
    title: str
    repo: str | None
    path: str | None
    commit: str | None
    url: str | None = Field(description="A web link: the file at its commit, or a Slack permalink.")
    snippet: str
    score: float
    number: int = Field(description="The [n] that the answer's text cites it by.")
    author: str | None
    date: str | None
    role: str = Field(description="answer | context | implementation | closest | retrieved")


class AskOutput(BaseModel):
    question: str
    answer: str = Field(description="The answer, citing its sources as [n].")
    confidence: float
    citations: list[Citation]
    id: str = Field(description="The answer's id (for feedback).")
    answered: bool = Field(description="False: kb does not know; `citations` are the closest.")
    watch_out: list[str]
    ask: list[Contact]
    services: list[str]
    answerer: str


class ZoneSource(BaseModel):
    id: str
    kind: str
    title: str
    repo: str | None
    path: str | None
    url: str | None


class Zone(BaseModel):
    id: str
    kind: str = Field(description="danger_zone | known_issue | unwritten_rule | ...")
    title: str
    body: str
    severity: str
    origin: str = Field(description="extracted | taught | agent_taught")
    scope: str = Field(description="file | directory | inside (a file under the path) | service")
    repo: str | None
    path: str | None
    line: int | None
    service: str | None
    said_by: str | None
    created_at: str | None
    source: ZoneSource | None


class DangerZonesOutput(BaseModel):
    query: str
    path: str
    repos: list[str]
    services: list[str]
    danger_zone: bool = Field(description="Whether a danger zone covers the path itself.")
    zones: list[Zone]
    total: int
    ask: list[Contact]
    page: Page


class Evidence(BaseModel):
    files: list[str]
    commits: list[str]
    threads: list[str]


class Expert(BaseModel):
    name: str
    departed: bool
    last_activity: str | None
    score: float
    files_authored: int
    commits: int
    recent_commits: int
    last_change: str | None
    threads: int
    reason: str
    evidence: Evidence


class WhoKnowsOutput(BaseModel):
    query: str
    kind: str = Field(description="service | repo | path | topic")
    scope: list[str]
    files: int
    people: list[Expert] = Field(description="Who knows it now, best first.")
    departed: list[Expert] = Field(description="Who knew it but left (first page only).")
    page: Page


class RememberOutput(BaseModel):
    id: str
    redacted: int = Field(description="Secrets removed before storing.")
    origin: str
    said_by: str | None


class AnyOutput(BaseModel):
    """A result whose shape is its kb result type's `to_json()`."""

    model_config = ConfigDict(extra="allow")
