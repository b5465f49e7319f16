"""What deployment files say: compose services, Kubernetes workloads, Helm charts, Backstage
components, Dockerfile ENV, with the environment each one gets and the line of each value."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from connectors.git.code import source_lines
from connectors.yaml_lines import LineDict, LineList, line_of, load_yaml

_WORKLOADS = frozenset(
    {"deployment", "statefulset", "daemonset", "job", "cronjob", "replicaset", "pod"}
)
_TEMPLATE = re.compile(r"\{\{[^}]*\}\}")
_VALUES_REF = re.compile(r"\{\{-?\s*\.Values\.([\w.]+)[^}]*\}\}")


@dataclass(frozen=True)
class Binding:
    """A setting given to a deployable: VAR=value at path:line."""

    var: str
    value: str
    path: str
    line: int | None


@dataclass
class Deployable:
    """Something a deployment file runs, under the name that file gives it."""

    name: str
    source: str  # compose | k8s | helm | catalog | dockerfile
    path: str
    line: int | None
    folder: str | None = None  # the folder it is built from, when the file says
    image: str = ""
    env: list[Binding] = field(default_factory=list)
    owner: str | None = None


@dataclass
class Unread:
    """A file or value the map could not use, and why (reported with file:line)."""

    path: str
    line: int | None
    why: str


def is_compose(name: str) -> bool:
    return bool(re.match(r"^(docker-)?compose([.-][\w-]+)?\.ya?ml$", name, re.I))


def compose_deployables(
    text: str, path: str, dotenv_values: dict[str, str] | None = None
) -> list[Deployable]:
    """Services of a compose file with their build folder, image and environment.

    `${VAR}` in a value, and a bare `- VAR` item, take their value from the `.env` beside
    the compose file (`dotenv_values`), as docker compose does.
    """
    docs = load_yaml(text)
    root = docs[0] if docs and isinstance(docs[0], dict) else {}
    services = root.get("services") if "services" in root else None
    if not isinstance(services, LineDict):
        return []
    here = posixpath.dirname(path)
    out: list[Deployable] = []
    for name, spec in services.items():
        if not isinstance(spec, dict):
            continue
        d = Deployable(str(name), "compose", path, line_of(services, name))
        d.image = str(spec.get("image") or "")
        build = spec.get("build")
        context = build.get("context") if isinstance(build, dict) else build
        if isinstance(context, str) and "://" not in context:
            folder = _join(here, interpolate(context, dotenv_values or {}))
            dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
            if isinstance(dockerfile, str):
                dockerfile = interpolate(dockerfile, dotenv_values or {})
            if folder is not None and isinstance(dockerfile, str) and "/" in dockerfile.strip("./"):
                # A root context with a Dockerfile in the service's folder (otel-demo).
                folder = posixpath.dirname(_join(folder, dockerfile) or "") or None
            d.folder = folder
        d.env = _compose_env(spec.get("environment"), path, dotenv_values or {})
        out.append(d)
    return out


def _join(base: str, rel: str) -> str | None:
    """A folder relative to `base`, within the repository (None when it leaves it)."""
    joined = posixpath.normpath(posixpath.join(base or ".", rel.strip()))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None  # another repository's folder (a platform repo building its siblings)
    return "" if joined == "." else joined


def _compose_env(env: Any, path: str, values: dict[str, str]) -> list[Binding]:
    out: list[Binding] = []
    if isinstance(env, LineDict):
        for key, value in env.items():
            raw = "" if value is None else str(value)
            out.append(Binding(str(key), interpolate(raw, values), path, env.lines[key]))
    elif isinstance(env, LineList):
        for item, line in zip(env, env.lines, strict=False):
            key, eq, value = str(item).partition("=")
            value = value if eq else values.get(key, "")
            out.append(Binding(key, interpolate(value, values), path, line))
    return out


_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str, values: dict[str, str]) -> str:
    """`${A}:${B:-80}` with A and B from `values` (a default when B is unset)."""
    return _INTERPOLATION.sub(lambda m: values.get(m.group(1), m.group(2) or ""), value)


def k8s_deployables(text: str, path: str) -> list[Deployable]:
    """Workloads of a Kubernetes manifest: name, first container image, env with lines."""
    out: list[Deployable] = []
    for doc in load_yaml(text):
        if not isinstance(doc, dict) or str(doc.get("kind", "")).lower() not in _WORKLOADS:
            continue
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            continue
        d = Deployable(str(meta["name"]), "k8s", path, line_of(meta, "name"))
        for container in _containers(doc):
            d.image = d.image or str(container.get("image") or "")
            d.env.extend(_k8s_env(container.get("env"), path))
        out.append(d)
    return out


def _containers(doc: dict[Any, Any]) -> list[dict[Any, Any]]:
    spec: Any = doc.get("spec") or {}
    for key in ("jobTemplate", "spec", "template", "spec"):  # CronJob nests one level more
        if isinstance(spec, dict) and "containers" not in spec and key in spec:
            spec = spec.get(key) or {}
    if isinstance(spec, dict) and "template" in spec:
        spec = (spec.get("template") or {}).get("spec") or {}
    containers = spec.get("containers") if isinstance(spec, dict) else None
    return [c for c in containers or [] if isinstance(c, dict)]


def _k8s_env(env: Any, path: str) -> list[Binding]:
    out: list[Binding] = []
    if not isinstance(env, LineList):
        return out
    for item in env:
        if isinstance(item, LineDict) and item.get("name") and "value" in item:
            line = item.lines.get("value")
            out.append(Binding(str(item["name"]), str(item.get("value") or ""), path, line))
    return out


def is_k8s_manifest(text: str) -> bool:
    head = text[:3000]
    return "apiVersion:" in head and re.search(r"(?m)^kind:\s*\w", head) is not None


def helm_chart(
    chart: str, values_text: str | None, templates: dict[str, str], unread: list[Unread]
) -> list[Deployable]:
    """Workloads of a Helm chart, its templates read line by line with .Values filled in.

    A template is not YAML until rendered, so only `name:`/`value:` pairs of container env
    and `image:` lines are taken; a value whose template cannot be filled from values.yaml
    is reported and skipped.
    """
    values: Any = {}
    if values_text:
        docs = load_yaml(values_text)
        values = docs[0] if docs and isinstance(docs[0], dict) else {}
    name = _chart_name(chart)
    out: list[Deployable] = []
    for path, text in sorted(templates.items()):
        if not re.search(r"(?m)^kind:\s*(Deployment|StatefulSet|DaemonSet)", text):
            continue
        d = Deployable(name, "helm", path, None)
        pending: str | None = None
        in_meta = False
        for lineno, raw in enumerate(source_lines(text), start=1):
            line = raw.strip()
            if raw.startswith("metadata:"):
                in_meta = True
                continue
            if in_meta and d.line is None and re.match(r"^\s{2}name:\s*\S", raw):
                # The workload's own name (filled from values), else the chart's.
                own = _fill(line[5:].strip().strip("\"'"), values)
                own = own if own and "Chart" not in line else name
                d.name, d.line = own or name, lineno
                continue
            if raw and not raw[0].isspace():
                in_meta = False
            m = re.match(r"^-?\s*name:\s*[\"']?([A-Z][A-Z0-9_]*)[\"']?\s*$", line)
            if m:
                pending = m.group(1)
                continue
            m = re.match(r"^value:\s*(.+)$", line)
            if m and pending:
                value = _fill(m.group(1).strip().strip("\"'"), values)
                if value is None:
                    unread.append(
                        Unread(path, lineno, "templated Helm value not filled from values.yaml")
                    )
                else:
                    d.env.append(Binding(pending, value, path, lineno))
                pending = None
                continue
            m = re.match(r"^image:\s*(.+)$", line)
            if m and not d.image:
                d.image = _fill(m.group(1).strip().strip("\"'"), values) or ""
        out.append(d)
    return out


def _chart_name(chart: str) -> str:
    m = re.search(r"(?m)^name:\s*[\"']?([\w.-]+)", chart)
    return m.group(1) if m else ""


def _fill(value: str, values: Any) -> str | None:
    """A template value with `.Values.x.y` filled in; None if anything else is templated."""

    def lookup(m: re.Match[str]) -> str:
        node = values
        for part in m.group(1).split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or isinstance(node, (dict, list)):
            raise KeyError(m.group(1))
        return str(node)

    try:
        filled = _VALUES_REF.sub(lookup, value)
    except KeyError:
        return None
    return None if _TEMPLATE.search(filled) else filled.strip("\"'")


def dockerfile_env(text: str, path: str) -> list[Binding]:
    """ENV settings of a Dockerfile, `ENV A=1 \\` continuation lines included."""
    out: list[Binding] = []
    in_env = False
    for lineno, raw in enumerate(source_lines(text), start=1):
        line = raw.strip()
        if re.match(r"(?i)^env\s", line):
            in_env = True
            line = line[3:].strip()
            legacy = re.match(r"^([A-Za-z_]\w*)\s+([^=\s].*)$", line)
            if legacy and "=" not in legacy.group(1):
                out.append(Binding(legacy.group(1), legacy.group(2).strip("\"' \\"), path, lineno))
                in_env = line.endswith("\\")
                continue
        elif not in_env:
            continue
        for m in re.finditer(r"([A-Za-z_]\w*)=(\"[^\"]*\"|'[^']*'|[^\s\\]*)", line):
            out.append(Binding(m.group(1), m.group(2).strip("\"'"), path, lineno))
        in_env = line.endswith("\\")
    return out


def dockerfile_copies(text: str) -> list[tuple[str, int]]:
    """(source, line) of each COPY/ADD from the build context (not from another stage)."""
    out: list[tuple[str, int]] = []
    for no, raw in enumerate(source_lines(text), start=1):
        m = re.match(r"(?i)^\s*(?:COPY|ADD)\s+(.+)$", raw)
        if not m or "--from" in m.group(1):
            continue
        args = [a for a in m.group(1).replace("[", " ").replace("]", " ").replace(",", " ").split()
                if not a.startswith("--")]  # fmt: skip
        out.extend((a.strip("\"'"), no) for a in args[:-1] if "://" not in a)
    return out


def dotenv(text: str, path: str) -> list[Binding]:
    """VAR=value lines of a .env file."""
    out: list[Binding] = []
    for lineno, raw in enumerate(source_lines(text), start=1):
        m = re.match(r"^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=\s*(.*?)\s*$", raw)
        if m and not raw.lstrip().startswith("#"):
            out.append(Binding(m.group(1), m.group(2).strip("\"'"), path, lineno))
    return out


def catalog_deployables(text: str, path: str) -> list[Deployable]:
    """Backstage Components of type service, with owner and source location."""
    out: list[Deployable] = []
    here = posixpath.dirname(path)
    for doc in load_yaml(text):
        if not isinstance(doc, dict) or str(doc.get("kind", "")).lower() != "component":
            continue
        meta, spec = doc.get("metadata"), doc.get("spec")
        if not isinstance(meta, dict) or not isinstance(spec, dict) or not meta.get("name"):
            continue
        d = Deployable(str(meta["name"]), "catalog", path, line_of(meta, "name"))
        owner = spec.get("owner")
        d.owner = str(owner).split(":", 1)[-1].rsplit("/", 1)[-1] if owner else None
        annotations = meta.get("annotations") or {}
        where = (
            annotations.get("backstage.io/source-location")
            if isinstance(annotations, dict)
            else None
        )
        if isinstance(where, str) and where.startswith("url:./"):
            d.folder = _join(here, where[4:])
        elif here:
            d.folder = here  # a catalog-info.yaml inside the service's own folder
        out.append(d)
    return out
