"""Which service a path belongs to, who owns it (CODEOWNERS, Backstage) and compose wiring."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from connectors.git.code import PROGRAM_SUFFIXES, source_lines
from connectors.git.files import glob_regex
from connectors.yaml_lines import LineDict, LineList, line_of, load_yaml
from kb.contract.kinds import DependencyKind
from kb.contract.records import CodeOwnerRecord, DependencyRecord

CODEOWNERS_PATHS = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
CATALOG_NAMES = frozenset({"catalog-info.yaml", "catalog-info.yml"})
COMPOSE_NAME = re.compile(r"^(docker-)?compose(\.[\w-]+)?\.ya?ml$", re.I)
# Folders whose code is not the service itself (a repo of only these is not a service).
_NON_SERVICE_DIRS = frozenset(
    {"test", "tests", "spec", "scripts", "script", "tools", "docs", "doc", "examples", ".github"}
)
# Images of infrastructure, not of a team's service: never a dependency target.
_INFRA = """postgres postgis mysql mariadb mongo mongodb redis valkey memcached kafka zookeeper
    redpanda rabbitmq nats pulsar elasticsearch opensearch cassandra clickhouse localstack minio
    nginx traefik envoy haproxy jaeger zipkin prometheus grafana loki tempo otel opentelemetry
    collector vault consul etcd mailhog mailpit wiremock schema-registry dynamodb azurite
    keycloak flagd db database cache broker"""
_INFRA_IMAGES = frozenset(_INFRA.split())
_DB_SCHEMES = ("postgres", "postgresql", "mysql", "mariadb", "mongodb", "sqlserver", "oracle")


@dataclass
class ServiceLayout:
    """How paths of one repo map to services (one service by default; prefixes in a monorepo).

    options: {"service": "name" | False} names the repo's service or says it is none;
    {"services": {"path/prefix/": "name"}} maps a monorepo. Without options a repo is a
    service named after itself unless it holds no service code (only compose files, infra,
    scripts or docs), e.g. a `platform` repo of docker-compose files.
    """

    repo: str
    default: str | None
    prefixes: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def build(cls, repo: str, options: dict[str, Any], paths: list[str]) -> ServiceLayout:
        """The layout for a repo given its source options and the paths at HEAD."""
        opt = options.get("service")
        mapped = options.get("services") or {}
        prefixes = sorted(
            ((p.strip("/") + "/", str(n)) for p, n in dict(mapped).items() if p.strip("/")),
            key=lambda item: -len(item[0]),
        )
        if isinstance(opt, str) and opt:
            default: str | None = opt
        elif opt is False or prefixes:
            default = None
        elif opt is True or has_service_code(paths):
            default = repo
        else:
            default = None
        return cls(repo=repo, default=default, prefixes=prefixes)

    def service_for(self, path: str) -> str | None:
        """The service owning a path, or None."""
        for prefix, name in self.prefixes:
            if path.startswith(prefix):
                return name
        return self.default

    def services(self) -> list[tuple[str, str]]:
        """(service name, path prefix) of every service in the repo."""
        found = [(name, prefix) for prefix, name in self.prefixes]
        if self.default:
            found.append((self.default, ""))
        return found

    def fingerprint(self) -> str:
        """Changes whenever any path's service would change."""
        raw = json.dumps([self.default, self.prefixes])
        return hashlib.sha1(raw.encode()).hexdigest()[:12]


def has_service_code(paths: list[str]) -> bool:
    """Whether a repo holds a deployable service (source code, Dockerfile, Backstage entry)."""
    for path in paths:
        p = PurePosixPath(path)
        name = p.name.lower()
        if name in CATALOG_NAMES or name == "dockerfile":
            return True
        # Shell scripts glue infrastructure together; they do not make a service.
        is_program = p.suffix.lower() in PROGRAM_SUFFIXES - {".sh", ".bash", ".zsh"}
        if is_program and not any(part.lower() in _NON_SERVICE_DIRS for part in p.parts[:-1]):
            return True
    return False


# --- ownership ------------------------------------------------------------------------------


