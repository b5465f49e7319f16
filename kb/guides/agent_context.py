"""Agent context files: what a coding agent should know before it edits a service's code.

`AgentContextService.context(service)` gathers, from the stores, what the service talks to
and how (endpoints, RPCs, topics, and the contracts that define them, with their paths), the
integration rules in force where the team wrote them down (retries, timeouts, idempotency,
schema changes of events: `kb.guides.integration`), its danger zones, unwritten rules and
surprises, the decisions in force, and its owners and experts. `to_markdown()` is the file
an agent reads at start (AGENTS.md, CLAUDE.md); every line cites its source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kb.analysis.experts import ExpertService
from kb.contract.kinds import DocumentKind
from kb.errors import KBError, NotFoundError
from kb.guides.citations import Cite, Footnotes, Item, Section
from kb.guides.integration import TOPICS, RuleText, decided_part, rules
from kb.guides.knowledge import GuideFacts, Scope
from kb.guides.neighbours import Neighbour, neighbours
from kb.store import history as sh

HOTSPOTS = 3
EXPERTS = 3
_INACTIVE = frozenset({"superseded", "deprecated", "rejected"})
_NOT_RULES = frozenset({"design_rationale", "incident"})


@dataclass
class AgentContext:
    """The context file of one service."""

    service: str
    repo: str | None
    path_prefix: str
    description: str | None
    as_of: datetime | None
    talks_to: list[Neighbour]
    sections: list[Section]
    owners: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The stable `kb context --json` object."""
        return {
            "service": self.service,
            "repo": self.repo,
            "path_prefix": self.path_prefix,
            "description": self.description,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "owners": self.owners,
            "talks_to": [n.to_json() for n in self.talks_to],
            "sections": [s.to_json() for s in self.sections],
        }

    def to_markdown(self) -> str:
        """The AGENTS.md / CLAUDE.md file: facts and rules first, sources numbered last."""
        notes = Footnotes()
        when = self.as_of.date().isoformat() if self.as_of else "now"
        where = f"{self.repo}:{self.path_prefix}" if self.path_prefix else (self.repo or "?")
        lines = [
            f"# {self.service}: context for coding agents",
            "",
            f"<!-- Written by kb from its knowledge base as of {when}; regenerate with "
            f"`kb context {self.service}`. Numbers in brackets cite the sources at the end. -->",
            "",
        ]
        if self.description:
            lines += [self.description, ""]
        lines.append(f"- Code: `{where}`")
        if self.owners:
            lines.append(f"- Owners: {', '.join(self.owners)}")
        lines += ["", "## What this service talks to", ""]
        if not self.talks_to:
            lines.append("kb knows no call or event of this service.")
        for n in self.talks_to:
            via = f" `{n.via}`" if n.via else ""
            marks = "".join(f"[{notes.number(c)}]" for c in n.cites())
            contract = f"; contract `{n.contracts[0]}`" if n.contracts else ""
            lines.append(f"- {n.phrase} **{n.other}** ({n.kind}{via}{contract}) {marks}".rstrip())
        lines.append("")
        for section in self.sections:
            lines += section.to_markdown(notes, level=3 if section.key.startswith("rules:")
                                         else 2)  # fmt: skip
        return "\n".join(lines + notes.to_markdown())


@dataclass
class ContextFiles:
    """What `kb context --write DIR` wrote: one file per service."""

    directory: Path
    files: dict[str, Path]

    def to_json(self) -> dict[str, Any]:
        """{"directory", "files": [{"service", "path"}]}."""
        return {
            "directory": str(self.directory),
            "files": [{"service": s, "path": str(p)} for s, p in self.files.items()],
        }

    def to_markdown(self) -> str:
        """One line per file written."""
        lines = [f"Wrote {len(self.files)} context files to `{self.directory}`:", ""]
        lines += [f"- {s}: `{p}`" for s, p in self.files.items()]
        return "\n".join(lines) + "\n"


