"""The service map of one repository: its services (with their other spellings), libraries
and infrastructure, and the evidenced edges between them, as records.

`discover` finds the components from deployment and build files; `facts` reads what each
service's files say; `edges` turns both into edges. Files the map could not read are
reported with file:line and skipped; the map is built from the rest.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from pathlib import PurePosixPath

from connectors.git.code import PROGRAM_SUFFIXES, comment_syntax
from connectors.git.references import code_lines
from connectors.git.servicemap.discover import Component, Layout, TextOf, discover
from connectors.git.servicemap.edges import EdgeFinder, ServiceFacts
from connectors.git.servicemap.facts import FileFacts, file_facts
from connectors.git.servicemap.vocab import NOT_SERVICE_CODE_DIRS, is_generated
from kb.contract.kinds import ComponentKind, EventRole
from kb.contract.records import (
    DependencyRecord,
    EventTopicRecord,
    Failure,
    InfrastructureRecord,
    Record,
    ServiceMapSet,
    ServiceRecord,
)

__all__ = ["Layout", "discover", "map_records"]

# Besides code: configuration a service's own folder holds (Spring's application.yml,
# nginx templates) names what it calls.
_CONFIG_SUFFIXES = frozenset({".yml", ".yaml", ".properties", ".template", ".conf", ".toml"})
_REF = re.compile(r"[\"'=]\s*(\.\.?[/\\][^\"'\s>;,]+)")


def is_map_source(path: str) -> bool:
    """Whether the map reads this file's code (so the scan keeps its text)."""
    suffix = PurePosixPath(path).suffix.lower()
    return suffix in PROGRAM_SUFFIXES or suffix in _CONFIG_SUFFIXES


def map_records(repo: str, layout: Layout, paths: list[str], text_of: TextOf) -> list[Record]:
    """The records of a repository's map (after `ServiceMapSet`, which drops the last one)."""
    out: list[Record] = [ServiceMapSet(repo)]
    for u in layout.unread:
        where = f"{repo}:{u.path}:{u.line}" if u.line else f"{repo}:{u.path}"
        out.append(Failure(where, f"{u.why}; skipped"))
    for c in layout.components:
        if c.kind is ComponentKind.LIBRARY:
            out.append(ServiceRecord(c.name, repo, c.path + "/", aliases=tuple(c.aliases),
                                     kind=ComponentKind.LIBRARY))  # fmt: skip
    for i in layout.infra:
        out.append(InfrastructureRecord(i.name, i.kind, repo, i.path, i.line))
    owned: dict[int, list[str]] = {}
    for path in paths:
        owner = layout.owner_of(path)
        if owner is not None:
            owned.setdefault(id(owner), []).append(path)
    services = [_service_facts(c, owned.get(id(c), []) + c.copied, text_of)
                for c in layout.components if c.kind is ComponentKind.SERVICE]  # fmt: skip
    for e in EdgeFinder(repo, layout, services).find():
        first = e.evidence[0] if e.evidence else None
        out.append(
            DependencyRecord(
                e.src, e.dst, e.kind, e.via,
                first.repo if first else None, first.path if first else None,
                first.line if first else None, more_evidence=tuple(e.evidence[1:]),
            )
        )  # fmt: skip
    for sf in services:
        seen: set[tuple[str, EventRole]] = set()
        for f, role, topic, line in _topic_uses(sf):
            if (topic, role) not in seen:
                seen.add((topic, role))
                out.append(EventTopicRecord(sf.component.name, topic, role, repo, f.path, line))
    return out


def _topic_uses(sf: ServiceFacts) -> list[tuple[FileFacts, EventRole, str, int]]:
    """(file, role, topic, line) of a service: topics named in code, and topics a setting
    names (its default in code, else the value the service is given)."""
    out: list[tuple[FileFacts, EventRole, str, int]] = []
    given = {b.var: b.value for b in sf.bindings if b.value}
    for f in sf.files:
        for role, uses in ((EventRole.PUBLISH, f.publishes), (EventRole.SUBSCRIBE, f.consumes)):
            out.extend((f, role, use.name, use.line) for use in uses)
        for read in f.topic_reads:
            topic = given.get(read.var) or read.default
            if topic and re.fullmatch(r"[\w.:/-]{1,200}", topic):
                out.extend((f, role, topic, read.line) for role in sorted(f.roles))
    return out


def _service_facts(c: Component, paths: list[str], text_of: TextOf) -> ServiceFacts:
    """What the files of one service (`paths`, those it owns) say."""
    files: list[FileFacts] = []
    refs: list[tuple[str, str, int]] = []
    prefix = c.path + "/" if c.path else ""
    for path in paths:
        inside = path[len(prefix) :] if path.startswith(prefix) else path
        parts = {p.lower() for p in PurePosixPath(inside).parts[:-1]}
        if parts & NOT_SERVICE_CODE_DIRS or not is_map_source(path):
            if path in c.build_files:
                refs.extend(_refs(path, text_of(path) or ""))
            continue
        text = text_of(path)
        if text is None or is_generated(path, text):
            continue
        if path in c.build_files or PurePosixPath(path).name.lower() in ("pyproject.toml",):
            refs.extend(_refs(path, text))
        syntax = comment_syntax(path)
        python = path.endswith((".py", ".pyi"))
        lines = code_lines(text, syntax, python=python) if syntax else text.split("\n")
        files.append(file_facts(path, lines, python=python))
    bindings = [b for d in c.deployables for b in d.env]
    return ServiceFacts(c, files, bindings, refs + c.refs)


def _refs(path: str, text: str) -> list[tuple[str, str, int]]:
    """Relative folder references of a build file: (folder, path, line)."""
    here = posixpath.dirname(path)
    out: list[tuple[str, str, int]] = []
    for no, line in enumerate(text.split("\n"), start=1):
        for m in _REF.finditer(line):
            target = posixpath.normpath(posixpath.join(here, m.group(1).replace("\\", "/")))
            out.append((target, path, no))
            if "." in PurePosixPath(target).name:  # ../Lib/Lib.csproj: the project's folder
                out.append((posixpath.dirname(target), path, no))
    return out


TextFn = Callable[[str], "str | None"]