def parse_codeowners(text: str, repo: str) -> list[CodeOwnerRecord]:
    """One record per (pattern, owner) of a CODEOWNERS file, with its line."""
    out: list[CodeOwnerRecord] = []
    for lineno, raw in enumerate(source_lines(text), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "[")):  # comments, GitLab [Section] headers
            continue
        pattern, *owners = line.split()
        out.extend(
            CodeOwnerRecord(repo=repo, pattern=pattern, owner=o, line=lineno) for o in owners
        )
    return out


def owners_of(rules: list[CodeOwnerRecord], prefix: str) -> list[str]:
    """Owners CODEOWNERS gives a service's root (the last matching rule wins, as on GitHub)."""
    probe = (prefix or "") + "__service_root__"
    winner: list[str] = []
    last_line: int | None = None
    for rule in rules:
        pat = rule.pattern
        matches = pat in ("*", "/*", "**") if not prefix else glob_regex(pat).match(probe)
        if matches:
            if rule.line != last_line:
                winner = []
                last_line = rule.line
            winner.append(rule.owner)
    return winner


def team_and_person(owners: list[str]) -> tuple[str | None, str | None]:
    """(team, person) from owner handles: @org/team is a team, @login or an email a person."""
    team = next((o.split("/", 1)[1] for o in owners if o.startswith("@") and "/" in o), None)
    person = next((o.lstrip("@") for o in owners if "/" not in o), None)
    return team, person


@dataclass
class CatalogEntry:
    """A Backstage Component from catalog-info.yaml."""

    name: str
    description: str | None
    owner: str | None
    depends_on: list[tuple[str, int | None]]  # (component name, line)


def parse_catalog(text: str) -> list[CatalogEntry]:
    """Components of a catalog-info.yaml (raises yaml.YAMLError on broken YAML)."""
    out: list[CatalogEntry] = []
    for doc in load_yaml(text):
        if not isinstance(doc, dict) or str(doc.get("kind", "")).lower() != "component":
            continue
        meta = doc.get("metadata") or {}
        spec = doc.get("spec") or {}
        if not isinstance(meta, dict) or not isinstance(spec, dict) or not meta.get("name"):
            continue
        deps: list[tuple[str, int | None]] = []
        raw = spec.get("dependsOn") or []
        if isinstance(raw, list):
            for i, ref in enumerate(raw):
                kind, _, target = str(ref).rpartition(":")
                if kind.lower() in ("", "component"):
                    line = raw.lines[i] if isinstance(raw, LineList) else None
                    deps.append((target.rsplit("/", 1)[-1], line))
        owner = spec.get("owner")
        out.append(
            CatalogEntry(
                name=str(meta["name"]),
                description=str(meta["description"]).strip() if meta.get("description") else None,
                owner=str(owner).split(":", 1)[-1].rsplit("/", 1)[-1] if owner else None,
                depends_on=deps,
            )
        )
    return out


def readme_summary(text: str) -> str | None:
    """The first prose paragraph of a README (no headings, badges or code)."""
    for para in re.split(r"\n\s*\n", text):
        p = para.strip()
        if not p or p.startswith(("#", "[![", "![", "```", "<", "|", "---", "===")):
            continue
        lines = [ln for ln in p.splitlines() if not re.match(r"^\s*(=+|-+)\s*$", ln)]
        summary = " ".join(ln.strip().lstrip("> ").strip() for ln in lines).strip()
        if len(summary.split()) >= 3:
            return summary[:500]
    return None


# --- docker compose -------------------------------------------------------------------------


