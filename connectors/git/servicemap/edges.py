"""From a repository's layout and its files' facts to evidenced edges between components.

Rules (the same for every system):
- a setting (`*_URL`, `*_HOST`, `*_ADDR` ...) a service reads or is given, whose value (in
  compose, Kubernetes, Helm, a Dockerfile, or the default in code) or whose own name names
  another service, is a call to it: gRPC, via the proto service, when the caller builds a
  client of a proto service that other service serves; else sync_http, via the setting.
  Evidence: the call using it (else the read), then the first deployment value naming it;
  for gRPC the client, then the address;
- a URL, host:port or registry name in a service's code naming another service is a call;
- a generated client of another service's proto service is a gRPC call;
- two services on the same database (host and name) touching a common table share it;
- a service importing or referencing a library's folder uses it.
Async edges are derived across repositories from the topics each service produces and
consumes (kb.store), so they are returned as topic uses here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.git.servicemap.deploy import Binding
from connectors.git.servicemap.discover import Component, Layout
from connectors.git.servicemap.facts import FileFacts, Read, Use
from connectors.git.servicemap.vocab import infra_kind
from kb.contract.kinds import ComponentKind, DependencyKind
from kb.contract.records import Evidence

_SETTING = re.compile(r"(?:URL|URI|HOST|HOSTNAME|ADDR|ADDRESS|ENDPOINT|SERVER|AUTHORITY)$", re.I)
_STEM = re.compile(
    r"(?:_?(?:SERVICE|SVC))?_?(?:BASE_?URL|URL|URI|HOST|HOSTNAME|ADDR|ADDRESS|ENDPOINT)$", re.I
)
_DB_SCHEMES = (
    "postgres", "postgresql", "mysql", "mariadb", "mongodb", "sqlserver", "jdbc", "oracle"
)  # fmt: skip
_LOCAL = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "host.docker.internal", ""})


@dataclass
class Edge:
    """A dependency between two components with every place that shows it."""

    src: str
    dst: str
    kind: DependencyKind
    via: str
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class ServiceFacts:
    """All facts of one service's files, and the settings it is given."""

    component: Component
    files: list[FileFacts]
    bindings: list[Binding]
    # Folders its build files point at (a library's path): (folder, path, line).
    refs: list[tuple[str, str, int]] = field(default_factory=list)


def host_of(value: str) -> str:
    """The host a setting's value names: a URL's, host:port's, or a bare name's."""
    value = value.strip().strip("\"'")
    if value.startswith("jdbc:"):
        value = value[5:]
    if "://" in value:
        try:
            host = urlsplit(value).hostname or ""
        except ValueError:
            return ""
    else:
        host = re.split(r"[:/\s,]", value, maxsplit=1)[0]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", host or "-"):
        return ""
    labels = host.lower().split(".")
    return "" if host in _LOCAL or host.replace(".", "").isdigit() else labels[0]


def database_of(value: str) -> tuple[str, str] | None:
    """(host, database) of a database URL, else None."""
    raw = value.strip().strip("\"'")
    raw = raw[5:] if raw.startswith("jdbc:") else raw
    scheme = raw.split("://", 1)[0].split("+", 1)[0].lower() if "://" in raw else ""
    if scheme not in _DB_SCHEMES:
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    name = parts.path.strip("/").split("/", 1)[0].split("?", 1)[0]
    return (parts.hostname or "", name) if name else None


