"""The ADR parser (Nygard, MADR 2/3/4) and the ADR-folder connector."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.adr import AdrConnector
from connectors.adr_parser import is_adr, parse_adr
from kb.contract.connector import SourceConfig
from kb.contract.records import (
    Checkpoint,
    DocumentRecord,
    DocumentSet,
    Failure,
    Record,
    Skipped,
    WisdomRecord,
)
from kb.settings import Settings
from kb.store.models import AdrStatus, DocumentKind, WisdomKind, WisdomStatus

R = TypeVar("R")

NYGARD_OLD = """# 1. Use PostgreSQL for orders

Date: 2023-01-10

## Status

Superseded by [2. Use CockroachDB](0002-use-cockroachdb.md)

## Context

We need a relational store.

## Decision

Use PostgreSQL 15.

## Consequences

One primary; failover is manual.
"""

NYGARD_NEW = """# 2. Use CockroachDB

Date: 2024-02-01

## Status

Accepted

Supersedes [1. Use PostgreSQL for orders](0001-use-postgresql.md)

## Context

Manual failover hurt us twice.

## Decision

Move orders to CockroachDB.

## Consequences

Transactions retry on contention.
"""

MADR_4 = """---
status: "superseded by ADR-0002"
date: 2024-05-06
decision-makers: [Ana, Bo]
---
# Use REST for internal calls

## Context and Problem Statement

How do services talk?

## Considered Options

* REST
* gRPC

## Decision Outcome

Chosen option: "REST", because everybody knows it.

### Consequences

* Good, because tooling is everywhere.
"""

MADR_4_NEW = """---
status: accepted
date: 2024-09-01
decision-makers: Ana
---
# Use gRPC for internal calls

## Context and Problem Statement

REST payloads were too loose.

## Decision Outcome

Chosen option: "gRPC".
"""

MADR_2 = """# Keep secrets in Vault

* Status: proposed
* Deciders: Ana, Bo and Cy
* Date: 2022-12-01

Technical Story: SEC-12

## Context and Problem Statement

Secrets live in env files.

## Decision Outcome

Chosen option: "Vault".

### Positive Consequences

* Rotation is automatic.

### Negative Consequences

