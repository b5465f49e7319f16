"""Which folders of a repository are services, libraries or infrastructure, under which
names, owned by whom: from compose, Kubernetes, Helm, Backstage and build files."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import yaml

from connectors.git.code import PROGRAM_SUFFIXES
from connectors.git.servicemap import aspire, deploy
from connectors.git.servicemap.deploy import Deployable, Unread
from connectors.git.servicemap.vocab import (
    LIBRARY_DIRS,
    NOT_COMPONENT_DIRS,
    image_base,
    infra_kind,
    is_build_file,
)
from connectors.yaml_lines import yaml_error_line
from kb.contract.identity import service_key
from kb.contract.kinds import ComponentKind, InfraKind

TextOf = Callable[[str], "str | None"]


@dataclass
class Component:
    """A service or library of the repository: a folder and the names it goes by."""

    name: str
    path: str
    kind: ComponentKind = ComponentKind.SERVICE
    aliases: list[str] = field(default_factory=list)
    owner: str | None = None
    deployables: list[Deployable] = field(default_factory=list)
    build_files: list[str] = field(default_factory=list)
    # Names a library is imported by (package name, module path), besides its folder's.
    packages: set[str] = field(default_factory=set)
    # Code from outside its folder that its image copies in (a shared file), and where the
    # build points at a library folder: (folder, path, line).
    copied: list[str] = field(default_factory=list)
    refs: list[tuple[str, str, int]] = field(default_factory=list)

    def spell(self, name: str) -> None:
        """Keep another spelling of this component's name."""
        if name and name != self.name and name not in self.aliases:
            self.aliases.append(name)

    def name_keys(self) -> set[str]:
        return {service_key(n) for n in (self.name, *self.aliases)} - {""}


@dataclass
class Infra:
    name: str
    kind: InfraKind
    path: str | None
    line: int | None


@dataclass
class Layout:
    """The components, infrastructure and deployables of one repository."""

    components: list[Component]
    infra: list[Infra]
    deployables: list[Deployable]
    unread: list[Unread]
    protos: dict[str, tuple[str, int]]  # proto service -> (path, line)

    def by_key(self, name: str) -> Component | None:
        """The component a name means (exact spelling first, then the normalised key)."""
        for c in self.components:
            if name == c.name or name in c.aliases:
                return c
        key = service_key(name)
        hits = [c for c in self.components if key in c.name_keys()]
        return hits[0] if len(hits) == 1 else None

    def server_of(self, proto_service: str) -> Component | None:
        """The service serving a proto service: the one whose folder holds the .proto, else
        the one its name means (shared protos/ folders: PaymentService is payment)."""
        if proto_service not in self.protos:
            return None
        path = self.protos[proto_service][0]
        holder = self.owner_of(path)
        alone = sum(p == path for p, _ in self.protos.values()) == 1  # not a copy of them all
        if holder is not None and holder.kind is ComponentKind.SERVICE and alone:
            return holder
        return self.by_key(proto_service)

    def infra_named(self, name: str) -> Infra | None:
        """Known infrastructure of that name (`admin-server` is `spring-petclinic-admin-server`)."""
        key = service_key(name)
        for i in self.infra:
            other = service_key(i.name)
            if key and other and (other == key or other.endswith(key) or key.endswith(other)):
                return i
        return None

    def owner_of(self, path: str) -> Component | None:
        """The component whose folder holds `path` (the deepest one)."""
        best: Component | None = None
        for c in self.components:
            if (c.path == "" or path.startswith(c.path + "/")) and (
                best is None or len(c.path) > len(best.path)
            ):
                best = c
        return best


