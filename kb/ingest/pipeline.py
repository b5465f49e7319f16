"""The ingestion pipeline: runs a connector from its cursor, stores records batch by batch."""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kb.contract.connector import Connector, SourceConfig, load_connector
from kb.contract.markdown import table
from kb.contract.records import (
    Checkpoint,
    ChunkText,
    CodeOwnerRecord,
    CommitRecord,
    DependencyRecord,
    DocumentRecord,
    DocumentSet,
    EventTopicRecord,
    Failure,
    IncidentRecord,
    InfrastructureRecord,
    PersonRecord,
    Record,
    RepoRecord,
    RepoTreeRecord,
    ServiceMapSet,
    ServiceRecord,
    Skipped,
    WisdomRecord,
)
from kb.ingest.indexing import IndexStats
from kb.ingest.redaction import redact_record
from kb.store.history import source_cursor
from kb.store.models import DocumentKind, WisdomKind
from kb.store.writer import RecordWriter

if TYPE_CHECKING:
    from kb.ingest.indexing import Indexer
    from kb.settings import Settings
    from kb.store import Store
    from kb.store.reader import Reader

log = logging.getLogger(__name__)

# Runs after every ingest run, successful or not, with the run's source (derived facts such
# as the hotspot danger zones); a failing hook is logged and never costs the run its data.
AfterRun = Callable[[SourceConfig], None]

# A connector that checkpoints rarely still gets its records written in bounded memory;
# such a flush does not advance the cursor (a re-run redoes it, idempotently).
MAX_BUFFERED_RECORDS = 2000
# A run that could not read thousands of items keeps the first ones (and their number).
MAX_RECORDED_FAILURES = 500

# (record type, the writer method storing it, the report counter it adds to)
_Step = tuple[type[Any], Callable[[Any], Any], str | None]


