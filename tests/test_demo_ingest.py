"""The whole demo organisation through every connector: what a new user's `make demo` builds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kb.app import KB
from kb.store import Store
from kb.store.models import (
    AdrStatus,
    Document,
    DocumentKind,
    Incident,
    Person,
    Service,
    ServiceDependency,
    WisdomEntry,
    WisdomKind,
    WisdomStatus,
)


def _all_text(store: Store) -> list[str]:
    texts: list[str] = []
    with store.transaction() as s:
        for sql in (
            "select title || ' ' || body from documents",
            "select text from chunks",
            "select message from commits",
            "select title || ' ' || body from wisdom_entries",
            "select coalesce(title,'') || coalesce(root_cause,'') || coalesce(resolution,'') "
            "from incidents",
            "select cast(meta as text) from documents",
        ):
            from sqlalchemy import text

            texts.extend(str(r[0]) for r in s.execute(text(sql)))
    return texts


def test_every_source_ingests_without_failures(demo_kb: tuple[KB, list[Any]]) -> None:
    _, reports = demo_kb
    for report in reports:
        assert report.failures == [], (report.source, report.failures[:3])
    by_source = {r.source: r for r in reports}
    assert by_source["payment-service"].commits_written == 365
    assert by_source["shopfast"].index.documents_written > 20


def test_planted_secrets_never_reach_sql_or_vectors(
    demo_kb: tuple[KB, list[Any]], demo_org: Any
) -> None:
    app, reports = demo_kb
    secrets = [s["value"] for s in demo_org.manifest["secrets"]]
    assert len(secrets) >= 5
    stored = _all_text(app.store)
    vector_docs = app.vectors.collection.get(include=["documents"])["documents"]
    for secret in secrets:
        # The whole secret, its password part, and its first characters: a title cut in
        # the middle of a token must not keep the token's start.
        start = [] if "://" in secret else [secret[:8]]  # a URL's start is no secret
        for piece in (secret, secret.split("@")[0].split(":")[-1], *start):
            assert not any(piece in t for t in stored), piece
            assert not any(piece in t for t in vector_docs), piece
        q = app.embedder.embed([secret])[0]
        hits = app.vectors.query(q, k=5)
        assert not any(secret in str(app.store.chunks_by_id([h.id])) for h in hits)
    assert sum(r.secrets_redacted for r in reports) >= 2  # the Slack tokens at least


def test_second_run_with_nothing_new_changes_nothing(demo_writable: KB, demo_org: Any) -> None:
    from conftest import ingest_demo

    app = demo_writable
    before = app.store.counts()
    again = ingest_demo(app, demo_org)
    after = app.store.counts()
    # Each run is recorded (when and what it did, for the dashboard); nothing else changes.
    assert after.pop("ingest_runs") == before.pop("ingest_runs") + len(again)
    assert after == before
    for report in again:
        assert report.commits_written == 0, report.source
        assert report.index.texts_embedded == 0, report.source
        assert report.index.documents_written == 0, report.source


def test_structure_matches_the_ground_truth(demo_kb: tuple[KB, list[Any]], demo_org: Any) -> None:
    app, _ = demo_kb
    truth = demo_org.manifest
    with app.store.transaction() as s:
        services = set(s.scalars(select(Service.name)))
        assert {n for n, v in truth["services"].items()} <= services
        deps = {
            (a, b, k.value)
            for a, b, k in s.execute(
                select(Service.name, ServiceDependency.to_service_id, ServiceDependency.kind).join(
                    ServiceDependency, ServiceDependency.from_service_id == Service.id
                )
            )
        }
        names = dict(s.execute(select(Service.id, Service.name)).tuples().all())
        edges = {(a, names[b], k) for a, b, k in deps}
        for dep in truth["declared_dependencies"]:
            assert (dep["from"], dep["to"], dep["kind"]) in edges, dep
        pair = truth["undeclared_dependency"]["services"]
        assert not any({a, b} == set(pair) for a, b, _ in edges)

        adrs = {
            d.path: d for d in s.scalars(select(Document).where(Document.kind == DocumentKind.ADR))
        }
        for adr in truth["adrs"]:
            assert adr["path"] in adrs, adr["path"]
            assert adrs[adr["path"]].status == AdrStatus(adr["status"]), adr["path"]
        superseded = s.scalars(
            select(WisdomEntry).where(
                WisdomEntry.kind == WisdomKind.DESIGN_RATIONALE,
                WisdomEntry.status == WisdomStatus.SUPERSEDED,
            )
        ).all()
        assert superseded and all(w.superseded_by_id for w in superseded)

        dangers = s.scalars(
            select(WisdomEntry).where(WisdomEntry.kind == WisdomKind.DANGER_ZONE)
        ).all()
        where = {(w.path_glob, w.line) for w in dangers}
        for dz in truth["danger_zones"]:
            assert (dz["path"], dz["line"]) in where, dz

        inc = s.scalar(select(Incident).where(Incident.external_id == "incident:INC-2024-03"))
        assert inc is not None and inc.postmortem_document_id is not None
        assert inc.channel == "inc-2024-03-14-checkout-outage"
        assert {"order-service", "payment-service"} <= {svc.name for svc in inc.services}

        people = s.scalars(select(Person)).all()
        priya = [p for p in people if p.display_name.lower() == "priya sharma"]
        assert len(priya) == 1
        chen = next(p for p in people if p.display_name == "Chen Wei")
        assert chen.last_activity_at is not None and chen.last_activity_at.year == 2025
        assert any(p.is_bot for p in people)


def test_ownership_handles_link_to_people_and_never_invent_them(
    demo_kb: tuple[KB, list[Any]],
) -> None:
    from kb.store.models import CodeOwner

    app, _ = demo_kb
    with app.store.transaction() as s:
        names = set(s.scalars(select(Person.display_name)))
        assert not {"alex-morgan", "bokafor", "mgarcia"} & names
        humans = [p for p in s.scalars(select(Person)) if not p.is_bot]
        assert len(humans) == 8
        alex = next(p for p in humans if p.display_name == "Alex Morgan")
        owned = s.scalars(select(CodeOwner).where(CodeOwner.person_id == alex.id)).all()
        assert owned  # "@alex-morgan" in CODEOWNERS is Alex
        payment = s.scalar(select(Service).where(Service.name == "payment-service"))
        assert payment is not None and payment.owner_team