def discover(paths: list[str], text_of: TextOf) -> Layout:
    """Find the components of a repository from its paths and its deployment files."""
    unread: list[Unread] = []
    deployables = _deployables(paths, text_of, unread)
    protos = _proto_services(paths, text_of, unread)
    folders = _candidate_folders(paths, deployables)
    components: list[Component] = []
    infra: dict[str, Infra] = {}
    for found in folders:
        folder = _owning_folder(found)
        name = PurePosixPath(folder).name or ""
        builds = [p for p in paths if posixpath.dirname(p) == found and is_build_file(p)]
        mine = [d for d in deployables if d.folder in (found, folder)]
        kind = infra_kind(name, *(d.name for d in mine), *(d.image for d in mine))
        if (
            kind is not None
            and _deployed(folder, builds, deployables)
            and not _own_tool(name, builds)
        ):
            label = next((d.name for d in mine if d.name), name)
            infra.setdefault(service_key(label), Infra(label, kind, folder, None))
            continue
        c = Component(name, folder, build_files=builds)
        for d in mine:
            c.spell(d.name)
            c.deployables.append(d)
        components.append(c)
    layout = Layout(components, list(infra.values()), deployables, unread, protos)
    for proto in protos:
        served = layout.server_of(proto)
        if served is not None and service_key(proto) in served.name_keys() | {
            service_key(PurePosixPath(served.path).name)
        }:
            served.spell(proto)  # its proto name, when it is a spelling of its own
    _attach(layout, deployables)
    _build_names(layout, text_of)
    _classify(layout, text_of, paths)
    _copied_code(layout, paths, text_of)
    kinds = list(InfraKind)
    layout.infra.sort(key=lambda i: kinds.index(i.kind))
    return layout


def _deployables(paths: list[str], text_of: TextOf, unread: list[Unread]) -> list[Deployable]:
    out: list[Deployable] = []
    charts: dict[str, str] = {}
    for path in paths:
        p = PurePosixPath(path)
        if set(p.parts[:-1]) & {"test", "tests", "testdata", "examples"}:
            continue
        name = p.name.lower()
        if name == "chart.yaml":
            charts[posixpath.dirname(path)] = path
            continue
        if "/templates/" in f"/{path}" and any(path.startswith(f"{c}/") for c in charts):
            continue
        reader: Callable[[str, str], list[Deployable]] | None = None
        if deploy.is_compose(p.name):
            reader = deploy.compose_deployables
        elif name in ("catalog-info.yaml", "catalog-info.yml"):
            reader = deploy.catalog_deployables
        elif p.suffix.lower() in (".yaml", ".yml") and "/templates/" not in f"/{path}":
            reader = deploy.k8s_deployables
        elif name.endswith(".csproj") and aspire.is_app_host(text_of(path) or ""):
            _app_host(posixpath.dirname(path), paths, text_of, out)
            continue
        elif name.startswith("dockerfile"):
            text = text_of(path)
            if text:
                env = deploy.dockerfile_env(text, path)
                out.append(
                    Deployable("", "dockerfile", path, None, posixpath.dirname(path), env=env)
                )
            continue
        if reader is None:
            continue
        text = text_of(path)
        if not text or (reader is deploy.k8s_deployables and not deploy.is_k8s_manifest(text)):
            continue
        if "{{" in text and reader is deploy.k8s_deployables:
            unread.append(Unread(path, _first_template_line(text), "templated YAML", fatal=False))
            continue
        try:
            if reader is deploy.compose_deployables:
                env_file = posixpath.join(posixpath.dirname(path), ".env")
                env_values = {
                    b.var: b.value for b in deploy.dotenv(text_of(env_file) or "", env_file)
                }
                for _ in range(2):  # .env env_values name others: A=${HOST}:${PORT}
                    env_values = {
                        k: deploy.interpolate(v, env_values) for k, v in env_values.items()
                    }
                out.extend(deploy.compose_deployables(text, path, env_values))
                continue
            out.extend(reader(text, path))
        except yaml.YAMLError as exc:
            unread.append(
                Unread(path, yaml_error_line(exc, text), f"invalid YAML: {_problem(exc)}")
            )
    for folder, chart in sorted(charts.items()):
        templates = {
            p: t
            for p in paths
            if p.startswith(f"{folder}/templates/") and (t := text_of(p)) is not None
        }
        values = text_of(f"{folder}/values.yaml")
        try:
            out.extend(deploy.helm_chart(text_of(chart) or "", values, templates, unread))
        except yaml.YAMLError as exc:
            where = f"{folder}/values.yaml"
            unread.append(Unread(where, yaml_error_line(exc, values or ""), "invalid YAML"))
    return out


