"""`kb contracts`: does each consumer keep to the contracts it uses?

For every OpenAPI contract a service publishes, its consumers' HTTP calls are checked:
- a call to a (method, path) the spec does not have (placeholders match any name, the
  spec's server base path may be left out);
- an error response the spec documents for that operation that the calling file never
  looks at (neither the status code nor its name appears in it) — where the file is readable;
- an operation no service calls (kb sees the callers it has ingested, not browsers).
For every AsyncAPI contract: topics the service publishes or consumes in code that its spec
lacks. Each finding carries file:line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import yaml

from kb.analysis.servicemap.endpoints import endpoint_key, http_calls
from kb.analysis.servicemap.graph import Location, ServiceGraph
from kb.analysis.servicemap.sources import RepoFiles
from kb.store.reader import Reader
from kb.store.service_graph import ContractDoc, contract_docs, repo_checkouts

_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")

KINDS = {
    "undocumented_call": "Calls the spec does not have",
    "unhandled_error": "Documented errors never handled",
    "uncalled_endpoint": "Endpoints nobody calls",
    "undocumented_topic": "Topics the AsyncAPI spec lacks",
}


@dataclass(frozen=True)
class Operation:
    """One operation of an OpenAPI spec, its line, and its documented error statuses."""

    method: str
    path: str
    line: int
    errors: dict[str, int]  # status -> line


@dataclass(frozen=True)
class Finding:
    """One compliance problem and where it shows."""

    kind: str  # undocumented_call | unhandled_error | uncalled_endpoint | undocumented_topic
    service: str  # the consumer (or, for an uncalled endpoint, the provider)
    provider: str | None
    subject: str  # the call, "404 on GET /users/{id}", the endpoint or the topic
    location: Location | None
    spec: Location | None

    def to_json(self) -> dict[str, Any]:
        """{"kind", "service", "provider", "subject", "location", "spec"}."""
        return {
            "kind": self.kind,
            "service": self.service,
            "provider": self.provider,
            "subject": self.subject,
            "location": self.location.to_json() if self.location else None,
            "spec": self.spec.to_json() if self.spec else None,
        }


@dataclass
class ContractAudit:
    """Every finding, the specs read, and what could not be read."""

    service: str | None
    specs: list[Location]
    findings: list[Finding] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what kb could not check, and why

    def to_json(self) -> dict[str, Any]:
        """{"service", "specs", "findings", "unreadable": [{"where", "why"}], "notes"}."""
        return {
            "service": self.service,
            "specs": [s.to_json() for s in self.specs],
            "findings": [f.to_json() for f in self.findings],
            "unreadable": [{"where": w, "why": y} for w, y in sorted(self.unreadable.items())],
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        """Findings grouped by kind, each with file:line and the spec's line."""
        scope = f" of {self.service}" if self.service else ""
        out = [f"# Contract compliance{scope}", "",
               f"{len(self.specs)} contracts read, {len(self.findings)} findings.", ""]  # fmt: skip
        for kind, title in KINDS.items():
            rows = [f for f in self.findings if f.kind == kind]
            if not rows:
                continue
            out += [f"## {title}", ""]
            for f in rows:
                who = f.service if kind == "uncalled_endpoint" else f"{f.service} → {f.provider}"
                if kind == "undocumented_topic":
                    who = f.service
                where = str(f.location) if f.location else "?"
                spec = f" (spec: {f.spec})" if f.spec else ""
                out.append(f"- {who}: `{f.subject}` at {where}{spec}")
            out.append("")
        if self.notes:
            out += ["## Not checked", ""] + [f"- {n}" for n in self.notes] + [""]
        if self.unreadable:
            out += ["## Not read", ""]
            out += [f"- {w}: {y}" for w, y in sorted(self.unreadable.items())]
        return "\n".join(out).rstrip() + "\n"