class EdgeFinder:
    """Edges of one repository, in the order they are found."""

    def __init__(self, repo: str, layout: Layout, services: list[ServiceFacts]) -> None:
        self.repo, self.layout, self.services = repo, layout, services
        self.edges: dict[tuple[str, str, DependencyKind], Edge] = {}
        self.http_calls: set[tuple[str, str]] = set()  # pairs seen calling over HTTP

    def find(self) -> list[Edge]:
        for sf in self.services:
            self._settings(sf)
            self._literals(sf)
            self._stubs(sf)
            self._libraries(sf)
        self._shared_db()
        return list(self.edges.values())

    # -- resolution ------------------------------------------------------------------------

    def _service(self, name: str, src: Component) -> Component | bool | None:
        """The other service a name means; False when it means infrastructure."""
        if not name:
            return None
        c = self.layout.by_key(name)
        if c is not None:
            return c if c is not src and c.kind is ComponentKind.SERVICE else None
        if self.layout.infra_named(name) is not None or infra_kind(name):
            return False
        return None

    def _add(self, src: Component, dst: Component, kind: DependencyKind, via: str,
             evidence: list[Evidence]) -> None:  # fmt: skip
        key = (src.name, dst.name, kind)
        if key in self.edges or (kind is DependencyKind.SYNC_HTTP and any(
            k[:2] == key[:2] for k in self.edges
        )):  # fmt: skip
            return
        if kind is DependencyKind.GRPC:
            if key[:2] in self.http_calls:
                return  # a gRPC client built but called over HTTP (otel-demo's checkout)
            # a gRPC call found later wins over a guess of HTTP
            self.edges.pop((src.name, dst.name, DependencyKind.SYNC_HTTP), None)
        self.edges[key] = Edge(src.name, dst.name, kind, via, evidence)

    def _ev(self, path: str, line: int | None) -> Evidence:
        return Evidence(self.repo, path, line)

    # -- rules -------------------------------------------------------------------------------

    def _settings(self, sf: ServiceFacts) -> None:
        src = sf.component
        reads: dict[str, list[tuple[FileFacts, Read]]] = {}
        for f in sf.files:
            for r in f.reads:
                reads.setdefault(r.var, []).append((f, r))
        bound: dict[str, list[Binding]] = {}
        for b in sorted(sf.bindings, key=lambda b: (b.path, b.line or 0)):
            bound.setdefault(b.var, []).append(b)
        for var in list(dict.fromkeys([*reads, *bound])):
            if (
                not _SETTING.search(var)
                and not var.startswith("services__")
                and not any((r.default or "").count(":") for _, r in reads.get(var, []))
            ):
                continue
            dst, deploy_ev = None, None
            verdict: Component | bool | None = None
            for b in bound.get(var, []):
                verdict = self._service(host_of(b.value), src)
                if verdict is not None:
                    deploy_ev = b if verdict else None
                    break
            if verdict is None:
                for _, r in reads.get(var, []):
                    verdict = self._service(host_of(r.default or ""), src)
                    if verdict is not None:
                        break
            if verdict is None and not bound.get(var):
                verdict = self._service(_STEM.sub("", var).strip("_"), src)
            if not isinstance(verdict, Component):
                continue
            dst = verdict
            code: list[Evidence] = []
            over_http = False  # the address is used in an HTTP call with a path
            for f, r in reads.get(var, []):
                call = f.calls.get(r.holder or "")
                over_http = bool(call and call.detail)
                code.append(self._ev(f.path, call.line if call and over_http else r.line))
                break
            stub = None if over_http else self._stub_for(sf, dst)
            if over_http:
                self.http_calls.add((src.name, dst.name))
            if stub is not None:
                f, use = stub
                read = reads.get(var)
                address = [self._ev(read[0][0].path, read[0][1].line)] if read else []
                if not address and deploy_ev is not None:
                    address = [self._ev(deploy_ev.path, deploy_ev.line)]
                self._add(src, dst, DependencyKind.GRPC, use.name,
                          [self._ev(f.path, use.line), *address])  # fmt: skip
                continue
            ev = code[:1]
            if deploy_ev is not None:
                ev.append(self._ev(deploy_ev.path, deploy_ev.line))
            self._add(src, dst, DependencyKind.SYNC_HTTP, var, ev)

    def _stub_for(self, sf: ServiceFacts, dst: Component) -> tuple[FileFacts, Use] | None:
        for f in sf.files:
            for use in f.stubs:
                if self.layout.server_of(use.name) is dst:
                    return f, use
        return None

    def _literals(self, sf: ServiceFacts) -> None:
        src = sf.component
        for f in sf.files:
            for use in f.hosts:
                dst = self._service(host_of(use.name), src)
                if isinstance(dst, Component):
                    via = use.detail.split("?", 1)[0] or use.name
                    self._add(src, dst, DependencyKind.SYNC_HTTP, via, [self._ev(f.path, use.line)])

    def _stubs(self, sf: ServiceFacts) -> None:
        for f in sf.files:
            for use in f.stubs:
                dst = self.layout.server_of(use.name)
                if dst is not None and dst is not sf.component:
                    self._add(sf.component, dst, DependencyKind.GRPC, use.name,
                              [self._ev(f.path, use.line)])  # fmt: skip

    def _libraries(self, sf: ServiceFacts) -> None:
        libs = [c for c in self.layout.components if c.kind is ComponentKind.LIBRARY]
        if not libs:
            return
        for lib in libs:
            names = {_module(n) for n in (lib.name, *lib.packages)}
            hits: list[Evidence] = []
            for f in sf.files:
                for use in f.imports:
                    if _imports(_module(use.name), names):
                        hits.append(self._ev(f.path, use.line))
                        break
            hits.extend(self._build_refs(sf, lib))
            if hits:
                first = min(hits, key=lambda e: (e.path, e.line or 0))
                self._add(sf.component, lib, DependencyKind.LIBRARY, lib.path, [first])

    def _build_refs(self, sf: ServiceFacts, lib: Component) -> list[Evidence]:
        return [self._ev(path, line) for folder, path, line in sf.refs if folder == lib.path]

    def _shared_db(self) -> None:
        """Services on one database (host and name) that touch a common table share it; so do
        two whose tables are unseen on one side (an ORM), shown by where each is given it."""
        users: dict[tuple[str, str], dict[int, tuple[ServiceFacts, Evidence]]] = {}
        for sf in self.services:
            places = [(b.value, b.path, b.line) for b in sf.bindings]
            places += [(r.default or "", f.path, r.line) for f in sf.files for r in f.reads]
            for value, path, line in places:
                db = database_of(value)
                if db:
                    users.setdefault(db, {}).setdefault(id(sf), (sf, self._ev(path, line)))
        for (_host, name), found in users.items():
            sfs = list(found.values())
            for i, (a, where_a) in enumerate(sfs):
                for b, where_b in sfs[i + 1 :]:
                    ta, tb = _tables(a), _tables(b)
                    common = sorted(ta & tb)
                    if common:
                        first = [_first_use(sf, common[0]) for sf in (a, b)]
                        ev = [self._ev(p, line) for p, line in first if p]
                        via = f"{name} ({', '.join(common)})"
                    elif not ta or not tb:
                        ev, via = [where_a, where_b], name
                    else:
                        continue  # the same database, different tables
                    self._add(a.component, b.component, DependencyKind.SHARED_DB, via, ev)


def _module(name: str) -> str:
    """A package or module name as imports spell it: lowercase, '-' as '_'."""
    return name.lower().replace("-", "_")


def _imports(module: str, names: set[str]) -> bool:
    """Whether an imported module is one of `names` or inside one: shopcommon.db is in
    shopcommon, eShop.WebAppComponents.Catalog in eShop.WebAppComponents (not in
    eShop.ServiceDefaults), @shop/ui/button in @shop/ui."""
    return any(module == n or module.startswith((n + ".", n + "/")) for n in names)


def _tables(sf: ServiceFacts) -> set[str]:
    return {u.name for f in sf.files for u in f.tables}


def _first_use(sf: ServiceFacts, table: str) -> tuple[str, int | None]:
    for f in sorted(sf.files, key=lambda f: f.path):
        for u in f.tables:
            if u.name == table:
                return f.path, u.line
    return "", None
