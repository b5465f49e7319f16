"""The ADR-folder connector: a directory of decision records that lives outside any repo."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from connectors.adr_parser import MARKDOWN_SUFFIXES, ParsedAdr, is_adr, parse_adr
from connectors.adr_records import AdrIds, AdrLinks, adr_records, relinked, superseders
from kb.contract.connector import SourceConfig
from kb.contract.kinds import DocumentKind
from kb.contract.records import (
    Checkpoint,
    DocumentRecord,
    DocumentSet,
    Failure,
    Record,
    Skipped,
    WisdomRecord,
)
from kb.errors import SourceError
from kb.settings import Settings

_IGNORED_DIRS = frozenset({".git", "node_modules", ".venv", "__pycache__"})


class AdrConnector:
    """Ingests every markdown file of a folder as an ADR (or a plain doc when it is not one).

    Cursor: {"files": {relpath: sha256 of the content}, "adr_supersedes": {relpath: [paths
    it supersedes]}}. Only changed files are re-emitted, plus the ADRs whose superseded-by
    status changed because of them; deleted files get an empty `DocumentSet`.
    """

    kind: ClassVar[str] = "adr"

    def __init__(self, source: SourceConfig, settings: Settings) -> None:
        self.source = source
        self.settings = settings
        self.root = Path(source.location).expanduser()

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        """Yield records of ADRs new or changed since `cursor`, then a Checkpoint."""
        if not self.root.is_dir():
            raise SourceError(
                f"{self.root}: no such directory; `kb ingest adr DIR` needs a folder of ADR "
                "markdown files"
            )
        prev_files: dict[str, str] = dict(cursor.get("files") or {})
        prev_edges: dict[str, list[str]] = dict(cursor.get("adr_supersedes") or {})
        hashes: dict[str, str] = {}
        texts: dict[str, str] = {}
        for path in self._markdown_files():
            rel = path.relative_to(self.root).as_posix()
            try:
                data = path.read_bytes()
            except OSError as exc:
                yield Failure(str(path), f"cannot read: {exc.strerror or exc}; skipped")
                if rel in prev_files:  # keep what was stored until the file is readable again
                    hashes[rel] = prev_files[rel]
                continue
            hashes[rel] = hashlib.sha256(data).hexdigest()
            if len(data) > self.settings.max_file_bytes:
                if prev_files.get(rel) != hashes[rel]:
                    yield Skipped("too large", 1, str(path))
                continue
            try:
                texts[rel] = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                if prev_files.get(rel) != hashes[rel]:
                    yield Failure(
                        str(path),
                        f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset "
                        f"{exc.start}); skipped",
                    )
        # Every file is read to hash it anyway, so all are parsed: supersession is decided
        # across the folder. Only changed files, and those whose status that changes, emit.
        parsed = {p: parse_adr(t, p) for p, t in texts.items()}
        adrs = {p: a for p, a in parsed.items() if is_adr(p, a, in_adr_folder=True)}
        links = AdrLinks(hashes, adrs)
        edges = links.edges(adrs)
        inferred = superseders(edges)
        changed = {p for p, h in hashes.items() if prev_files.get(p) != h}
        emit = changed | (relinked(prev_edges, edges) & set(hashes))
        for rel in sorted(emit):
            if rel in parsed:
                yield from self._records(rel, texts[rel], parsed[rel], adrs, links, inferred)
            else:  # changed into something unreadable: what it said is gone
                yield DocumentSet(self._prefix(rel), frozenset())
        for rel in sorted(p for p in prev_files if p not in hashes):
            yield DocumentSet(self._prefix(rel), frozenset())
        yield Checkpoint({"files": hashes, "adr_supersedes": edges})

    def _markdown_files(self) -> list[Path]:
        return sorted(
            p
            for p in self.root.rglob("*")
            if p.is_file()
            and p.suffix.lower() in MARKDOWN_SUFFIXES
            and not any(part in _IGNORED_DIRS for part in p.relative_to(self.root).parts)
        )

    def _prefix(self, rel: str) -> str:
        return f"adr:{self.source.name}:file:{rel}#"

    def _ids(self, rel: str) -> AdrIds:
        prefix = self._prefix(rel)
        return AdrIds(adr=f"{prefix}adr", rationale=f"{prefix}rationale", doc=f"{prefix}doc")

    def _records(
        self,
        rel: str,
        text: str,
        adr: ParsedAdr,
        adrs: dict[str, ParsedAdr],
        links: AdrLinks,
        inferred: dict[str, set[str]],
    ) -> Iterator[Record]:
        common: dict[str, Any] = {
            "path": rel,
            "service": self.source.options.get("service") or None,
        }
        ids = self._ids(rel)
        records: list[Record]
        if rel in adrs:
            records = adr_records(
                path=rel,
                text=text,
                adr=adr,
                ids=ids,
                ids_of=self._ids,
                links=links,
                inferred_superseders=inferred.get(rel, set()),
                where=str(self.root / rel),
                common=common,
            )
        elif text.strip():
            title = adr.title or rel  # the first heading, as for an ADR
            records = [DocumentRecord(ids.doc, DocumentKind.DOC, title, text, **common)]
        else:
            records = []
        yield from records
        kept = {r.external_id for r in records if isinstance(r, (DocumentRecord, WisdomRecord))}
        yield DocumentSet(self._prefix(rel), frozenset(kept))