* One more system to run.
"""


def of(records: list[Record], kind: type[R]) -> list[R]:
    return [r for r in records if isinstance(r, kind)]


def by_id(records: list[Record]) -> dict[str, Any]:
    return {r.external_id: r for r in records if isinstance(r, (DocumentRecord, WisdomRecord))}


# --- parser -----------------------------------------------------------------------------------


def test_nygard() -> None:
    adr = parse_adr(NYGARD_NEW, "docs/adr/0002-use-cockroachdb.md")
    assert (adr.style, adr.number, adr.title) == ("nygard", 2, "Use CockroachDB")
    assert adr.date == date(2024, 2, 1)
    assert adr.status is AdrStatus.ACCEPTED and adr.status_line == 7
    [ref] = adr.supersedes
    assert (ref.target, ref.number) == ("0001-use-postgresql.md", 1)
    assert adr.context == "Manual failover hurt us twice."
    assert adr.decision == "Move orders to CockroachDB."
    assert adr.consequences == "Transactions retry on contention."
    assert not adr.problems and not adr.malformed
    old = parse_adr(NYGARD_OLD, "docs/adr/0001-use-postgresql.md")
    assert old.status is AdrStatus.SUPERSEDED
    assert [r.target for r in old.superseded_by] == ["0002-use-cockroachdb.md"]


def test_madr_4_front_matter_and_madr_2_bullets() -> None:
    adr = parse_adr(MADR_4, "0001-use-rest.md")
    assert (adr.style, adr.number, adr.title) == ("madr", 1, "Use REST for internal calls")
    assert adr.status is AdrStatus.SUPERSEDED and [r.number for r in adr.superseded_by] == [2]
    assert adr.deciders == ["Ana", "Bo"] and adr.date == date(2024, 5, 6)
    assert adr.decision == 'Chosen option: "REST", because everybody knows it.'
    assert adr.consequences == "* Good, because tooling is everywhere."
    madr2 = parse_adr(MADR_2, "decisions/0007-vault.md")
    assert (madr2.style, madr2.status, madr2.number) == ("madr", AdrStatus.PROPOSED, 7)
    assert madr2.deciders == ["Ana", "Bo", "Cy"] and madr2.date == date(2022, 12, 1)
    assert "Rotation is automatic" in madr2.consequences
    assert "One more system" in madr2.consequences


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Accepted", AdrStatus.ACCEPTED),
        ("**Proposed**", AdrStatus.PROPOSED),
        ("Deprecated since 2024", AdrStatus.DEPRECATED),
        ("Rejected", AdrStatus.REJECTED),
        ("superseded by ADR-0009", AdrStatus.SUPERSEDED),
        # As real repositories write them.
        ("Implemented", AdrStatus.ACCEPTED),
        ("Implemented (moved to ADR-0012)", AdrStatus.ACCEPTED),
        ("**Implemented**.", AdrStatus.ACCEPTED),
        ("Approved", AdrStatus.ACCEPTED),
        ("Accepted: tracking issue #42", AdrStatus.ACCEPTED),
        ("Partially accepted", AdrStatus.ACCEPTED),
        ("Accepted.", AdrStatus.ACCEPTED),
        ("Declined", AdrStatus.REJECTED),
        ("Reverted", AdrStatus.REJECTED),
        ("Rejected in favour of ADR 111", AdrStatus.SUPERSEDED),
        ("Rejected in favor of [ADR-0002](0002-b.md)", AdrStatus.SUPERSEDED),
        ("Draft.", AdrStatus.PROPOSED),
        ("In review", AdrStatus.PROPOSED),
        ("Pending", AdrStatus.PROPOSED),
        ("_Draft_", AdrStatus.PROPOSED),
        ("Status: accepted", AdrStatus.ACCEPTED),
        ("Bananas", AdrStatus.UNKNOWN),
    ],
)
def test_status_words(status: str, expected: AdrStatus) -> None:
    text = f"# 3. X\n\n## Status\n\n{status}\n\n## Context\n\nc\n\n## Decision\n\nd\n"
    adr = parse_adr(text, "0003-x.md")
    assert adr.status is expected
    assert adr.status_raw == status  # the raw text is kept
    # Never skipped or degraded because of its status line: an ADR with no problem.
    assert adr.problems == [] and not adr.malformed


def test_in_favour_of_links_the_successor() -> None:
    text = "# 4. Y\n\n## Status\n\nRejected in favour of ADR 111\n\n## Decision\n\nd\n"
    adr = parse_adr(text, "0004-y.md")
    assert adr.status is AdrStatus.SUPERSEDED
    assert [r.number for r in adr.superseded_by] == [111]


def test_what_counts_as_an_adr() -> None:
    plain = parse_adr("# Notes\n\nJust notes.\n", "docs/notes.md")
    assert not is_adr("docs/notes.md", plain)
    decision = parse_adr(NYGARD_NEW, "x")
    # A numbered file with Status/Context/Decision is an ADR anywhere ...
    assert is_adr("architecture/0002-use-cockroachdb.md", decision)
    assert is_adr("ADR-0002-use-cockroachdb.md", decision)
    # ... a numbered file in an ADR folder is one even when malformed ...
    assert is_adr("doc/adr/0009-draft.md", parse_adr("# 9. Draft\n", "0009-draft.md"))
    # ... but not a numbered file elsewhere without the sections, nor templates.
    assert not is_adr("migrations/0002-add-index.md", parse_adr("# Add index\n", "x"))
    assert not is_adr("docs/adr/template.md", decision)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    adr = parse_adr(text, "docs/adr/0001-x.md")
    assert adr.status is None or isinstance(adr.status, AdrStatus)
    assert all(isinstance(line, int) and line >= 1 for line, _ in adr.problems)


_PIECES = st.sampled_from(
    [
        "---\n", "status: accepted\n", "date: [2024\n", "deciders: {a: b}\n", "# 1. T\n",
        "## Status\n", "Superseded by [x](", "Supersedes ADR-\n", "* Status: \n", "## Context\n",
        "## Decision Outcome\n", "### Consequences\n", "```\n", "Date: 2024-13-45\n", "\n",
        "status: [superseded by ADR-0002]\n", "title: 7\n", "---\n...\n", "\t#\n",
    ]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=30))
def test_parser_never_raises_on_adr_shaped_text(pieces: list[str]) -> None:
    adr = parse_adr("".join(pieces), "0001-x.md")
    assert adr.malformed or adr.status is not None


# --- the ADR-folder connector -----------------------------------------------------------------


def load(folder: Path, cursor: dict[str, Any] | None = None, **settings: Any) -> list[Record]:
    source = SourceConfig(kind="adr", name="arch", location=str(folder), options={})
    return list(AdrConnector(source, Settings(home=folder.parent / "kb", **settings)).load(
        cursor or {}
    ))  # fmt: skip


def aid(rel: str, part: str) -> str:
    return f"adr:arch:file:{rel}#{part}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "decisions"
    (root / "madr").mkdir(parents=True)
    (root / "0001-use-postgresql.md").write_text(NYGARD_OLD)
    (root / "0002-use-cockroachdb.md").write_text(NYGARD_NEW)
    (root / "madr" / "0001-use-rest.md").write_text(MADR_4)
    (root / "madr" / "0002-use-grpc.md").write_text(MADR_4_NEW)
    (root / "README.md").write_text("# Decisions\n\nHow we decide.\n")
    (root / "0003-no-status.md").write_text("# 3. Shard\n\n## Context\n\nBig.\n")
    (root / "0004-latin1.md").write_bytes("# 4. Caf\xe9\n".encode("latin-1"))
    return root


def test_folder_connector_yields_adrs_rationale_and_failures(folder: Path) -> None:
    records = load(folder)
    docs = by_id(records)
    old = docs[aid("0001-use-postgresql.md", "adr")]
    assert old.kind is DocumentKind.ADR and old.status is AdrStatus.SUPERSEDED
    assert old.meta["superseded_by"] == [aid("0002-use-cockroachdb.md", "adr")]
    assert old.title == "ADR-0001: Use PostgreSQL for orders" and old.repo is None
    assert old.created_at == datetime(2023, 1, 10, tzinfo=UTC)
    why = docs[aid("0001-use-postgresql.md", "rationale")]
    assert why.kind is WisdomKind.DESIGN_RATIONALE and why.status is WisdomStatus.SUPERSEDED
    assert why.superseded_by_external_id == aid("0002-use-cockroachdb.md", "rationale")
    # MADR 4: "superseded by ADR-0002" resolves by number within the same folder.
    rest = docs[aid("madr/0001-use-rest.md", "rationale")]
    assert rest.superseded_by_external_id == aid("madr/0002-use-grpc.md", "rationale")
    assert docs[aid("madr/0002-use-grpc.md", "rationale")].status is WisdomStatus.ACTIVE
    assert docs[aid("README.md", "doc")].kind is DocumentKind.DOC
    # Malformed: a failure with path:line, and the text is still searchable.
    failures = {f.where: f.message for f in of(records, Failure)}
    assert "no status" in failures[f"{folder / '0003-no-status.md'}:1"]
    assert docs[aid("0003-no-status.md", "doc")].body.startswith("# 3. Shard")
    assert failures[str(folder / "0004-latin1.md")].startswith(
        "not UTF-8 text (invalid byte 0xe9 at offset 8)"
    )
    checkpoint = records[-1]
    assert isinstance(checkpoint, Checkpoint)
    assert sorted(checkpoint.cursor["files"]) == sorted(
        [
            "0001-use-postgresql.md", "0002-use-cockroachdb.md", "0003-no-status.md",
            "0004-latin1.md", "README.md", "madr/0001-use-rest.md", "madr/0002-use-grpc.md",
        ]
    )  # fmt: skip


def test_folder_connector_is_incremental(folder: Path) -> None:
    cursor = load(folder)[-1].cursor  # type: ignore[union-attr]
    assert load(folder, cursor) == [Checkpoint(cursor)]

    # Change one file: only its records come back, closed by its DocumentSet.
    (folder / "madr" / "0002-use-grpc.md").write_text(MADR_4_NEW.replace('gRPC".', 'gRPC", fast.'))
    second = load(folder, cursor)
    assert {r.path for r in of(second, DocumentRecord)} == {"madr/0002-use-grpc.md"}
    grpc = "madr/0002-use-grpc.md"
    assert of(second, DocumentSet) == [
        DocumentSet(f"adr:arch:file:{grpc}#", frozenset({aid(grpc, "adr"), aid(grpc, "rationale")}))
    ]

    # Delete the newer Nygard ADR: its ids go, and the old one becomes current again
    # (it no longer has anything superseding it by inference; its own text still says so).
    cursor = second[-1].cursor  # type: ignore[union-attr]
    (folder / "0002-use-cockroachdb.md").unlink()
    third = load(folder, cursor)
    assert DocumentSet("adr:arch:file:0002-use-cockroachdb.md#", frozenset()) in third
    old = by_id(third)[aid("0001-use-postgresql.md", "rationale")]
    assert old.superseded_by_external_id is None  # the link target is gone
    assert "0002-use-cockroachdb.md" not in third[-1].cursor["files"]  # type: ignore[union-attr]


def test_folder_connector_skips_large_files_and_rejects_missing_folder(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "0009-huge.md").write_text("# 9. Huge\n" + "x" * 5000)
    records = load(folder, max_file_bytes=4000)
    assert Skipped("too large", 1, str(folder / "0009-huge.md")) in records
    with pytest.raises(Exception, match="no such directory"):
        load(tmp_path / "missing")


def test_an_unfilled_number_placeholder_and_a_decision_about_templates() -> None:
    # adr-tools' "# NUMBER. TITLE" left as "# n. Title": the number comes from the file name.
    text = "# n. Django Templates\n\n## Status\n\nAccepted\n\n## Context\n\nc\n\n## Decision\n\nd\n"
    path = "docs/architecture/decisions/0010-django-templates.md"
    adr = parse_adr(text, path)
    assert (adr.number, adr.title, adr.status) == (10, "Django Templates", AdrStatus.ACCEPTED)
    assert is_adr(path, adr)  # a decision *about* templates is no template
    templates = ["docs/adr/template.md", "docs/adr/0000-template.md", "docs/templates/0001-x.md"]
    for template in [*templates, "docs/adr/adr-template-bare.md"]:
        assert not is_adr(template, adr), template


def test_real_world_statuses_ingest_as_adrs_with_their_raw_text(tmp_path: Path) -> None:
    root = tmp_path / "decisions"
    root.mkdir()
    body = "\n\n## Context\n\nWe need it.\n\n## Decision\n\nWe do it.\n"
    (root / "0001-impl.md").write_text("# 1. Queue\n\n## Status\n\n**Implemented**." + body)
    (root / "0002-declined.md").write_text("# 2. Cache\n\n## Status\n\nDeclined" + body)
    (root / "0003-review.md").write_text("# 3. Shards\n\n## Status\n\nIn review" + body)
    (root / "0004-favour.md").write_text(
        "# 4. Mongo\n\n## Status\n\nRejected in favour of [ADR 1](0001-impl.md)" + body
    )
    records = load(root)
    assert [r for r in records if isinstance(r, Failure)] == []
    docs = by_id(records)
    statuses = {
        rel: (docs[aid(rel, "adr")].status, docs[aid(rel, "adr")].meta["status_raw"])
        for rel in ("0001-impl.md", "0002-declined.md", "0003-review.md", "0004-favour.md")
    }
    assert statuses == {
        "0001-impl.md": (AdrStatus.ACCEPTED, "**Implemented**."),
        "0002-declined.md": (AdrStatus.REJECTED, "Declined"),
        "0003-review.md": (AdrStatus.PROPOSED, "In review"),
        "0004-favour.md": (AdrStatus.SUPERSEDED, "Rejected in favour of [ADR 1](0001-impl.md)"),
    }
    assert docs[aid("0004-favour.md", "adr")].meta["superseded_by"] == [aid("0001-impl.md", "adr")]
