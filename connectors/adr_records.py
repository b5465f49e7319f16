"""ADR links and records, shared by the git connector and the ADR-folder connector.

Supersession is resolved across files: an ADR is superseded when it says so ("Superseded by
[ADR-0009](0009-x.md)") or when another ADR says it supersedes it. Each connector keeps the
"supersedes" edges in its cursor so an unchanged ADR is re-emitted only when what points at
it changed.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.adr_parser import AdrRef, ParsedAdr, number_from_name
from kb.contract.kinds import AdrStatus, DocumentKind, WisdomKind, WisdomStatus
from kb.contract.records import DocumentRecord, Failure, Record, WisdomRecord

SUMMARY_CHARS = 700


@dataclass(frozen=True)
class AdrIds:
    """External ids of what one ADR file yields."""

    adr: str
    rationale: str
    doc: str  # used instead of `adr` when the file is a malformed ADR indexed as plain text


class AdrLinks:
    """Resolves ADR references to paths: by link target, else by number in the same folder."""

    def __init__(self, paths: Iterable[str], parsed: dict[str, ParsedAdr] | None = None) -> None:
        self.paths = set(paths)
        self.by_number: dict[tuple[str, int], str] = {}
        for path in sorted(self.paths):
            n = number_from_name(path)
            if n is not None:
                self.by_number.setdefault((posixpath.dirname(path), n), path)
        for path, adr in (parsed or {}).items():
            if adr.number is not None:
                self.by_number.setdefault((posixpath.dirname(path), adr.number), path)

    def resolve(self, ref: AdrRef, from_path: str) -> str | None:
        """The path of the ADR a reference points at, or None when it is not in this source."""
        folder = posixpath.dirname(from_path)
        if ref.target and not re.match(r"^[a-z][a-z0-9+.-]*://", ref.target, re.I):
            target = ref.target.split("#", 1)[0]
            if target:
                path = posixpath.normpath(posixpath.join(folder, target)).lstrip("/")
                if path in self.paths:
                    return path
        if ref.number is not None:
            found = self.by_number.get((folder, ref.number))
            if found != from_path:
                return found
        return None

    def edges(self, parsed: dict[str, ParsedAdr]) -> dict[str, list[str]]:
        """path → the paths it supersedes (only files that supersede something)."""
        out: dict[str, list[str]] = {}
        for path, adr in parsed.items():
            targets = sorted({t for r in adr.supersedes if (t := self.resolve(r, path))} - {path})
            if targets:
                out[path] = targets
        return out


def superseders(edges: dict[str, list[str]]) -> dict[str, set[str]]:
    """target path → the paths that say they supersede it."""
    out: dict[str, set[str]] = {}
    for src, targets in edges.items():
        for target in targets:
            out.setdefault(target, set()).add(src)
    return out


def relinked(old: dict[str, list[str]], new: dict[str, list[str]]) -> set[str]:
    """ADR paths whose inferred superseders differ between two edge maps."""
    before, after = superseders(old), superseders(new)
    return {p for p in set(before) | set(after) if before.get(p) != after.get(p)}


def adr_records(
    *,
    path: str,
    text: str,
    adr: ParsedAdr,
    ids: AdrIds,
    ids_of: Callable[[str], AdrIds],
    links: AdrLinks,
    inferred_superseders: set[str],
    where: str,
    common: dict[str, Any],
) -> list[Record]:
    """The ADR document, its design-rationale entry and failures for what did not parse.

    `common` holds DocumentRecord fields shared by every record of the source (repo, path,
    commit_sha, service, url); `where` prefixes failure locations ("repo:path").
    """
    out: list[Record] = [Failure(f"{where}:{line}", msg) for line, msg in adr.problems]
    if adr.malformed:
        out.append(
            DocumentRecord(
                external_id=ids.doc,
                kind=DocumentKind.DOC,
                title=adr.title or path,
                body=text,
                meta={"adr_malformed": True},
                **common,
            )
        )
        return out
    supersedes = sorted({t for r in adr.supersedes if (t := links.resolve(r, path))} - {path})
    successors = sorted(
        ({t for r in adr.superseded_by if (t := links.resolve(r, path))} | inferred_superseders)
        - {path}
    )
    unresolved = [r.text for r in adr.supersedes + adr.superseded_by if not links.resolve(r, path)]
    status = adr.status or AdrStatus.UNKNOWN
    if successors and status is not AdrStatus.REJECTED:
        status = AdrStatus.SUPERSEDED
    title = f"ADR-{adr.number:04d}: {adr.title}" if adr.number is not None else adr.title
    created = (
        datetime(adr.date.year, adr.date.month, adr.date.day, tzinfo=UTC) if adr.date else None
    )
    meta: dict[str, Any] = {
        "number": adr.number,
        "date": adr.date.isoformat() if adr.date else None,
        "supersedes": [ids_of(p).adr for p in supersedes],
        "superseded_by": [ids_of(p).adr for p in successors],
        "supersedes_paths": supersedes,
        "superseded_by_paths": successors,
        "deciders": adr.deciders,
        "style": adr.style,
        "declared_status": adr.status.value if adr.status else None,
        "status_raw": adr.status_raw,
    }
    if unresolved:
        meta["unresolved_links"] = unresolved
    out.append(
        DocumentRecord(
            external_id=ids.adr,
            kind=DocumentKind.ADR,
            title=title,
            body=text,
            status=status,
            created_at=created,
            meta=meta,
            **common,
        )
    )
    out.append(
        WisdomRecord(
            external_id=ids.rationale,
            kind=WisdomKind.DESIGN_RATIONALE,
            title=title,
            body=rationale_summary(adr),
            service=common.get("service"),
            repo=common.get("repo"),
            path_glob=common.get("path"),
            status=WisdomStatus.SUPERSEDED
            if status is AdrStatus.SUPERSEDED
            else WisdomStatus.ACTIVE,
            document_external_id=ids.adr,
            created_at=created,
            superseded_by_external_id=ids_of(successors[0]).rationale if successors else None,
            meta={"adr_status": status.value, "deciders": adr.deciders},
        )
    )
    return out


def rationale_summary(adr: ParsedAdr) -> str:
    """Context, decision and consequences, each cut at a sentence near SUMMARY_CHARS."""
    parts = []
    for label, body in (
        ("Context", adr.context),
        ("Decision", adr.decision),
        ("Consequences", adr.consequences),
    ):
        if body.strip():
            parts.append(f"{label}: {_cut(body)}")
    return "\n\n".join(parts) or adr.title


def _cut(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return (cut[: end + 1] if end > SUMMARY_CHARS // 2 else cut.rstrip()) + " …"
