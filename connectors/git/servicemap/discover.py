"""Which folders of a repository are services, libraries or infrastructure, under which
names, owned by whom: from compose, Kubernetes, Helm, Backstage and build files."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from pathlib import PurePosixPath

import yaml

from connectors.git.servicemap import aspire, deploy
from connectors.git.servicemap.builds import build_names, classify, copied_code
from connectors.git.servicemap.deploy import Deployable, Unread
from connectors.git.servicemap.model import Component, Infra, Layout
from connectors.git.servicemap.protos import proto_services
from connectors.git.servicemap.vocab import (
    NOT_COMPONENT_DIRS,
    image_base,
    infra_kind,
    is_build_file,
)
from connectors.yaml_lines import yaml_error_line
from kb.contract.identity import service_key
from kb.contract.kinds import InfraKind

TextOf = Callable[[str], "str | None"]
__all__ = ["Component", "Layout", "TextOf", "discover"]


def discover(paths: list[str], text_of: TextOf) -> Layout:
    """Find the components of a repository from its paths and its deployment files."""
    unread: list[Unread] = []
    deployables = _deployables(paths, text_of, unread)
    protos = proto_services(paths, text_of, unread)
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
    build_names(layout, text_of)
    classify(layout, text_of, paths)
    copied_code(layout, paths, text_of)
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
            why = "templated YAML outside a Helm chart"
            unread.append(Unread(path, _first_template_line(text), why))
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
