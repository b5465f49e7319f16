"""A repository's content at HEAD: docs, ADRs, code wisdom, ownership, services, contracts.

Incremental by blob sha: only new or changed files are read. Every record derived from a
file has an id under `git:{repo}:file:{path}#`, and each changed or deleted file is closed
by a `DocumentSet` over that prefix so what the file no longer says is deleted. A change of
options, service layout, .gitattributes or loader version re-reads everything (closed by
one repo-wide `DocumentSet`); a first run has nothing to delete and yields no set.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from connectors.adr_parser import ParsedAdr, is_adr, is_adr_candidate_name, parse_adr
from connectors.adr_records import AdrIds, AdrLinks, adr_records, relinked, superseders
from connectors.git.code import (
    PROGRAM_SUFFIXES,
    Comment,
    comment_blocks,
    comment_chunks,
    comment_syntax,
    danger_comments,
    find_comments,
    header_prose,
)
from connectors.git.contracts import contract_kind, contract_records
from connectors.git.docs import doc_title, is_doc, is_markdown
from connectors.git.files import (
    SUBMODULE_MODE,
    SYMLINK_MODE,
    AttributeRule,
    BlobReader,
    TreeEntry,
    decode_text,
    list_tree,
    parse_gitattributes,
    skip_reason_by_content,
    skip_reason_by_path,
)
from connectors.git.postmortem import is_postmortem, postmortem_records
from connectors.git.references import code_lines, service_calls, topic_uses
from connectors.git.servicemap import is_map_source, map_records
from connectors.git.servicemap.discover import Component, Layout, discover
from connectors.git.services import (
    CATALOG_NAMES,
    CODEOWNERS_PATHS,
    COMPOSE_NAME,
    ServiceLayout,
    compose_dependencies,
    owners_of,
    parse_catalog,
    parse_codeowners,
    readme_summary,
    team_and_person,
)
from connectors.yaml_lines import load_yaml, yaml_error_line
from kb.contract.chunking import chunk_markdown
from kb.contract.kinds import ComponentKind, DependencyKind, DocumentKind, WisdomKind
from kb.contract.records import (
    Checkpoint,
    ChunkText,
    DependencyRecord,
    DocumentRecord,
    DocumentSet,
    EventTopicRecord,
    Failure,
    Record,
    ServiceRecord,
    Skipped,
    WisdomRecord,
)
from kb.errors import SourceError

# Bump when extraction changes so the next run re-reads every file once.
LOADER_VERSION = 2
CURSOR_KEYS = ("content_head", "content_settings", "files", "content_fingerprint", "adr_supersedes")
# Paths whose code is not evidence of what the service calls (fixtures, mocks, CI).
_NO_REFERENCE_DIRS = frozenset(
    {"test", "tests", "spec", "__tests__", "testdata", ".github", "docs"}
)


def _settings_key(max_file_bytes: int, options: dict[str, Any], map_extraction: bool) -> str:
    """What, besides the files, decides the records: loader version, size limit, services."""
    raw = json.dumps(
        [LOADER_VERSION, max_file_bytes, options.get("service"), options.get("services")]
        + ([] if map_extraction else ["no-map"]),
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def load_content(
    repo_path: Path,
    repo: str,
    head: str,
    previous: dict[str, Any] | None,
    max_file_bytes: int,
    options: dict[str, Any],
    map_extraction: bool = True,
) -> Iterator[Record]:
    """Yield the records of files new or changed since `previous`, then a Checkpoint.

    With `map_extraction`, a repository holding several services (found from its compose,
    Kubernetes, Helm, Backstage and build files) gets its service map (connectors.git.
    servicemap) instead of the per-file dependency hints.
    """
    settings = _settings_key(max_file_bytes, options, map_extraction)
    if previous and (previous.get("content_head"), previous.get("content_settings")) == (
        head,
        settings,
    ):
        yield Checkpoint({k: previous[k] for k in CURSOR_KEYS if k in previous})
        return
    with BlobReader(repo_path) as reader:
        scan = _ContentScan(
            repo_path, repo, head, previous, max_file_bytes, options, reader, map_extraction
        )
        yield from scan.run()


class _ContentScan:
    """One pass over the files of HEAD that need reading."""

    def __init__(
        self,
        repo_path: Path,
        repo: str,
        head: str,
        previous: dict[str, Any] | None,
        max_file_bytes: int,
        options: dict[str, Any],
        reader: BlobReader,
        map_extraction: bool = True,
    ) -> None:
        self.repo, self.head, self.reader = repo, head, reader
        self.max_file_bytes = max_file_bytes
        self.entries = {e.path: e for e in list_tree(repo_path, head)}
        attributes = self.entries.get(".gitattributes")
        self.rules: list[AttributeRule] = []
        if attributes:
            self.rules = parse_gitattributes(self._text(attributes) or "")
        self.layout = ServiceLayout.build(repo, options, sorted(self.entries))
        self.map: Layout | None = None
        self.texts: dict[str, str] = {}  # what the map reads, kept from the file pass
        self.failed: set[str] = set()
        if map_extraction and not options.get("service"):
            self.map = self._discover(options)
        # Options reach content only through the service layout (batch sizes and the like
        # must not force a re-read).
        self.settings = _settings_key(max_file_bytes, options, map_extraction)
        raw = json.dumps(
            [self.settings, self.layout.fingerprint(), attributes.sha if attributes else None]
        )
        self.fingerprint = hashlib.sha1(raw.encode()).hexdigest()[:16]
        self.first_run = previous is None
        prev = previous or {}
        self.full = self.first_run or prev.get("content_fingerprint") != self.fingerprint
        self.prev_files: dict[str, str] = {} if self.full else dict(prev.get("files") or {})
        self.prev_edges: dict[str, list[str]] = (
            {} if self.full else dict(prev.get("adr_supersedes") or {})
        )
        self.skipped: dict[str, list[str]] = {}
        self.unread: set[str] = set()
        self.ids_by_file: dict[str, set[str]] = {}
        self.stored_files = set((previous or {}).get("files") or {})
        self.adrs: dict[str, tuple[str, ParsedAdr]] = {}
        self.edges: dict[str, list[str]] = {}  # ADR path → paths it supersedes, for the cursor

    def _discover(self, options: dict[str, Any]) -> Layout | None:
        """The repo's service map layout when it holds several services, else None.

        `services` options (PREFIX=NAME) win: a component in that folder takes that name.
        """
        layout = discover(sorted(self.entries), self._map_text)
        services = [c for c in layout.components if c.kind is ComponentKind.SERVICE]
        given = dict(self.layout.prefixes)
        for c in layout.components:
            name = given.get(c.path + "/")
            if name and name != c.name:
                c.spell(c.name)
                c.name = name
                c.aliases = [a for a in c.aliases if a != name]
        if len(services) < 2 and not given:
            return None
        if not given:
            prefixes = sorted(((c.path + "/", c.name) for c in services if c.path),
                              key=lambda item: -len(item[0]))  # fmt: skip
            self.layout = ServiceLayout(self.repo, None, prefixes)
        return layout

    def _map_text(self, path: str) -> str | None:
        if path in self.texts:
            return self.texts[path]
        entry = self.entries.get(path)
        return self._text(entry) if entry is not None else None

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> Iterator[Record]:
        """Services first, then each changed file, then ADRs, deletions and the checkpoint."""
        changed = sorted(p for p, e in self.entries.items() if self.prev_files.get(p) != e.sha)
        deleted = sorted(p for p in self.prev_files if p not in self.entries)
        yield from self._services(set(changed) | set(deleted))
        for path in changed:
            yield from self._file(self.entries[path])
        yield from self._adr_pass(changed, deleted)
        if not self.full:
            for path in deleted:
                yield DocumentSet(self._prefix(path), frozenset())
        if self.map is not None:
            self.map.unread = [u for u in self.map.unread if u.path not in self.failed]
            yield from map_records(self.repo, self.map, sorted(self.entries), self._map_text)
            self.texts.clear()
        for reason, paths in sorted(self.skipped.items()):
            more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
            yield Skipped(reason, len(paths), f"{self.repo}: {', '.join(paths[:3])}{more}")
        if self.first_run:
            pass  # nothing of this repo's content is stored yet: nothing to delete
        elif self.full and not self.unread:
            all_ids = frozenset(i for ids in self.ids_by_file.values() for i in ids)
            yield DocumentSet(f"git:{self.repo}:file:", all_ids)
        elif self.full:
            # A repo-wide set would drop what an unreadable file had stored: close file by file.
            for path, ids in sorted(self.ids_by_file.items()):
                yield DocumentSet(self._prefix(path), frozenset(ids))
            for path in sorted(self.stored_files - set(self.entries)):
                yield DocumentSet(self._prefix(path), frozenset())
        yield Checkpoint(
            {
                "content_head": self.head,
                "content_settings": self.settings,
                "files": {p: e.sha for p, e in self.entries.items() if p not in self.unread},
                "content_fingerprint": self.fingerprint,
                "adr_supersedes": self.edges,
            }
        )

    def _prefix(self, path: str) -> str:
        return f"git:{self.repo}:file:{path}#"

    def _close(self, path: str, records: list[Record], *, closes: bool = True) -> Iterator[Record]:
        """Yield a file's records and the DocumentSet that makes them its complete set.

        `closes=False` for files that can never have had records (vendored, lock files, ...:
        the reason depends on the path only), sparing the pipeline a delete per file.
        """
        prefix = self._prefix(path)
        ids = {
            r.external_id
            for r in records
            if isinstance(r, (DocumentRecord, WisdomRecord)) and r.external_id.startswith(prefix)
        }
        self.ids_by_file[path] = ids
        yield from records
        if not self.full and (closes or ids):
            yield DocumentSet(prefix, frozenset(ids))

    def _text(self, entry: TreeEntry) -> str | None:
        """A file's text if it is readable and not skipped, else None (nothing reported)."""
        if entry.mode in (SYMLINK_MODE, SUBMODULE_MODE):
            return None
        if skip_reason_by_path(entry.path, entry.size, self.max_file_bytes, self.rules):
            return None
        try:
            data = self.reader.read(entry.sha)
        except SourceError:
            return None  # reported when the file itself is read
        if skip_reason_by_content(data):
            return None
        return decode_text(data)[0]

    def _file(self, entry: TreeEntry) -> Iterator[Record]:
        path = entry.path
        where = f"{self.repo}:{path}"
        if entry.mode == SYMLINK_MODE or entry.mode == SUBMODULE_MODE:
            kind = "symlink" if entry.mode == SYMLINK_MODE else "submodule"
            yield Skipped(kind, 1, where)
            yield from self._close(path, [])
            return
        reason = skip_reason_by_path(path, entry.size, self.max_file_bytes, self.rules)
        if reason:
            self.skipped.setdefault(reason, []).append(path)
            # Only size changes with content; the other reasons held for every version.
            yield from self._close(path, [], closes=reason == "too large")
            return
        try:
            data = self.reader.read(entry.sha)
        except SourceError as exc:
            self.unread.add(path)  # left out of the cursor, so the next run retries it
            yield Failure(where, str(exc))
            return
        reason = skip_reason_by_content(data)
        if reason:
            self.skipped.setdefault(reason, []).append(path)
            yield from self._close(path, [])
            return
        text, why = decode_text(data)
        if text is None:
            yield Failure(where, why or "not UTF-8 text; skipped")
            yield from self._close(path, [])
            return
        if self.map is not None and is_map_source(path):
            self.texts[path] = text
        if is_adr_candidate_name(path):
            adr = parse_adr(text, path)
            if is_adr(path, adr):
                self.adrs[path] = (text, adr)
                return  # emitted by the ADR pass, once every ADR's links are known
        try:
            records = self._records(path, text)
        except yaml.YAMLError as exc:
            line = yaml_error_line(exc, text)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            records = [Failure(f"{where}:{line}" if line else where, f"invalid YAML: {problem}")]
            self.failed.add(path)
        except Exception as exc:  # one odd file must not stop the repo
            records = [Failure(where, f"could not parse: {type(exc).__name__}: {exc}")]
            self.failed.add(path)
        yield from self._close(path, records)

    # -- per-file extraction ---------------------------------------------------------------

    def _records(self, path: str, text: str) -> list[Record]:
        p = PurePosixPath(path)
        name = p.name.lower()
        service = self.layout.service_for(path)
        common: dict[str, Any] = {
            "repo": self.repo,
            "path": path,
            "commit_sha": self.head,
            "service": service,
        }
        out: list[Record] = []
        structured = False
        if path in CODEOWNERS_PATHS:
            out.extend(parse_codeowners(text, self.repo))
            return out
        mapped = self.map is not None  # the map gives the edges instead of per-file hints
        if name in CATALOG_NAMES:
            structured = True
            for entry in [] if mapped else parse_catalog(text):
                src = service or entry.name
                for target, line in entry.depends_on:
                    if target != src:
                        out.append(
                            DependencyRecord(src, target, DependencyKind.SYNC_HTTP, "",
                                             self.repo, path, line)
                        )  # fmt: skip
        kind = contract_kind(path, text)
        if kind:
            structured = True
            out.extend(contract_records(kind, path, text, self._prefix(path), common))
        elif COMPOSE_NAME.match(p.name):
            structured = True
            if not mapped:
                out.extend(compose_dependencies(text, self.repo, path))
            else:
                load_yaml(text)  # broken YAML is still reported, with its line
        if is_doc(path):
            out.extend(self._doc(path, text, common))
            return out
        syntax = comment_syntax(path)
        if syntax is None:
            return out
        comments = find_comments(text, syntax)  # one scan, three readers
        for d in danger_comments(text, syntax, comments):
            out.append(
                WisdomRecord(
                    external_id=f"{self._prefix(path)}danger:{d.key}",
                    kind=WisdomKind.DANGER_ZONE,
                    title=d.title,
                    body=d.body,
                    service=service,
                    repo=self.repo,
                    path_glob=path,
                    line=d.line,
                    severity=d.severity,
                )
            )
        if p.suffix.lower() in PROGRAM_SUFFIXES:
            code_doc = self._code_document(path, text, comments, common)
            if code_doc is not None:
                out.append(code_doc)
        dirs = {part.lower() for part in p.parts[:-1]}
        if service and not structured and not mapped and not dirs & _NO_REFERENCE_DIRS:
            python = p.suffix.lower() in (".py", ".pyi")
            lines = code_lines(text, syntax, python=python, comments=comments)
            for call in service_calls(lines):
                if call.target != service:
                    out.append(
                        DependencyRecord(service, call.target, DependencyKind.SYNC_HTTP,
                                         call.detail, self.repo, path, call.line)
                    )  # fmt: skip
            for use in topic_uses(lines):
                out.append(
                    EventTopicRecord(service, use.topic, use.role, self.repo, path, use.line)
                )
        return out

    def _code_document(
        self, path: str, text: str, comments: list[Comment], common: dict[str, Any]
    ) -> DocumentRecord | None:
        """A program file as a document: its header prose, then the comments that explain."""
        header = header_prose(text, path, comments)
        chunks: list[ChunkText] = []
        parts: list[str] = []
        first = 0
        if header:
            prose, first = header
            parts.append(prose)
            chunks = [
                replace(c, heading=path, start_line=(c.start_line or 1) + first - 1,
                        end_line=(c.end_line or 1) + first - 1)
                for c in chunk_markdown(prose)
            ]  # fmt: skip
        header_end = max((c.end_line or 0 for c in chunks), default=0)
        blocks = comment_blocks(text, path, comments, skip_before=header_end)
        chunks += comment_chunks(path, blocks)
        parts += [b.text for b in blocks]
        if not chunks:
            return None
        return DocumentRecord(
            external_id=f"{self._prefix(path)}code",
            kind=DocumentKind.CODE,
            title=path,
            body="\n\n".join(parts),
            chunks=chunks,
            meta={"line": first or (blocks[0].line if blocks else 1)},
            **common,
        )

    def _doc(self, path: str, text: str, common: dict[str, Any]) -> list[Record]:
        if not text.strip():
            return []
        title = doc_title(text, path)
        prefix = self._prefix(path)
        if is_markdown(path) and is_postmortem(path, title, text):
            return postmortem_records(path, text, title, prefix, common)
        return [
            DocumentRecord(
                external_id=f"{prefix}doc", kind=DocumentKind.DOC, title=title, body=text, **common
            )
        ]

    # -- services and ADRs -----------------------------------------------------------------

    def _services(self, touched: set[str]) -> Iterator[Record]:
        """ServiceRecords, when first seen or when a README/CODEOWNERS/catalog they use changed."""
        services = self.layout.services()
        if not services:
            return
        if self.map is not None:  # in the order the system lists them (compose first)
            order = {c.path + "/": i for i, c in enumerate(self.map.components)}
            services.sort(key=lambda s: order.get(s[1], len(order)))
        context: dict[str, list[str]] = {}
        for name, prefix in services:
            folder = prefix.rstrip("/")
            context[name] = sorted(
                path
                for path in self.entries
                if posixpath.dirname(path) == folder
                and (PurePosixPath(path).name.lower().startswith("readme")
                     or PurePosixPath(path).name.lower() in CATALOG_NAMES)
            )  # fmt: skip
        owners_file = next((p for p in CODEOWNERS_PATHS if p in self.entries), None)
        used = {p for paths in context.values() for p in paths} | set(CODEOWNERS_PATHS)
        if not self.full and not used & touched:
            return
        rules = []
        if owners_file:
            rules = parse_codeowners(self._text(self.entries[owners_file]) or "", self.repo)
        for name, prefix in services:
            description = catalog_description = team = person = None
            for path in context[name]:
                text = self._text(self.entries[path]) or ""
                if PurePosixPath(path).name.lower() in CATALOG_NAMES:
                    try:
                        entries = parse_catalog(text)
                    except Exception:
                        entries = []  # reported when the file itself is read
                    entry = next((e for e in entries if e.name == name), None) or next(
                        iter(entries), None
                    )
                    if entry:
                        catalog_description, team = entry.description, entry.owner
                elif description is None:
                    description = readme_summary(text)
            owner_team, person = team_and_person(owners_of(rules, prefix))
            found = self._component(prefix)
            if found is not None and found.owner:
                team = team or found.owner
            yield ServiceRecord(
                name=name,
                repo=self.repo,
                path_prefix=prefix,
                owner_team=team or owner_team,
                owner=person,
                description=description or catalog_description,
                aliases=tuple(found.aliases) if found is not None else None,
            )

    def _component(self, prefix: str) -> Component | None:
        if self.map is None:
            return None
        return next((c for c in self.map.components if c.path + "/" == prefix), None)

    def _adr_pass(self, changed: list[str], deleted: list[str]) -> Iterator[Record]:
        """Emit ADRs with supersession resolved across files (re-emitting relinked ones)."""
        links = AdrLinks(self.entries, {p: a for p, (_, a) in self.adrs.items()})
        gone = set(changed) | set(deleted)
        edges = {p: t for p, t in self.prev_edges.items() if p not in gone}
        edges.update(links.edges({p: a for p, (_, a) in self.adrs.items()}))
        for path in sorted(relinked(self.prev_edges, edges) - set(self.adrs) - set(changed)):
            entry = self.entries.get(path)
            text = self._text(entry) if entry else None
            if text is not None and is_adr_candidate_name(path):
                adr = parse_adr(text, path)
                if is_adr(path, adr):
                    self.adrs[path] = (text, adr)
        edges.update(links.edges({p: a for p, (_, a) in self.adrs.items()}))
        self.edges = edges
        inferred = superseders(edges)
        for path, (text, adr) in sorted(self.adrs.items()):
            common = {
                "repo": self.repo,
                "path": path,
                "commit_sha": self.head,
                "service": self.layout.service_for(path),
            }
            where = f"{self.repo}:{path}"
            try:
                records = adr_records(
                    path=path,
                    text=text,
                    adr=adr,
                    ids=self._adr_ids(path),
                    ids_of=self._adr_ids,
                    links=links,
                    inferred_superseders=inferred.get(path, set()),
                    where=where,
                    common=common,
                )
            except Exception as exc:  # a bug on one ADR must not lose the others
                records = [Failure(where, f"could not build ADR records: {exc!r}")]
            yield from self._close(path, records)

    def _adr_ids(self, path: str) -> AdrIds:
        prefix = self._prefix(path)
        return AdrIds(adr=f"{prefix}adr", rationale=f"{prefix}rationale", doc=f"{prefix}doc")