def _app_host(folder: str, paths: list[str], text_of: TextOf, out: list[Deployable]) -> None:
    """An Aspire app host's projects (their folder resolved later) and infrastructure."""
    for path in paths:
        if posixpath.dirname(path) == folder and path.endswith(".cs"):
            projects, infra = aspire.app_host(text_of(path) or "", path)
            out.extend(projects)
            for name, kind, line in infra:
                out.append(Deployable(name, "aspire-infra", path, line, image=kind.value))
    out.append(Deployable("", "app-host", folder, None, folder=folder))


def _problem(exc: yaml.YAMLError) -> str:
    return str(getattr(exc, "problem", None) or str(exc).splitlines()[0])


def _first_template_line(text: str) -> int:
    return next((i for i, line in enumerate(text.split("\n"), 1) if "{{" in line), 1)


_PROTO_SERVICE = re.compile(r"^\s*service\s+(\w+)\s*\{")


def _proto_services(
    paths: list[str], text_of: TextOf, unread: list[Unread]
) -> dict[str, tuple[str, int]]:
    """Services declared by .proto files; an unbalanced file is reported and skipped."""
    out: dict[str, tuple[str, int]] = {}
    for path in paths:
        if not path.endswith(".proto"):
            continue
        text = text_of(path)
        if text is None:
            continue
        problem = _proto_problem(text)
        if problem:
            unread.append(Unread(path, problem[0], f"invalid proto: {problem[1]}"))
            continue
        for no, line in enumerate(text.split("\n"), start=1):
            m = _PROTO_SERVICE.match(line)
            if m:
                out.setdefault(m.group(1), (path, no))
    return out


def _proto_problem(text: str) -> tuple[int, str] | None:
    """(line, why) of the first unbalanced bracket of a .proto file, else None."""
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for no, line in enumerate(text.split("\n"), start=1):
        opened = [ln for ch, ln in stack if ch == "("]
        if opened:  # a parameter list never spans lines in a .proto
            return opened[0], "unclosed '('"
        code = re.sub(r"//.*|\"[^\"]*\"", "", line)
        for ch in code:
            if ch in "({[":
                stack.append((ch, no))
            elif ch in pairs:
                if not stack or stack[-1][0] != pairs[ch]:
                    return no, f"unexpected '{ch}'"
                stack.pop()
    if stack:
        return stack[-1][1], f"unclosed '{stack[-1][0]}'"
    return None


def _candidate_folders(paths: list[str], deployables: list[Deployable]) -> list[str]:
    """Folders that build something: build files, compose build contexts, catalog locations.

    A folder holding two or more others only groups them; one holding a single other is
    the component (robot-shop's ratings/ and its html/ composer project).
    """
    found: dict[str, None] = {}
    for d in deployables:
        if d.folder and d.source in ("compose", "catalog"):
            found.setdefault(d.folder, None)
    for path in paths:
        parts = PurePosixPath(path).parts[:-1]
        if is_build_file(path) and parts and not {p.lower() for p in parts} & NOT_COMPONENT_DIRS:
            found.setdefault(posixpath.dirname(path), None)
    hosts = {d.folder for d in deployables if d.source == "app-host"}
    folders = sorted(f for f in found if f not in hosts)  # an app host runs, it is not run
    keep: list[str] = []
    for f in folders:
        inner = [g for g in folders if g != f and g.startswith(f + "/")]
        outer = [g for g in folders if g != f and f.startswith(g + "/")]
        if len(inner) >= 2:
            continue  # a grouping folder
        if any(len([h for h in folders if h != g and h.startswith(g + "/")]) < 2 for g in outer):
            continue  # inside a component
        keep.append(f)
    order = {d.folder: i for i, d in enumerate(deployables) if d.folder and d.source == "compose"}
    return sorted(keep, key=lambda f: (order.get(f, len(order)), f))


