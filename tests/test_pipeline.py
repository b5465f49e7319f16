"""The ingestion pipeline with an in-test connector: batches, cursors, redaction, failures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from facts import Facts
from sqlalchemy import select

from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.contract.kinds import SourceKind
from kb.contract.records import (
    Checkpoint,
    CommitRecord,
    DependencyRecord,
    DocumentRecord,
    DocumentSet,
    EventTopicRecord,
    Failure,
    FileChangeRecord,
    IncidentRecord,
    PersonRecord,
    Record,
    RepoRecord,
    ServiceRecord,
    Skipped,
    WisdomRecord,
)
from kb.settings import Settings
from kb.store.history import source_cursor
from kb.store.models import (
    ChangeType,
    Commit,
    DependencyKind,
    Document,
    DocumentKind,
    EventRole,
    Identity,
    Incident,
    Person,
    ServiceDependency,
    WisdomEntry,
    WisdomKind,
    WisdomStatus,
)

T0 = datetime(2024, 3, 14, 10, 0, tzinfo=UTC)
AWS_KEY = "AKIAQ3EGV7NBXZ4LTR2M"
SLACK_TOKEN = "xoxb-2208917421-4410931215-Kq9vTzN3mW8pXcR2sLfYh6Jd"


class ScriptedConnector:
    """A connector that yields a fixed script (and can crash part-way)."""

    kind: ClassVar[str] = "git"

    def __init__(self, script: list[Record], crash_after: int | None = None) -> None:
        self.script = script
        self.crash_after = crash_after
        self.cursors_seen: list[dict[str, Any]] = []

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        self.cursors_seen.append(dict(cursor))
        for i, record in enumerate(self.script):
            if self.crash_after is not None and i == self.crash_after:
                raise RuntimeError("connector crashed")
            yield record


def _config() -> SourceConfig:
    return SourceConfig(kind="git", name="payment-service", location="/repos/payment-service")


def _commit(sha: str, email: str, name: str = "Alex Morgan", msg: str = "work") -> CommitRecord:
    return CommitRecord(
        repo="payment-service", sha=sha, parents=(), author_name=name, author_email=email,
        authored_at=T0, committer_name=name, committer_email=email, committed_at=T0,
        message=msg, changes=[FileChangeRecord(ChangeType.ADD, f"src/{sha}.py")],
    )  # fmt: skip


def _doc(ext: str, body: str) -> DocumentRecord:
    return DocumentRecord(
        external_id=ext, kind=DocumentKind.DOC, title=ext, body=body, repo="payment-service",
        path=ext.rsplit(":", 1)[-1],
    )  # fmt: skip


def test_batches_commit_with_their_cursor_and_a_crash_keeps_committed_ones(kb_app: KB) -> None:
    script: list[Record] = [
        RepoRecord(name="payment-service", location="/repos/payment-service"),
        _commit("a1", "alex@shop.io"),
        Checkpoint({"last_commit": "a1"}),
        _commit("b2", "alex@shop.io"),
        _doc("git:payment-service:file:README.md#doc", "# Payments\n\nAsync since INC-2024-03."),
        Checkpoint({"last_commit": "b2"}),
        _commit("c3", "alex@shop.io"),
        Checkpoint({"last_commit": "c3"}),
    ]
    crashing = ScriptedConnector(script, crash_after=6)
    with pytest.raises(RuntimeError):
        kb_app.ingestor().run(_config(), connector=crashing)
    store = kb_app.store
    store.ensure_source(SourceKind.GIT, "payment-service", "/repos/payment-service")
    # Batches 1-2 committed; the cursor says so; the half-read third batch kept no cursor.
    assert source_cursor(kb_app.reader, "git", "payment-service") == {"last_commit": "b2"}
    with store.transaction() as s:
        shas = set(s.scalars(select(Commit.sha)))
    assert {"a1", "b2"} <= shas
    assert kb_app.vectors.count() == store.counts()["chunks"] > 0

    again = ScriptedConnector(script)
    kb_app.ingestor().run(_config(), connector=again)
    assert again.cursors_seen == [{"last_commit": "b2"}]
    with store.transaction() as s:
        assert sorted(s.scalars(select(Commit.sha))) == ["a1", "b2", "c3"]
        assert s.scalar(select(Person.display_name)) == "Alex Morgan"
    assert source_cursor(kb_app.reader, "git", "payment-service") == {"last_commit": "c3"}


def test_secrets_are_redacted_before_storage_and_embedding(kb_app: KB) -> None:
    body = (
        "# Config\n\nDeploy creds: aws_access_key_id = " + AWS_KEY + "\n\n"
        "Bot token pasted during the incident: " + SLACK_TOKEN + "\n\n"
        "DB: postgres://orders:S3cr3t-Pa55@orders-db:5432/orders\n"
    )
    script: list[Record] = [
        RepoRecord(name="payment-service", location="/r"),
        _commit("a1", "alex@shop.io", msg=f"add config\n\nkey {AWS_KEY}"),
        _doc("git:payment-service:file:config.md#doc", body),
        Checkpoint({"last_commit": "a1"}),
    ]
    report = kb_app.ingestor().run(_config(), connector=ScriptedConnector(script))
    assert report.secrets_redacted >= 4
    with kb_app.store.transaction() as s:
        texts = [*s.scalars(select(Document.body)), *s.scalars(select(Commit.message))]
    vectors = kb_app.vectors.collection.get(include=["documents"])["documents"]
    for text in [*texts, *vectors]:
        for secret in (AWS_KEY, SLACK_TOKEN, "S3cr3t-Pa55"):
            assert secret not in text
    assert any("[REDACTED:aws-access-key]" in t for t in texts)


def test_failures_and_skips_are_reported_and_the_run_goes_on(kb_app: KB) -> None:
    script: list[Record] = [
        RepoRecord(name="payment-service", location="/r"),
        Failure("payment-service:docs/broken.md:3", "not UTF-8 text; skipped"),
        Skipped("vendored", 12),
        Skipped("binary", 2),
        _doc("git:payment-service:file:README.md#doc", "# Payments\n\nHello."),
        Checkpoint({"done": True}),
    ]
    report = kb_app.ingestor().run(_config(), connector=ScriptedConnector(script))
    assert not report.ok
    summary = report.to_json()
    assert summary["failures"] == [
        {"where": "payment-service:docs/broken.md:3", "message": "not UTF-8 text; skipped"}
    ]
    assert summary["skipped"] == {"binary": 2, "vendored": 12}
    assert summary["documents_written"] == 1


def test_document_set_removes_deleted_files_documents_wisdom_and_vectors(kb_app: KB) -> None:
    prefix = "git:payment-service:file:src/ledger.py#"
    first: list[Record] = [
        RepoRecord(name="payment-service", location="/r"),
        _doc(prefix + "code", "Ledger module: double-entry bookkeeping for refunds."),
        WisdomRecord(
            external_id=prefix + "danger:1",
            kind=WisdomKind.DANGER_ZONE,
            title="DO NOT reorder ledger writes",
            body="...",
            repo="payment-service",
        ),
        Checkpoint({"n": 1}),
    ]
    kb_app.ingestor().run(_config(), connector=ScriptedConnector(first))
    # The module header and the danger zone (which gets a searchable document of its own).
    assert kb_app.vectors.count() == 2
    deleted: list[Record] = [DocumentSet(prefix, frozenset()), Checkpoint({"n": 2})]
    report = kb_app.ingestor().run(_config(), connector=ScriptedConnector(deleted))
    assert report.index.documents_deleted == 2
    assert kb_app.store.counts()["documents"] == 0
    assert kb_app.store.counts()["wisdom_entries"] == 0
    assert kb_app.vectors.count() == 0


def test_people_merge_by_email_and_name_and_keep_activity_span(kb_app: KB) -> None:
    later = datetime(2026, 10, 1, tzinfo=UTC)
    script: list[Record] = [
        RepoRecord(name="payment-service", location="/r"),
        PersonRecord(name="Priya Sharma", emails=("priya.sharma@shop.io",), seen_at=T0),
        PersonRecord(name="priya sharma", emails=("priya.s.dev@gmail.com",), seen_at=later),
        PersonRecord(name="Priya Sharma", slack_id="U024PRIYA"),
        PersonRecord(name="dependabot[bot]", emails=("bot@dependabot.com",), is_bot=True),
        Checkpoint({}),
    ]
    kb_app.ingestor().run(_config(), connector=ScriptedConnector(script))
    with kb_app.store.transaction() as s:
        people = s.scalars(select(Person).order_by(Person.id)).all()
        assert [p.display_name for p in people] == ["Priya Sharma", "dependabot[bot]"]
        priya = people[0]
        assert priya.first_activity_at == T0 and priya.last_activity_at == later
        kinds = sorted(
            (i.kind.value, i.value)
            for i in s.scalars(select(Identity).where(Identity.person_id == priya.id))
        )
        assert ("email", "priya.s.dev@gmail.com") in kinds and ("slack", "U024PRIYA") in kinds
        assert people[1].is_bot


def test_incidents_merge_and_events_become_async_dependencies(kb_app: KB) -> None:
    script: list[Record] = [
        RepoRecord(name="payment-service", location="/r"),
        ServiceRecord(name="payment-service", repo="payment-service", owner_team="payments"),
        EventTopicRecord("order-service", "order.payment_requested", EventRole.PUBLISH),
        EventTopicRecord(
            "payment-service",
            "order.payment_requested",
            EventRole.SUBSCRIBE,
            evidence_repo="payment-service",
            evidence_path="src/consumer.py",
            evidence_line=12,
        ),
        IncidentRecord(
            "incident:INC-2024-03",
            "Checkout outage",
            started_at=T0,
            services=("payment-service",),
            channel="inc-2024-03-14-checkout-outage",
        ),
        IncidentRecord(
            "incident:INC-2024-03",
            "",
            root_cause="sync payment calls blocked order",
            services=("order-service",),
        ),
        WisdomRecord(
            "adr:2",
            WisdomKind.DESIGN_RATIONALE,
            "ADR-0002",
            "sync calls",
            status=WisdomStatus.SUPERSEDED,
            superseded_by_external_id="adr:3",
        ),
        WisdomRecord("adr:3", WisdomKind.DESIGN_RATIONALE, "ADR-0003", "async via events"),
        Checkpoint({}),
    ]
    kb_app.ingestor().run(_config(), connector=ScriptedConnector(script))
    with kb_app.store.transaction() as s:
        dep = s.scalars(select(ServiceDependency)).one()
        assert dep.kind == DependencyKind.ASYNC_EVENT and dep.detail == "order.payment_requested"
        assert dep.evidence_path == "src/consumer.py" and dep.evidence_line == 12
        inc = s.scalars(select(Incident)).one()
        assert inc.title == "Checkout outage" and inc.root_cause.startswith("sync payment")
        assert sorted(svc.name for svc in inc.services) == ["order-service", "payment-service"]
        old = s.scalar(select(WisdomEntry).where(WisdomEntry.external_id == "adr:2"))
        new = s.scalar(select(WisdomEntry).where(WisdomEntry.external_id == "adr:3"))
        assert old is not None and new is not None and old.superseded_by_id == new.id


def test_facts_a_changed_file_no_longer_states_are_forgotten(kb_app: KB) -> None:
    prefix = "git:order-service:file:src/orders/clients.py#"
    first: list[Record] = [
        RepoRecord(name="order-service", location="/r"),
        DependencyRecord(
            "order-service",
            "user-service",
            DependencyKind.SYNC_HTTP,
            "GET /users/{id}",
            evidence_repo="order-service",
            evidence_path="src/orders/clients.py",
            evidence_line=7,
        ),
        EventTopicRecord(
            "order-service",
            "order.created",
            EventRole.PUBLISH,
            evidence_repo="order-service",
            evidence_path="src/orders/clients.py",
        ),
        EventTopicRecord(
            "notification-service",
            "order.created",
            EventRole.SUBSCRIBE,
            evidence_repo="notification-service",
            evidence_path="src/n.py",
        ),
        DocumentSet(prefix, frozenset()),
        Checkpoint({"n": 1}),
    ]
    kb_app.ingestor().run(_config(), connector=ScriptedConnector(first))
    with kb_app.store.transaction() as s:
        kinds = sorted(d.kind.value for d in s.scalars(select(ServiceDependency)))
    assert kinds == ["async_event", "sync_http"]
    # The file changed: it no longer calls user-service nor publishes order.created.
    second: list[Record] = [DocumentSet(prefix, frozenset()), Checkpoint({"n": 2})]
    kb_app.ingestor().run(_config(), connector=ScriptedConnector(second))
    with kb_app.store.transaction() as s:
        assert s.scalars(select(ServiceDependency)).all() == []


def test_concurrent_batches_never_both_create_a_person(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingests (two machines of a team) resolve the same new author at the same time.

    Each batch reads the stored identities, then inserts the people it did not find. The
    stores below hold both batches right after that read until both got there (or 2 s
    passed): without batches taking turns both would create Alex, and one would fail on
    the unique identity.
    """
    import threading

    from kb.store.people import PeopleWriter

    read = PeopleWriter._identities
    both_read = threading.Barrier(2, timeout=2.0)

    def identities_then_wait(self: PeopleWriter) -> Any:
        first = self._identity is None
        out = read(self)
        if first:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()
        return out

    monkeypatch.setattr(PeopleWriter, "_identities", identities_then_wait)
    database_url = None if db_url.startswith("sqlite") else db_url
    apps = [KB(Settings(home=tmp_path / "kb", database_url=database_url)) for _ in "ab"]
    apps[0].store.migrate()
    alex = PersonRecord(name="Alex Morgan", emails=("alex@shop.io",))
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run(app: KB, name: str) -> None:
        try:
            connector = Facts(alex)
            reports.append(app.ingestor().run(SourceConfig("slack", name, "x", {}), connector))
        except BaseException as exc:  # the failure under test
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(app, n)) for app, n in zip(apps, "ab", strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(reports) == 2
    with apps[0].store.transaction() as s:
        assert s.scalars(select(Person.display_name)).all() == ["Alex Morgan"]
    for app in apps:
        app.close()


def test_a_connector_kind_kb_does_not_know_is_stored_like_its_own(kb_app: KB) -> None:
    # A third party registers a connector of its own kind through the entry points; kb
    # stores its source and cursor without knowing the kind.
    class TicketConnector(ScriptedConnector):
        kind = "tickets"

    doc = _doc("tickets:OPS-12", "Payment retries double-charged customers in March.")
    script: list[Record] = [doc, Checkpoint({"last_ticket": "OPS-12"})]
    source = SourceConfig("tickets", "ops-jira", "https://jira.example", {})
    report = kb_app.ingest(source, connector=TicketConnector(script))
    assert report.ok and report.index.documents_written == 1
    assert source_cursor(kb_app.reader, "tickets", "ops-jira") == {"last_ticket": "OPS-12"}
    again = TicketConnector(script)
    kb_app.ingest(source, connector=again)
    assert again.cursors_seen == [{"last_ticket": "OPS-12"}]
