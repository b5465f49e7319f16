"""`kb impact PATH|TOPIC|RPC|ENDPOINT`: who a change would reach, and who must hear of it.

The target is matched, in order, as an event topic, a gRPC service or method, an HTTP
endpoint (`GET /users/{id}`, placeholders matching any name), a service, a shared library
(by name or folder), and finally a path
(`repo:path` or a path in some repository: a contract file, a folder of a service or a
library). Its consumers come with the evidence of each use. What historically changed with
it comes from the change sets (`kb coupling`) holding a commit to its files; who needs to
hear are the consumers' owners (catalogue, CODEOWNERS) and the people who know them now.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kb.analysis.servicemap.coupling import stored_change_sets
from kb.analysis.servicemap.endpoints import endpoint_key, http_calls
from kb.analysis.servicemap.graph import (
    ASYNC_KINDS,
    SYNC_KINDS,
    Edge,
    Location,
    ServiceGraph,
    ServiceNode,
)
from kb.analysis.servicemap.sources import RepoFiles
from kb.errors import NotFoundError
from kb.store.history import file_sizes
from kb.store.reader import Reader
from kb.store.service_graph import commit_files, commits_touching, contract_docs, repo_checkouts

if TYPE_CHECKING:
    from kb.analysis.experts import ExpertService

TOP = 10


@dataclass(frozen=True)
class Consumer:
    """A service that would feel the change: how it uses the target, where that shows."""

    service: str
    kind: str  # the edge kind: sync_http, grpc, async_event, shared_db, library
    via: str
    provider: str | None  # the service at the other end, when there is one
    evidence: list[Location]

    def to_json(self) -> dict[str, Any]:
        """{"service", "kind", "via", "provider", "evidence"}."""
        return {
            "service": self.service,
            "kind": self.kind,
            "via": self.via,
            "provider": self.provider,
            "evidence": [loc.to_json() for loc in self.evidence],
        }


@dataclass(frozen=True)
class CoChange:
    """Something that changed together with the target: a service or a file, how often."""

    name: str
    kind: str  # service | file
    times: int
    example: str  # repo@sha subject of the latest change set

    def to_json(self) -> dict[str, Any]:
        """{"name", "kind", "times", "example"}."""
        return {"name": self.name, "kind": self.kind, "times": self.times, "example": self.example}


@dataclass(frozen=True)
class Audience:
    """Who needs to hear, for one consumer: its owner, CODEOWNERS and current experts."""

    service: str
    owner: str | None
    codeowners: list[str]
    experts: list[str]

    def to_json(self) -> dict[str, Any]:
        """{"service", "owner", "codeowners", "experts"}."""
        return {
            "service": self.service,
            "owner": self.owner,
            "codeowners": list(self.codeowners),
            "experts": list(self.experts),
        }


@dataclass
class Impact:
    """Who consumes the target, what changes with it, who needs to hear."""

    target: str
    kind: str  # topic | rpc | endpoint | service | library | path
    providers: list[str]
    consumers: list[Consumer]
    cochanges: list[CoChange] = field(default_factory=list)
    audience: list[Audience] = field(default_factory=list)
    files: list[Location] = field(default_factory=list)  # the target's own files

    def to_json(self) -> dict[str, Any]:
        """{"target", "kind", "providers", "files", "consumers", "cochanges", "audience"}."""
        return {
            "target": self.target,
            "kind": self.kind,
            "providers": list(self.providers),
            "files": [loc.to_json() for loc in self.files],
            "consumers": [c.to_json() for c in self.consumers],
            "cochanges": [c.to_json() for c in self.cochanges],
            "audience": [a.to_json() for a in self.audience],
        }

    def to_markdown(self) -> str:
        """Consumers with evidence, what changed with it, and whom to tell."""
        by = f" (provided by {', '.join(self.providers)})" if self.providers else ""
        out = [f"# Impact of {self.kind} `{self.target}`{by}", ""]
        if self.files:
            out += ["Defined in: " + ", ".join(str(f) for f in self.files), ""]
        out += ["## Consumers", ""]
        if not self.consumers:
            out.append("No service consumes it.")
        for c in self.consumers:
            where = ", ".join(str(loc) for loc in c.evidence[:3]) or "no location stored"
            via = f" `{c.via}`" if c.via else ""
            out.append(f"- **{c.service}** ({c.kind}{via}): {where}")
        if self.cochanges:
            out += ["", "## Changed together with it before", ""]
            for cc in self.cochanges:
                out.append(f"- {cc.name} ({cc.kind}, {cc.times}×), e.g. {cc.example}")
        if self.audience:
            out += ["", "## Who needs to hear", ""]
            for a in self.audience:
                people = [p for p in [a.owner, *a.codeowners, *a.experts] if p]
                out.append(f"- {a.service}: {', '.join(dict.fromkeys(people)) or 'no one known'}")
        return "\n".join(out) + "\n"


def _consumer(edge: Edge, service: str, provider: str | None) -> Consumer:
    return Consumer(service, edge.kind, edge.via, provider, list(edge.evidence))


def _match(
    graph: ServiceGraph, target: str, files: RepoFiles
) -> tuple[str, list[str], list[Consumer]]:
    """(kind, providers, consumers) the target names, or ("", [], []) if nothing does."""
    topic = [e for e in graph.edges if e.kind in ASYNC_KINDS and e.via == target]
    if topic or any(u.topic == target for u in graph.events):
        producers = sorted({u.service for u in graph.events if u.topic == target and
                            u.role == "publish"})  # fmt: skip
        consumers = [_consumer(e, e.to, e.from_) for e in topic]
        for u in graph.events:  # a subscriber with no known producer still consumes it
            if (
                u.topic == target
                and u.role == "subscribe"
                and not any(c.service == u.service for c in consumers)
            ):
                ev = [u.evidence] if u.evidence else []
                consumers.append(Consumer(u.service, "async_event", target, None, ev))
        return "topic", producers, consumers
    # PaymentService, PaymentService/Charge, shop.v1.PaymentService/Charge, .../Charge
    rpc_service = target.split("/", 1)[0]
    short = rpc_service.rsplit(".", 1)[-1]
    rpc = [
        e for e in graph.edges
        if e.kind == "grpc" and short and e.via.rsplit(".", 1)[-1] == short
    ]  # fmt: skip
    if rpc:
        return "rpc", sorted({e.to for e in rpc}), [_consumer(e, e.from_, e.to) for e in rpc]
    key = endpoint_key(target)
    if key is not None:
        found = []
        for e in graph.edges:
            if e.kind != "sync_http":
                continue
            caller = graph.service(e.from_)
            for call, loc in http_calls(e, caller.repo if caller else None, files):
                have = endpoint_key(call)
                if have and have[1] == key[1] and (key[0] is None or have[0] in (None, key[0])):
                    found.append(Consumer(e.from_, e.kind, call, e.to, [loc]))
                    break
        return "endpoint", sorted({c.provider for c in found if c.provider}), found
    node = graph.service(target)
    if node is not None:
        return "service", [node.name], _dependents(graph, node.name)
    folder = target.strip("/")
    lib = [e for e in graph.edges if e.kind == "library" and folder in (e.to, e.via.strip("/"))]
    if lib:
        return "library", sorted({e.to for e in lib}), [_consumer(e, e.from_, e.to) for e in lib]
    return "", [], []


def _dependents(graph: ServiceGraph, name: str) -> list[Consumer]:
    out = []
    for e in graph.edges:
        if (e.kind in SYNC_KINDS or e.kind == "library") and e.to == name:
            out.append(_consumer(e, e.from_, name))
        elif e.kind in ASYNC_KINDS and e.from_ == name:
            out.append(_consumer(e, e.to, name))
        elif e.kind == "shared_db" and name in (e.from_, e.to):
            out.append(_consumer(e, e.to if e.from_ == name else e.from_, name))
    return out


def _owner_of(graph: ServiceGraph, repo: str, path: str) -> ServiceNode | None:
    best: ServiceNode | None = None
    for s in graph.services:
        prefix = s.path.strip("/")
        inside = not prefix or path == prefix or path.startswith(prefix + "/")
        if s.repo == repo and inside and (best is None or len(prefix) > len(best.path.strip("/"))):
            best = s
    return best


def _match_path(db: Reader, graph: ServiceGraph, target: str) -> tuple[Impact, list[Location]]:
    repo, sep, path = target.partition(":")
    repos = {s.repo for s in graph.services if s.repo}
    if not sep or repo not in repos:
        repo, path = "", target
    path = path.strip("/")
    files: list[Location] = []
    consumers: list[Consumer] = []
    providers: set[str] = set()
    for doc in contract_docs(db):
        if (
            doc.path
            and doc.repo
            and (doc.path == path or doc.path.endswith("/" + path))
            and (not repo or doc.repo == repo)
        ):
            files.append(Location(doc.repo, doc.path))
            owner = doc.service or getattr(_owner_of(graph, doc.repo, doc.path), "name", None)
            if owner:
                providers.add(owner)
    for e in graph.edges:
        if any(c == path or c.endswith("/" + path) for c in e.contracts):
            side = e.to if e.kind in ASYNC_KINDS else e.from_
            consumers.append(_consumer(e, side, e.from_ if side == e.to else e.to))
    if not files:
        for s in graph.services:
            if s.repo and (not repo or s.repo == repo):
                node = _owner_of(graph, s.repo, path)
                if node is not None and node.name == s.name:
                    files.append(Location(s.repo, path))
                    providers.add(s.name)
    for name in sorted(providers):
        for c in _dependents(graph, name):
            if not any(c.service == x.service and c.via == x.via for x in consumers):
                consumers.append(c)
    if not files:
        raise NotFoundError(
            f"{target!r} is no topic, RPC, endpoint, service or path kb knows; "
            "try `kb map` for the names"
        )
    return Impact(target, "path", sorted(providers), consumers), files


def _cochanges(
    db: Reader, graph: ServiceGraph, anchors: list[Location], skip: set[str]
) -> list[CoChange]:
    """What the change sets holding a commit to the anchor files changed besides them."""
    anchor_ids: set[int] = set()
    for loc in anchors:
        anchor_ids.update(commits_touching(db, loc.repo, loc.path))
    if not anchor_ids:
        return []
    sets = [
        (cs, svcs)
        for cs, svcs in stored_change_sets(db, graph, 0.5)
        if any(c.id in anchor_ids for c in cs.commits)
    ]
    services: Counter[str] = Counter()
    files: Counter[str] = Counter()
    example: dict[str, str] = {}
    anchored = {(a.repo, a.path) for a in anchors}
    ids = [c.id for cs, _ in sets for c in cs.commits]
    subject = {
        c.id: f"{c.repo}@{c.sha[:10]} {c.subject[:60]}" for cs, _ in sets for c in cs.commits
    }
    for name in {s for _, svcs in sets for s in svcs} - skip:
        services[name] = sum(1 for _, svcs in sets if name in svcs)
        example[name] = next(subject[c.id] for cs, svcs in sets if name in svcs
                             for c in cs.commits)  # fmt: skip
    per_file: dict[str, set[int]] = {}
    for cid, repo, path in commit_files(db, ids):
        if (repo, path) not in anchored and not any(
            path.startswith(a.path.rstrip("/") + "/") for a in anchors if a.repo == repo
        ):
            per_file.setdefault(f"{repo}:{path}", set()).add(cid)
    for name, cids in per_file.items():
        files[name] = len(cids)
        example[name] = subject[max(cids)]
    out = [CoChange(n, "service", k, example[n]) for n, k in services.most_common(TOP)]
    out += [CoChange(n, "file", k, example[n]) for n, k in files.most_common(TOP) if k > 1]
    return out


def _audience(
    graph: ServiceGraph, consumers: list[Consumer], experts: ExpertService | None
) -> list[Audience]:
    out = []
    for name in dict.fromkeys(c.service for c in consumers):
        node = graph.service(name)
        if node is None:
            continue
        owners = graph.code_owners(node)
        people: list[str] = []
        if experts is not None:
            try:
                people = [e.name for e in experts.who(name, limit=3).current]
            except NotFoundError:
                people = []
        out.append(Audience(name, node.owner, owners, people))
    return out


def impact(
    db: Reader, graph: ServiceGraph, target: str, experts: ExpertService | None = None
) -> Impact:
    """Who consumes `target`, what changed with it, who needs to hear."""
    target = target.strip()
    files = RepoFiles(repo_checkouts(db))
    kind, providers, consumers = _match(graph, target, files)
    if kind:
        result = Impact(target, kind, providers, consumers)
        anchors = _anchor_files(db, graph, kind, target, providers, files)
    else:
        result, anchors = _match_path(db, graph, target)
    result.files = anchors
    result.cochanges = _cochanges(db, graph, anchors, set(result.providers))
    result.audience = _audience(graph, result.consumers, experts)
    return result


def _anchor_files(
    db: Reader,
    graph: ServiceGraph,
    kind: str,
    target: str,
    providers: list[str],
    files: RepoFiles,
) -> list[Location]:
    """The files that define the target: its contract or .proto, the producer's code, the
    library's or service's folder."""
    out: list[Location] = []
    if kind == "topic":
        for u in graph.events:
            if u.topic == target and u.role == "publish" and u.evidence:
                out.append(Location(u.evidence.repo, u.evidence.path))
                if u.contract:
                    out.append(Location(u.evidence.repo, u.contract))
    elif kind == "endpoint":
        for doc in contract_docs(db):
            if doc.service in providers and doc.repo and doc.path and doc.spec == "openapi":
                out.append(Location(doc.repo, doc.path))
    elif kind == "rpc":
        out += _proto_definitions(db, graph, target, files)
    elif kind == "library":
        for e in graph.edges:
            if e.kind == "library" and e.to in providers and e.via and e.evidence:
                out.append(Location(e.evidence[0].repo, e.via.strip("/")))
    elif kind == "service":
        for name in providers:
            node = graph.service(name)
            if node is not None and node.repo:
                out.append(Location(node.repo, node.path))
    return list(dict.fromkeys(out))


def _proto_definitions(
    db: Reader, graph: ServiceGraph, target: str, files: RepoFiles
) -> list[Location]:
    """Where a .proto defines the gRPC service (or its method) the target names."""
    service, _, method = target.partition("/")
    short = re.escape(service.rsplit(".", 1)[-1])
    out = []
    for repo in sorted({s.repo for s in graph.services if s.repo}):
        for path in file_sizes(db, repo):
            text = files.text(repo, path) if path.endswith(".proto") else None
            lines = (text or "").splitlines()
            at = next((i for i, t in enumerate(lines, 1)
                       if re.match(rf"\s*service\s+{short}\b", t)), None)  # fmt: skip
            if at is None:
                continue
            if method:
                at = next((i for i, t in enumerate(lines[at:], at + 1)
                           if re.match(rf"\s*rpc\s+{re.escape(method)}\b", t)), at)  # fmt: skip
            out.append(Location(repo, path, at))
    return out