class AgentContextService:
    """Writes agent context files from stored knowledge."""

    def __init__(
        self,
        facts: Callable[[], GuideFacts],
        experts: ExpertService,
        repo_paths: Callable[[], list[Path]] = list,
    ) -> None:
        self.facts = facts
        self.experts = experts
        self.repo_paths = repo_paths

    def write(
        self, directory: Path, services: list[str] | None = None, into_repo: bool = False
    ) -> ContextFiles:
        """Write `<service>.md` for each service (all by default) into `directory`.

        A directory inside an ingested repository is refused unless `into_repo`: kb never
        changes a repository it reads unless asked to.
        """
        target = directory.resolve()
        for repo in self.repo_paths():
            root = repo.resolve()
            if not into_repo and (target == root or root in target.parents):
                raise KBError(
                    f"{directory} is inside the ingested repository {repo}: kb writes there "
                    "only when asked (pass --into-repo)"
                )
        names = services if services is not None else self.services()
        contexts = [self.context(name) for name in names]  # every name checked before writing
        target.mkdir(parents=True, exist_ok=True)
        files = {}
        for c in contexts:
            path = target / f"{c.service}.md"
            path.write_text(c.to_markdown(), encoding="utf-8")
            files[c.service] = path
        return ContextFiles(target, files)

    def services(self) -> list[str]:
        """The services a context file can be written for."""
        return [s.name for s in self.facts().services]

    def context(self, service: str) -> AgentContext:
        """The context file of `service` (NotFoundError naming the known ones otherwise)."""
        f = self.facts()
        row = next((s for s in f.services if s.name == service.strip()), None)
        if row is None:
            known = ", ".join(s.name for s in f.services) or "none"
            raise NotFoundError(f"no service {service!r} (kb knows: {known})")
        scope = f.scope(row.name)
        repos = {row.repo} if row.repo else set()
        contracts = f.docs(repos, (DocumentKind.CONTRACT,))
        sections = [
            Section("contracts", "Contracts", "The API and event contracts of this service; "
                    "change them only compatibly.",
                    [Item(f"{d.title}: `{d.path}`", [f.doc_cite(d)], id=d.external_id)
                     for d in contracts],
                    "kb knows no contract file (OpenAPI, AsyncAPI, protobuf) of this service."),
        ]  # fmt: skip
        found = rules(_rule_texts(f, scope, contracts))
        intro = (
            "Quoted from the decisions, contracts, docs and code of this service."
            if found
            else "kb found no written rule on retries, timeouts, idempotency or schema "
            "changes for this service."
        )
        sections.append(Section("rules", "Integration rules in force", "", [], intro))
        sections += [Section(f"rules:{k}", TOPICS[k][0], "", v, "") for k, v in found.items()]
        danger = f.wisdom(scope, "danger")
        kept = [r for r in danger if not r.external_id.startswith("hotspot:")]
        kept += [r for r in danger if r.external_id.startswith("hotspot:")][:HOTSPOTS]
        sections += [
            Section("danger", "Danger zones: do not change without asking", "", [f.item(r) for r
                    in kept], "kb knows no danger zone in this service."),
            Section("unwritten", "Unwritten rules and surprises", "",
                    [f.item(r) for r in f.wisdom(scope, "rules") + f.wisdom(scope,
                     "counterintuitive")] + f.replaced(scope), "kb knows none."),
            Section("decisions", "Decisions in force", "", [f.adr_item(a) for a in
                    f.decisions(scope) if (a.row.status or "") not in _INACTIVE],
                    "kb knows no decision record of this service."),
            self._experts(row.name, row.repo, row.path_prefix),
        ]  # fmt: skip
        owners = [x for x in (row.owner_team and f"team {row.owner_team}", row.owner) if x]
        owners += [
            f"{r.owner} (CODEOWNERS `{r.pattern}`)"
            for r in f.graph.owner_rules
            if r.repo == row.repo and _covers(r.pattern, row.path_prefix)
        ]
        return AgentContext(
            row.name, row.repo, row.path_prefix, row.description,
            sh.latest_activity(f.reader), neighbours(f.graph, row.name), sections, owners,
        )  # fmt: skip

    def _experts(self, service: str, repo: str | None, prefix: str) -> Section:
        items = []
        if repo:
            where = f"{repo}:{prefix}" if prefix else repo
            history = Cite("history", f"git history of {where}", where)
            who = self.experts.who(service, limit=EXPERTS)
            items = [Item(f"{e.name} — {e.reason()}", [history], service=service)
                     for e in who.current]  # fmt: skip
        return Section("experts", "Who to ask", "People who know this code now (people who "
                       "left are not listed).", items, "kb knows no one to ask.")  # fmt: skip


def _covers(pattern: str, prefix: str) -> bool:
    """Whether a CODEOWNERS pattern covers the service's code (its whole repo, or its path)."""
    pattern = pattern.strip().strip("/")
    return pattern in ("*", "**", "") or (bool(prefix) and prefix.strip("/").startswith(pattern))


def _rule_texts(f: GuideFacts, scope: Scope, contracts: list[Any]) -> list[RuleText]:
    """The texts integration rules are quoted from, weightiest first: decisions in force
    (the service's, and others' that name it), contracts, wisdom, docs, code."""
    texts = []
    for adr in f.adrs:
        r = adr.row
        mine = scope.holds(r.service, r.repo, r.path)
        if (r.status or "") in _INACTIVE or not (mine or (scope.service or "") in r.body):
            continue
        texts.append(RuleText(decided_part(r.body), f.adr_cite(adr), 0))
    texts += [RuleText(d.body, f.doc_cite(d), 1) for d in contracts]
    for row in f.rows:
        if row.kind in _NOT_RULES or row.external_id.startswith("hotspot:"):
            continue
        if scope.holds(row.service, row.repo, row.path_glob):
            texts.append(RuleText(row.body or row.title, f.cite(row), 2))  # the title sums it up
    repos = {scope.repo} if scope.repo else set()
    texts += [RuleText(d.body, f.doc_cite(d), 3) for d in f.docs(repos)]
    texts += [RuleText(d.body, f.doc_cite(d), 4) for d in f.docs(repos, (DocumentKind.CODE,))
              if scope.holds(None, d.repo, d.path)]  # fmt: skip
    return texts