@dataclass
class IngestReport:
    """What one ingest run did; `failures` name the file/line/channel of each skipped item."""

    kind: str
    source: str
    batches: int = 0
    commits_written: int = 0
    people_seen: int = 0
    services: int = 0
    dependencies: int = 0
    wisdom_entries: int = 0
    incidents: int = 0
    code_owners: int = 0
    secrets_redacted: int = 0
    index: IndexStats = field(default_factory=IndexStats)
    skipped: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        """The report as the stable `--json` summary."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "source": self.source,
            "ok": self.ok,
            "batches": self.batches,
            "commits_written": self.commits_written,
            "people_seen": self.people_seen,
            "services": self.services,
            "dependencies": self.dependencies,
            "wisdom_entries": self.wisdom_entries,
            "incidents": self.incidents,
            "code_owners": self.code_owners,
            "secrets_redacted": self.secrets_redacted,
            "skipped": dict(sorted(self.skipped.items())),
            "failures": self.failures,
        }
        out.update(asdict(self.index))
        return out

    def to_markdown(self) -> str:
        """What the run did, and each item it skipped with where and why."""
        data = self.to_json()
        lines = [f"# Ingested {self.kind} {self.source}", ""]
        counted = [
            (k, v) for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)
        ]
        lines += table(["what", "count"], [[k.replace("_", " "), str(v)] for k, v in counted])
        lines += [f"- skipped ({reason}): {n}" for reason, n in data["skipped"].items()]
        if self.failures:
            lines += ["", f"{len(self.failures)} item(s) could not be read:", ""]
            lines += [f"- `{f['where']}`: {f['message']}" for f in self.failures]
        return "\n".join(lines) + "\n"


def with_danger_documents(records: list[Record]) -> list[Record]:
    """Give each danger zone found in code a searchable document of its own.

    The comment that says "DO NOT change the lock ordering" must be findable by "what must
    I never touch?"; it shares the wisdom entry's id, so the file's DocumentSet keeps it.
    """
    out = list(records)
    for rec in records:
        if (
            isinstance(rec, WisdomRecord)
            and rec.kind == WisdomKind.DANGER_ZONE
            and rec.document_external_id is None
        ):
            out.append(
                DocumentRecord(
                    external_id=rec.external_id,
                    kind=DocumentKind.CODE,
                    title=f"{rec.path_glob or rec.repo}: {rec.title}",
                    body=rec.body,
                    repo=rec.repo,
                    path=rec.path_glob,
                    service=rec.service,
                    created_at=rec.created_at,
                    meta={"line": rec.line, "wisdom": "danger_zone", "severity": str(rec.severity)},
                    # One chunk whose heading (the path and title) is searchable too.
                    chunks=[ChunkText(rec.body, heading=f"{rec.path_glob}: {rec.title}")],
                )
            )
            rec.document_external_id = rec.external_id
    return out


class Ingestor:
    """Drives a connector: redacts, buffers to each Checkpoint, writes each batch atomically.

    Its collaborators are explicit: the SQL store, the indexer (built only when a batch
    holds text, so a history-only run never loads the model or opens the vector store), and
    hooks to run after the run.
    """

    def __init__(
        self,
        store: Store,
        reader: Reader,
        indexer: Callable[[], Indexer],
        settings: Settings,
        after_run: Sequence[AfterRun] = (),
        on_batch: Callable[[IngestReport], None] | None = None,
    ) -> None:
        self.store = store
        self.reader = reader
        self._indexer = indexer
        self.settings = settings
        self.after_run = after_run
        self.on_batch = on_batch

    def run(self, config: SourceConfig, connector: Connector | None = None) -> IngestReport:
        """Ingest one source from its stored cursor; returns the run's report."""
        if connector is None:
            connector = load_connector(config.kind)(config, self.settings)
        store = self.store
        source_id = store.ensure_source(config.kind, config.name, config.location, config.options)
        report = IngestReport(kind=config.kind, source=config.name)
        started = datetime.now(UTC)
        error: str | None = None
        buffer: list[Record] = []
        # What is loaded by now (modules, settings, the store) lives as long as the process:
        # out of the cycle collector's sight, it is not walked again at every collection
        # the run's hundreds of thousands of short-lived records set off (~15% of a run).
        gc.freeze()
        try:
            cursor = source_cursor(self.reader, config.kind, config.name)
            for record in connector.load(cursor):
                if isinstance(record, Failure):
                    report.failures.append({"where": record.where, "message": record.message})
                    continue
                if isinstance(record, Skipped):
                    report.skipped[record.reason] += record.count
                    continue
                record, n = redact_record(record)
                report.secrets_redacted += n
                if isinstance(record, Checkpoint):
                    self._write(source_id, buffer, record.cursor, report)
                    buffer = []
                    continue
                buffer.append(record)
                if len(buffer) >= MAX_BUFFERED_RECORDS:
                    self._write(source_id, buffer, None, report)
                    buffer = []
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            # Whatever was read before a fatal error is kept (without moving the cursor).
            if buffer:
                self._write(source_id, buffer, None, report)
            self._finish_run(config)
            self._record_run(source_id, started, report, error)
        return report

    def _record_run(
        self, source_id: int, started: datetime, report: IngestReport, error: str | None
    ) -> None:
        summary = report.to_json()
        summary["failures_total"] = len(report.failures)
        summary["failures"] = summary["failures"][:MAX_RECORDED_FAILURES]
        if error is not None:
            summary["error"] = error
        try:
            self.store.record_run(
                source_id, started, datetime.now(UTC), error is None and report.ok, summary
            )
        except Exception:  # the run's own outcome matters more than its log entry
            log.warning("could not record the run of %s %s", report.kind, report.source,
                        exc_info=True)  # fmt: skip

    def _write(
        self,
        source_id: int,
        records: list[Record],
        cursor: dict[str, Any] | None,
        report: IngestReport,
    ) -> None:
        store = self.store
        records = with_danger_documents(records)
        docs = [r for r in records if isinstance(r, DocumentRecord)]
        # History-only runs have no text: never open the vector store or load the model.
        indexer = self._indexer() if docs else None
        batch = indexer.prepare(docs) if indexer is not None else None

        by_kind: dict[type[Any], list[Any]] = {}
        for r in records:
            by_kind.setdefault(type(r), []).append(r)

        with store.transaction(write=True) as session:
            w = RecordWriter(session, source_id)
            # Order matters: what later records refer to (repos, people, services,
            # documents) is written first.
            first: list[_Step] = [
                (RepoRecord, w.repo, None),
                (RepoTreeRecord, w.repo_tree, None),
                (PersonRecord, w.people.person, "people_seen"),
                (ServiceRecord, w.service, "services"),
            ]
            for kind, write, counter in first:
                self._apply(by_kind.get(kind, []), write, counter, report)
            if indexer is not None and batch is not None:
                indexer.write(session, batch, source_id)
                for doc in batch.changed:
                    rec = doc.record
                    if rec.author_name or rec.author_email:
                        store.set_document_author(
                            session,
                            rec.external_id,
                            w.people.person_for(rec.author_name, rec.author_email),
                        )
            report.commits_written += w.commits(by_kind.get(CommitRecord, []))
            then: list[_Step] = [
                (ServiceMapSet, w.service_map_set, None),
                (InfrastructureRecord, w.infrastructure, None),
                (DependencyRecord, w.dependency, "dependencies"),
                (EventTopicRecord, w.event_topic, None),
                (CodeOwnerRecord, w.code_owner, "code_owners"),
                (WisdomRecord, w.wisdom, "wisdom_entries"),
                (IncidentRecord, w.incident, "incidents"),
            ]
            for kind, write, counter in then:
                self._apply(by_kind.get(kind, []), write, counter, report)
            gone: list[str] = []
            for doc_set in by_kind.get(DocumentSet, []):
                gone.extend(w.drop_missing(doc_set))
            w.people.flush()
            n_docs, stale = store.delete_documents(session, gone)
            report.index.documents_deleted += n_docs
            if cursor is not None:
                store.save_cursor(session, source_id, cursor)
        # After the commit: drop vectors of chunks that no longer exist in SQL.
        if indexer is not None and batch is not None:
            indexer.finish(batch)
            report.index.add(batch.stats)
        if stale:
            self._indexer().forget(stale)
            report.index.chunks_deleted += len(stale)
        report.batches += 1
        if self.on_batch is not None:
            self.on_batch(report)

    @staticmethod
    def _apply(
        items: list[Any], write: Callable[[Any], Any], counter: str | None, report: IngestReport
    ) -> None:
        for item in items:
            write(item)
        if counter:
            setattr(report, counter, getattr(report, counter) + len(items))

    def _finish_run(self, config: SourceConfig) -> None:
        with self.store.transaction(write=True) as session:
            w = RecordWriter(session, None)
            w.derive_event_dependencies()
            w.link_superseded_wisdom()
        for hook in self.after_run:
            try:
                hook(config)
            except Exception:  # derived facts must never cost the run what it stored
                log.warning(
                    "%s failed after %s %s", getattr(hook, "__qualname__", hook),
                    config.kind, config.name, exc_info=True,
                )  # fmt: skip