def compose_dependencies(text: str, repo: str, path: str) -> list[DependencyRecord]:
    """depends_on, service URLs and shared databases between the services of a compose file."""
    docs = load_yaml(text)
    if not docs or not isinstance(docs[0], dict):
        return []
    root = docs[0]
    services = root.get("services") if "services" in root else root  # compose v1 has no key
    if not isinstance(services, LineDict):
        return []
    apps = {
        str(name)
        for name, spec in services.items()
        if isinstance(spec, dict) and not _is_infra(str(name), spec)
    }
    deps: list[DependencyRecord] = []
    databases: dict[tuple[str, str], list[tuple[str, str, int | None]]] = {}

    seen: set[tuple[str, str, DependencyKind, str]] = set()

    def add(src: str, dst: str, kind: DependencyKind, detail: str, line: int | None) -> None:
        # One record per edge and detail: a URL in the environment is better evidence
        # than depends_on (start-up order), so environment is read first.
        if src != dst and dst in apps and (src, dst, kind, detail) not in seen:
            seen.add((src, dst, kind, detail))
            deps.append(DependencyRecord(src, dst, kind, detail, repo, path, line))

    for name, spec in services.items():
        src = str(name)
        if src not in apps or not isinstance(spec, dict):
            continue
        for var, value, line in _environment(spec):
            url = _url(value)
            if url is None:
                continue
            scheme, host, database = url
            if scheme.split("+")[0] in _DB_SCHEMES:
                if database:
                    databases.setdefault((host, database), []).append((src, var, line))
                add(src, host, DependencyKind.SHARED_DB, f"database {database}".strip(), line)
            elif scheme in ("http", "https", "grpc", "ws", "wss"):
                add(src, host, DependencyKind.SYNC_HTTP, "", line)
        depends = spec.get("depends_on") or []
        items = list(depends) if isinstance(depends, (list, dict)) else []
        for i, dep in enumerate(items):
            at: int | None
            if isinstance(depends, LineList):
                at = depends.lines[i]
            else:
                at = line_of(depends, dep, line_of(spec, "depends_on"))
            add(src, str(dep), DependencyKind.SYNC_HTTP, "", at)
    deps.extend(_shared_databases(databases, repo, path))
    return deps


def _is_infra(name: str, spec: dict[Any, Any]) -> bool:
    """A database, broker, proxy or collector rather than a team's service.

    By name first (`orders-db`, `valkey-cart`, `otel-collector`, even when built locally),
    then by image (`postgres:15`, `bitnami/kafka`); a built service is an app.
    """
    if _tokens(name) & _INFRA_IMAGES:
        return True
    if spec.get("build"):
        return False
    image = str(spec.get("image") or "")
    base = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    return not base or bool(_tokens(base) & _INFRA_IMAGES)


def _tokens(name: str) -> set[str]:
    parts = [p for p in re.split(r"[-_.]", name.lower()) if p]
    # "schema-registry" and "kafka-ui" are single names made of two tokens.
    return set(parts) | {"-".join(parts[i : i + 2]) for i in range(len(parts) - 1)}


def _environment(spec: dict[Any, Any]) -> list[tuple[str, str, int | None]]:
    env = spec.get("environment")
    out: list[tuple[str, str, int | None]] = []
    if isinstance(env, dict):
        for key, value in env.items():
            out.append((str(key), "" if value is None else str(value), line_of(env, key)))
    elif isinstance(env, list):
        for i, item in enumerate(env):
            key, _, value = str(item).partition("=")
            line = env.lines[i] if isinstance(env, LineList) else None
            out.append((key, value, line))
    return out


def _url(value: str) -> tuple[str, str, str] | None:
    """(scheme, host, database) of a URL-looking value, else None."""
    if "://" not in value:
        return None
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname or ""
    except ValueError:
        return None
    if not host or host in ("localhost", "127.0.0.1", "0.0.0.0"):
        return None
    return parts.scheme.lower(), host.split(".", 1)[0], parts.path.strip("/").split("/", 1)[0]


def _shared_databases(
    databases: dict[tuple[str, str], list[tuple[str, str, int | None]]], repo: str, path: str
) -> list[DependencyRecord]:
    """A database used by several services belongs to the one whose own DATABASE_URL it is."""
    out: list[DependencyRecord] = []
    for (_host, database), users in databases.items():
        services = {src for src, _, _ in users}
        if len(services) < 2:
            continue
        owners = [src for src, var, _ in users if var.upper() == "DATABASE_URL"]
        stem = database.lower().rstrip("s")
        owner = next((o for o in owners if o.lower().startswith(stem)), None) or (
            owners[0] if len(set(owners)) == 1 else None
        )
        if owner is None:
            continue
        for src, _var, line in users:
            if src != owner:
                detail = f"database {database}"
                out.append(
                    DependencyRecord(src, owner, DependencyKind.SHARED_DB, detail, repo, path, line)
                )
    return out