def _own_tool(name: str, builds: list[str]) -> bool:
    """A UI or console for infrastructure that the system writes itself (otel-demo's
    flagd-ui: a mix.exs project) is one of its services, whatever its name says."""
    own_code = any(not PurePosixPath(b).name.lower().startswith("dockerfile") for b in builds)
    return own_code and bool(re.search(r"[-_](ui|console|dashboard|admin)$", name.lower()))


def _deployed(folder: str, builds: list[str], deployables: list[Deployable]) -> bool:
    """Whether something runs this folder: an image is built from it, or a deployment file
    runs it by its name. Code nothing runs (a library called EventBus) is no broker."""
    if any(PurePosixPath(b).name.lower().startswith("dockerfile") for b in builds):
        return True
    key = service_key(PurePosixPath(folder).name)
    return any(
        d.folder == folder
        or (d.source in ("compose", "k8s", "helm")
            and key in (service_key(d.name), service_key(image_base(d.image))))
        for d in deployables
    )  # fmt: skip


# A build in one of these is its parent folder's: src/cartservice/src is cartservice.
_GENERIC_DIRS = frozenset({"src", "app", "source", "server", "code", "main", "service"})


def _owning_folder(folder: str) -> str:
    p = PurePosixPath(folder)
    if p.name.lower() in _GENERIC_DIRS and len(p.parts) > 1:
        return str(p.parent)
    return folder


def _attach(layout: Layout, deployables: list[Deployable]) -> None:
    """Give each k8s/Helm/catalog name to the component it means; infra by its words."""
    for d in deployables:
        if d.source == "dockerfile":
            c = layout.owner_of(d.path)
            if c is not None and c.path:
                c.deployables.append(d)
            continue
        if (d.source == "compose" and d.folder) or d.source == "app-host":
            continue  # attached by folder already
        if d.source == "aspire-infra":
            if layout.infra_named(d.name) is None:
                layout.infra.append(Infra(d.name, InfraKind(d.image), d.path, d.line))
            continue
        if d.source == "aspire":  # the folder is the project's name: src/Basket.API
            name = d.folder
            d.folder = next((c.path for c in layout.components if c.name == name), None)
        c = None
        if d.folder:
            c = next((c for c in layout.components if c.path == d.folder), None)
        c = c or layout.by_key(d.name) or (layout.by_key(image_base(d.image)) if d.image else None)
        if c is not None:
            c.spell(d.name)
            if d.owner and not c.owner:
                c.owner = d.owner
            c.deployables.append(d)
            continue
        kind = infra_kind(d.name, d.image)
        source_runs = d.source in ("compose", "k8s", "helm")
        if kind is not None and source_runs and layout.infra_named(d.name) is None:
            layout.infra.append(Infra(d.name, kind, d.path, d.line))


_PACKAGE_NAME = {
    "package.json": re.compile(r"^\s*\"name\"\s*:\s*\"([^\"]+)\""),
    "pyproject.toml": re.compile(r"^\s*name\s*=\s*[\"']([^\"']+)"),
    "setup.py": re.compile(r"\bname\s*=\s*[\"']([^\"']+)"),
    "cargo.toml": re.compile(r"^\s*name\s*=\s*\"([^\"]+)\""),
    "go.mod": re.compile(r"^module\s+(\S+)"),
}


def _build_names(layout: Layout, text_of: TextOf) -> None:
    """Names build files give: kept as aliases when they mean the same component."""
    for c in layout.components:
        for path in c.build_files:
            name = PurePosixPath(path).name
            found: str | None = None
            if name.lower().endswith((".csproj", ".fsproj")):
                found = PurePosixPath(name).stem
            elif name.lower() in _PACKAGE_NAME:
                text = text_of(path) or ""
                for line in text.split("\n")[:60]:
                    m = _PACKAGE_NAME[name.lower()].search(line)
                    if m:
                        found = m.group(1)
                        break
            if not found:
                continue
            c.packages.add(found)
            short = found.rsplit("/", 1)[-1]
            if service_key(short) in c.name_keys():
                c.spell(short)