def openapi_operations(text: str) -> tuple[str, list[Operation]]:
    """(server base path, operations) of an OpenAPI/Swagger text (raises yaml.YAMLError)."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return "", []
    base = _scalar(_child(root, "basePath")) or ""
    servers = _child(root, "servers")
    if isinstance(servers, yaml.SequenceNode) and servers.value:
        url = _scalar(_child(servers.value[0], "url")) or ""
        base = urlsplit(url).path if "://" in url else url
    ops = []
    paths = _child(root, "paths")
    for route_node, item in paths.value if isinstance(paths, yaml.MappingNode) else []:
        if not isinstance(item, yaml.MappingNode):
            continue
        for method_node, op in item.value:
            method = str(method_node.value).lower()
            if method not in _METHODS:
                continue
            errors: dict[str, int] = {}
            responses = _child(op, "responses")
            for status_node, _ in (
                responses.value if isinstance(responses, yaml.MappingNode) else []
            ):
                status = str(status_node.value)
                if status[:1] in ("4", "5"):
                    errors[status] = status_node.start_mark.line + 1
            ops.append(Operation(method.upper(), str(route_node.value),
                                 method_node.start_mark.line + 1, errors))  # fmt: skip
    return base.rstrip("/"), ops


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return v
    return None


def _scalar(node: Any) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _handles(text: str, status: str) -> bool:
    """Whether code mentions a status: the number, or its name (NOT_FOUND, NotFound)."""
    if re.search(rf"(?<![\d.]){status}(?!\d)", text):
        return True
    try:
        name = HTTPStatus(int(status)).name
    except ValueError:
        return False
    camel = "".join(part.title() for part in name.split("_"))
    return name in text or camel in text


def _spec_owner(graph: ServiceGraph, doc: ContractDoc) -> str | None:
    if doc.service:
        return doc.service
    for s in graph.services:
        prefix = s.path.strip("/")
        if s.repo == doc.repo and (not prefix or (doc.path or "").startswith(prefix + "/")):
            return s.name
    return None


def audit(db: Reader, graph: ServiceGraph, service: str | None = None) -> ContractAudit:
    """Check every consumer against the contracts of the services it uses."""
    files = RepoFiles(repo_checkouts(db))
    result = ContractAudit(service, [])
    docs = contract_docs(db) if db.exists() and db.has_table("documents") else []
    for doc in docs:
        owner = _spec_owner(graph, doc)
        if owner is None or not doc.repo or not doc.path:
            continue
        spec = Location(doc.repo, doc.path)
        if doc.spec == "openapi":
            _openapi(graph, files, owner, spec, service, result)
        elif doc.spec == "asyncapi" and service in (None, owner):
            result.specs.append(spec)
            for u in graph.events:
                if u.service == owner and not u.contract:
                    verb = "publishes" if u.role == "publish" else "consumes"
                    subject = f"{verb} {u.topic}"
                    result.findings.append(
                        Finding("undocumented_topic", owner, None, subject, u.evidence, spec)
                    )
    result.unreadable.update(files.unreadable)
    return result


def _openapi(graph: ServiceGraph, files: RepoFiles, owner: str, spec: Location,
             service: str | None, result: ContractAudit) -> None:  # fmt: skip
    text = files.text(spec.repo, spec.path)
    if text is None:
        return
    try:
        base, ops = openapi_operations(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        result.unreadable[f"{spec}{at}"] = "unparseable YAML"
        return
    result.specs.append(spec)
    by_key: dict[tuple[str, str], Operation] = {}
    for op in ops:
        key = endpoint_key(op.path)
        if key is not None:
            by_key[(op.method, key[1])] = op
    called: set[tuple[str, str]] = set()
    unresolved: set[str] = set()  # callers whose calls name no endpoint kb can read
    for edge in graph.edges:
        if edge.kind != "sync_http" or edge.to != owner:
            continue
        consumer = graph.service(edge.from_)
        calls = http_calls(edge, consumer.repo if consumer else None, files)
        if not any(endpoint_key(call) for call, _ in calls):
            unresolved.add(edge.from_)
        for call, loc in calls:
            key = endpoint_key(call)
            if key is None:
                continue
            method, path = key
            if base and path.startswith(base.rstrip("/") + "/"):
                path = path[len(base.rstrip("/")) :]
            ops_here = [op for (m, p), op in by_key.items() if p == path and method in (None, m)]
            if not ops_here:
                if service in (None, edge.from_, owner):
                    result.findings.append(
                        Finding("undocumented_call", edge.from_, owner, call, loc, spec)
                    )
                continue
            for op in ops_here:
                called.add((op.method, op.path))
                if service not in (None, edge.from_, owner):
                    continue
                code = files.text(loc.repo, loc.path)
                for status, line in op.errors.items() if code is not None else []:
                    if not _handles(code or "", status):
                        result.findings.append(Finding(
                            "unhandled_error", edge.from_, owner,
                            f"{status} on {op.method} {op.path}", loc,
                            Location(spec.repo, spec.path, line),
                        ))  # fmt: skip
    if unresolved and service in (None, owner, *unresolved):
        result.notes.append(
            f"{spec}: the calls of {', '.join(sorted(unresolved))} name no endpoint kb can "
            f"read, so the endpoints of {owner} nobody calls are not reported"
        )
    if service in (None, owner) and not unresolved:
        for op in ops:
            if (op.method, op.path) not in called:
                result.findings.append(Finding(
                    "uncalled_endpoint", owner, owner, f"{op.method} {op.path}",
                    Location(spec.repo, spec.path, op.line), spec,
                ))  # fmt: skip