def _classify(layout: Layout, text_of: TextOf, paths: list[str]) -> None:
    """A component neither deployed nor built into an image is a library if it does not run."""
    for c in layout.components:
        deployed = any(d.source != "dockerfile" for d in c.deployables)
        has_image = any(d.source == "dockerfile" for d in c.deployables)
        if deployed or has_image:
            continue
        if _runs(c, text_of, paths):
            continue
        c.kind = ComponentKind.LIBRARY
    for c in layout.components:
        if (
            c.kind is ComponentKind.SERVICE
            and {p.lower() for p in PurePosixPath(c.path).parts[:-1]} & LIBRARY_DIRS
            and not c.deployables
        ):
            c.kind = ComponentKind.LIBRARY


def _runs(c: Component, text_of: TextOf, paths: list[str]) -> bool:
    """Whether a component's build says it is an application (not a library)."""
    for path in c.build_files:
        name = PurePosixPath(path).name.lower()
        text = text_of(path) or ""
        if name.endswith(".csproj") and (
            re.search(r"Sdk\.(Web|Worker)", text) or re.search(r"<OutputType>\s*Exe", text)
        ):
            return True
        if name in ("pom.xml", "build.gradle", "build.gradle.kts") and re.search(
            r"spring-boot-maven-plugin|org\.springframework\.boot|\bapplication\b|mainClass", text
        ):
            return True
        if name == "package.json" and re.search(r"\"start\"\s*:", text):
            return True
    prefix = c.path + "/"
    for path in paths:
        top_go = path.startswith(prefix) and path.endswith(".go") and "/" not in path[len(prefix) :]
        if top_go and re.search(r"(?m)^package main\b", text_of(path) or ""):
            return True
    return False


def _copied_code(layout: Layout, paths: list[str], text_of: TextOf) -> None:
    """Code a service's Dockerfile copies in from outside any component is a shared library
    (otel-demo's src/shared/tools.py): the service uses it, and its code is the service's."""
    for c in [c for c in layout.components if c.kind is ComponentKind.SERVICE]:
        sources = [
            (d.path, src, line)
            for d in c.deployables
            if d.source == "dockerfile"
            for src, line in deploy.dockerfile_copies(text_of(d.path) or "")
        ] + [
            (b, src, line)
            for b in c.build_files
            if b.lower().endswith((".csproj", ".fsproj"))  # <Compile Include="..\Shared\X.cs">
            for src, line in _linked_sources(text_of(b) or "")
        ]
        for where, src, line in sources:
            files = _sources(src.strip("/"), posixpath.dirname(where), paths)
            files = [
                f for f in files
                if _unowned(layout, f) and PurePosixPath(f).suffix in PROGRAM_SUFFIXES
            ]  # fmt: skip
            if not files:
                continue
            folder = posixpath.dirname(files[0]) if len(files) == 1 else src.strip("/")
            lib = next((x for x in layout.components if x.path == folder), None)
            if lib is None:
                lib = Component(PurePosixPath(folder).name, folder, ComponentKind.LIBRARY)
                layout.components.append(lib)
            c.copied.extend(f for f in files if f not in c.copied)
            c.refs.append((folder, where, line))


def _linked_sources(text: str) -> list[tuple[str, int]]:
    """Source files a .NET project compiles in from elsewhere: (relative path, line)."""
    out: list[tuple[str, int]] = []
    for no, line in enumerate(text.split("\n"), start=1):
        m = re.search(r"<Compile\s+Include=\"(\.\.[^\"]+)\"", line)
        if m:
            out.append((m.group(1).replace("\\", "/"), no))
    return out


def _unowned(layout: Layout, path: str) -> bool:
    owner = layout.owner_of(path)
    return owner is None or owner.kind is ComponentKind.LIBRARY


def _sources(src: str, here: str, paths: list[str]) -> list[str]:
    """The repository files a COPY source means: from the root context, else the folder's."""
    if src in ("", ".", "*"):
        return []
    for base in (src.removeprefix("./"), posixpath.normpath(posixpath.join(here, src))):
        hits = [p for p in paths if p == base or p.startswith(base.rstrip("/") + "/")]
        if hits:
            return hits
    return []
