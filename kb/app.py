"""The composition root: builds kb's stores and services from one Settings."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.settings import Settings
from kb.store.reader import Reader

# Heavy modules (embeddings, vectors, indexing) load with the service that needs them:
# `kb bus-factor` or a history-only ingest never pays for them.
if TYPE_CHECKING:
    from kb.analysis.busfactor import BusFactorService
    from kb.analysis.catalog import AdrList, AdrRecord, CatalogService, ServiceList, ServiceSummary
    from kb.analysis.dangerzones import DangerZones, DangerZoneService
    from kb.analysis.experts import ExpertService
    from kb.analysis.hotspots import HotspotService
    from kb.analysis.incidents import IncidentLog
    from kb.analysis.risk_service import KnowledgeRiskService
    from kb.analysis.servicemap.service import ServiceMapService
    from kb.analysis.staleness import StalenessService
    from kb.answer.gaps import KnowledgeGaps
    from kb.answer.service import AnswerService
    from kb.answer.types import Answer
    from kb.contract.connector import Connector, SourceConfig
    from kb.contract.kinds import Feedback, Severity, WisdomKind, WisdomOrigin
    from kb.embedding.embedder import CachedEmbedder, Embedder
    from kb.guides.agent_context import AgentContextService
    from kb.guides.incidents import IncidentService
    from kb.guides.knowledge import GuideFacts
    from kb.guides.onboarding import OnboardingService
    from kb.guides.prose import Smoother
    from kb.ingest.indexing import Indexer
    from kb.ingest.overview import SourcesOverview
    from kb.ingest.pipeline import Ingestor, IngestReport
    from kb.ingest.teaching import Remembered
    from kb.retrieval.hybrid import Retriever
    from kb.store import Store
    from kb.store.deliveries import Deliveries
    from kb.store.vectors import VectorStore


@dataclass(frozen=True)
class InitResult:
    """What `kb init` did: where the stores are and the schema revision before and after."""

    database: str
    vectors: str
    revision_before: str | None
    revision: str

    def to_json(self) -> dict[str, Any]:
        """The stable `kb init --json` object."""
        return {
            "database": self.database,
            "vectors": self.vectors,
            "revision_before": self.revision_before,
            "revision": self.revision,
        }

    def to_markdown(self) -> str:
        """Where the knowledge base is and what its schema became."""
        if self.revision_before == self.revision:
            done = f"kb is up to date (schema {self.revision})"
        elif self.revision_before is None:
            done = f"Created kb (schema {self.revision})"
        else:
            done = f"Upgraded kb schema {self.revision_before} → {self.revision}"
        return f"{done} at `{self.database}`; vectors: `{self.vectors}`.\n"


class KB:
    """One knowledge base: its settings, SQL store, vector store, embedder and services.

    Everything is built lazily, so `kb config` never loads a model and `kb init` never
    opens chromadb.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._encoder_loader: threading.Thread | None = None

    @cached_property
    def store(self) -> Store:
        """The SQL store (SQLite under KB_HOME, or KB_DATABASE_URL)."""
        from kb.store import Store

        if not self.settings.database_url:
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return Store.from_url(self.settings.effective_database_url)

    @cached_property
    def reader(self) -> Reader:
        """Read-only access for the knowledge-risk analyses, on the driver (no SQLAlchemy)."""
        return Reader(self.settings.effective_database_url)

    def revision(self) -> str | None:
        """The schema revision of the knowledge base; None when there is none yet."""
        from kb.store.history import schema_revision

        return schema_revision(self.reader)

    @cached_property
    def base_embedder(self) -> Embedder:
        """The document embedder (sentence-transformers over the bundled model)."""
        from kb.embedding.embedder import SentenceTransformerEmbedder

        return self._embedder or SentenceTransformerEmbedder(
            self.settings.embedding_model_dir, batch_size=self.settings.embedding_batch_size
        )

    @cached_property
    def embedder(self) -> CachedEmbedder:
        """The embedder, behind the content-hash cache (ingest writes through it)."""
        from kb.embedding.embedder import CachedEmbedder

        return CachedEmbedder(self.base_embedder, self.store)

    @cached_property
    def query_encoder(self) -> Embedder:
        """Embeds questions: the ONNX export when present (no torch import), else the model."""
        if self._embedder is None:
            try:
                from kb.embedding.query_encoder import load_query_encoder
            except ImportError:  # pragma: no cover - module missing in a partial install
                return self.base_embedder
            onnx = load_query_encoder(self.settings.models_path, self.settings.embedding_model_dir)
            if onnx is not None:
                return onnx
        return self.base_embedder

    def _preload_query_encoder(self) -> threading.Thread:
        """Start building the query encoder on another thread (once).

        Its ONNX session is set up by onnxruntime without the GIL, so it overlaps the
        imports and chromadb's start that a cold `kb ask` pays anyway (~0.25 s saved).
        """
        if self._encoder_loader is None:

            def load() -> None:
                # A failure is raised again, where it is reported, when the caller reads it.
                with contextlib.suppress(Exception):
                    _ = self.query_encoder

            self._encoder_loader = threading.Thread(target=load, daemon=True)
            self._encoder_loader.start()
        return self._encoder_loader

    @cached_property
    def retriever(self) -> Retriever:
        """Hybrid retrieval over both stores."""
        loader = self._preload_query_encoder()
        from kb.retrieval.hybrid import Retriever

        vectors = self.vectors
        loader.join()
        off = {r.strip() for r in self.settings.rerank_off.split(",") if r.strip()}
        return Retriever(self.store, vectors, self.query_encoder, rules_off=off)

    @cached_property
    def answers(self) -> AnswerService:
        """The answer service shared by the CLI, the bot, the dashboard and MCP."""
        self._preload_query_encoder()
        from kb.answer.llm import build_llm_answerer
        from kb.answer.service import AnswerService

        return AnswerService(
            self.store,
            self.reader,
            self.retriever,
            llm=build_llm_answerer(self.settings),
            departed_after_days=self.settings.departed_after_days,
            experts=self.experts,
        )

    @cached_property
    def busfactor(self) -> BusFactorService:
        """Truck factors, who alone knows what, leaver simulation (from stored history)."""
        from kb.analysis.busfactor import BusFactorService

        return BusFactorService(self.reader, departed_after_days=self.settings.departed_after_days)

    @cached_property
    def hotspots(self) -> HotspotService:
        """Files that change and break often and few still know; their danger zones."""
        from kb.analysis.hotspots import HotspotService

        return HotspotService(self.store, self.busfactor)

    @cached_property
    def risk(self) -> KnowledgeRiskService:
        """The knowledge-risk views: KPIs, treemap, leaver simulation, risk month by month."""
        from kb.analysis.risk_service import KnowledgeRiskService

        return KnowledgeRiskService(self.busfactor, self.hotspots)

    def version(self) -> tuple[Any, ...]:
        """Changes whenever stored knowledge changes (one cheap query); () with no kb yet.

        Surfaces key their caches on it: the dashboard recomputes only after an ingest, a
        taught note, a question or a vote.
        """
        from kb.store.history import kb_version

        return kb_version(self.reader)

    def sources(self) -> SourcesOverview:
        """What is ingested: each source's last sync and failures, and rows per table."""
        from kb.ingest.overview import SourcesOverview
        from kb.store.history import source_rows

        if self.revision() is None:
            return SourcesOverview([], {})
        return SourcesOverview(source_rows(self.reader), self.status())

    def incident_log(self, service: str | None = None) -> IncidentLog:
        """Incidents newest first, with write-ups, related known issues, correlated changes."""
        from kb.analysis.incidents import IncidentLog, IncidentLogService

        if self.revision() is None:
            return IncidentLog([])
        return IncidentLogService(self.reader, self.staleness).log(service)

    @cached_property
    def staleness(self) -> StalenessService:
        """Wisdom entries and which need re-verifying (files changed, teller departed)."""
        from kb.analysis.staleness import StalenessService

        return StalenessService(
            self.store, self.reader, departed_after_days=self.settings.departed_after_days
        )

    @cached_property
    def experts(self) -> ExpertService:
        """Who knows a path, service or topic now (authorship, recent changes, threads)."""
        from kb.analysis.experts import ExpertService

        return ExpertService(
            self.reader,
            self.busfactor,
            lambda q, k: [hit.source for hit in self.retriever.search(q, k=k)],
        )

    @cached_property
    def servicemap(self) -> ServiceMapService:
        """The service map: who calls whom and how, blast radius, impact, coupling, contracts."""
        from kb.analysis.servicemap.service import ServiceMapService

        return ServiceMapService(self.reader, lambda: self.experts)

    def ask(
        self,
        question: str,
        k: int = 5,
        asker: str | None = None,
        channel: str | None = None,
        surface: str = "cli",
        record: bool = True,
        readable_channels: Collection[str] | None = None,
    ) -> Answer:
        """Answer a question with citations (see AnswerService.ask).

        `readable_channels`, when given, are the ids of the private Slack channels whose
        content the answer's readers may see: other private channels are not cited (None:
        all, as on the command line).
        """
        visible = None
        if readable_channels is not None:
            from kb.contract.visibility import private_channel_filter

            visible = private_channel_filter(readable_channels)
        return self.answers.ask(
            question,
            k=k,
            asker=asker,
            channel=channel,
            surface=surface,
            record=record,
            visible=visible,
        )

    def services_named(self, text: str) -> list[str]:
        """The services this knowledge base knows that `text` names (as a question would)."""
        intent = self.retriever.read_intent(text)
        return list(dict.fromkeys([*intent.services, *intent.loose_services]))

    def ingestor(
        self,
        on_batch: Callable[[IngestReport], None] | None = None,
        indexer: Indexer | None = None,
    ) -> Ingestor:
        """The ingestion pipeline over this knowledge base's stores (and `indexer`, if given)."""
        from kb.ingest.pipeline import Ingestor

        return Ingestor(
            self.store,
            self.reader,
            (lambda: indexer) if indexer is not None else (lambda: self.indexer),
            self.settings,
            after_run=[self._refresh_danger_zones],
            on_batch=on_batch,
        )

    def _refresh_danger_zones(self, source: SourceConfig) -> None:
        # A --history-only run is the quick bus-factor path: it leaves the hotspot danger
        # zones to `kb hotspots --save` (and never loads the analyses); notes change no history.
        if source.kind != "taught" and not source.options.get("history_only"):
            self.hotspots.after_ingest(source)

    def ingest(
        self,
        source: SourceConfig,
        connector: Connector | None = None,
        on_batch: Callable[[IngestReport], None] | None = None,
        indexer: Indexer | None = None,
    ) -> IngestReport:
        """Ingest one source from its last checkpoint: creates or upgrades the schema first.

        A connector that can `prefetch` starts reading (git log, on the other core) while
        the store loads. When the run embedded text with the model, the query encoder is
        exported now, with torch already loaded, so later questions never import it. An
        `indexer` given replaces the knowledge base's own for this run.
        """
        from kb.contract.connector import load_connector

        if connector is None:
            connector = load_connector(source.kind)(source, self.settings)
        prefetch = getattr(connector, "prefetch", None)
        if prefetch is not None:
            from kb.store.history import source_cursor

            prefetch(source_cursor(self.reader, source.kind, source.name))
        self.store.migrate()
        report = self.ingestor(on_batch, indexer).run(source, connector)
        if report.index.texts_embedded and indexer is None:
            self.ensure_query_encoder()
        # A new service, person or document may have appeared: retrieval re-reads them.
        self.__dict__.pop("retriever", None)
        self.__dict__.pop("answers", None)
        return report

    def remember(
        self,
        text: str,
        service: str | None = None,
        kind: WisdomKind | None = None,
        by: str | None = None,
        severity: Severity | None = None,
        when: datetime | None = None,
        origin: WisdomOrigin | None = None,
        url: str | None = None,
        captured_by: str | None = None,
        private_to: str | None = None,
    ) -> Remembered:
        """Store taught knowledge in the teller's words, attributed and dated.

        `origin` is `taught` (a person, the default) or `agent_taught` (a coding agent,
        through MCP): answers cite an agent's note as such. A note captured from a
        conversation cites it (`url`, a Slack permalink) and names who captured it; one
        captured in a private channel (`private_to`, its id) is cited only to its members.
        """
        from kb.contract.kinds import Severity, WisdomKind, WisdomOrigin
        from kb.ingest.teaching import Remembered, TaughtNote, taught_source

        note = TaughtNote(
            text,
            said_by=by,
            when=when or datetime.now(UTC),
            service=service,
            wisdom_kind=kind or WisdomKind.UNWRITTEN_RULE,
            severity=severity or Severity.MEDIUM,
            origin=origin or WisdomOrigin.TAUGHT,
            url=url,
            captured_by=captured_by,
            private_to=private_to,
        )
        report = self.ingest(
            taught_source(self.settings), connector=note, indexer=self._note_indexer()
        )
        return Remembered(note.external_id, report.secrets_redacted, note.origin.value, by)

    def _note_indexer(self) -> Indexer | None:
        """An indexer embedding with the ONNX query encoder, when this home has the export.

        A note is a few sentences: the export of the same model (the same vectors, the same
        embedding-cache key) embeds it in milliseconds, and a long-running server that is
        taught (`kb mcp`, the bot) never loads torch for it.
        """
        from kb.embedding.query_encoder import OnnxQueryEncoder

        encoder = self.query_encoder
        if not isinstance(encoder, OnnxQueryEncoder):
            return None
        from kb.embedding.embedder import CachedEmbedder
        from kb.ingest.indexing import Indexer

        return Indexer(self.store, self.vectors, CachedEmbedder(encoder, self.store))

    def feedback(self, answer_id: str, vote: Feedback, comment: str | None = None) -> None:
        """Record a vote on an answer."""
        from kb.store.questions import set_feedback

        set_feedback(self.store, answer_id, vote, comment)

    @cached_property
    def deliveries(self) -> Deliveries:
        """Deliveries a surface handled (answered once, across restarts) and what it keeps."""
        from kb.store.deliveries import Deliveries

        self.store.migrate()
        return Deliveries(self.store)

    def gaps(self) -> KnowledgeGaps:
        """Unanswered and down-voted questions by service, with who could answer them."""
        from kb.answer.gaps import GapService

        return GapService(self.store, self.experts).gaps()

    @cached_property
    def catalog(self) -> CatalogService:
        """Decision records by repository and number; one page per service."""
        from kb.analysis.catalog import CatalogService

        return CatalogService(self.store, self.experts)

    @cached_property
    def dangerzones(self) -> DangerZoneService:
        """What bears on a path before it is edited: danger zones, rules, whom to ask."""
        from kb.analysis.dangerzones import DangerZoneService

        return DangerZoneService(self.store, self.reader, self.experts)

    def danger_zones(self, path: str, limit: int | None = None) -> DangerZones:
        """The danger zones, rules and known issues bearing on a path, and whom to ask."""
        return self.dangerzones.for_path(path, limit=limit)

    def adr(self, repo: str, number: int | str) -> AdrRecord:
        """A decision record by repository (or ADR folder) and number."""
        return self.catalog.adr(repo, number)

    def adrs(self, repo: str | None = None) -> AdrList:
        """Every decision record, or those of one repository (or ADR folder)."""
        return self.catalog.adrs(repo)

    def service(self, name: str) -> ServiceSummary:
        """What kb knows of one service: owner, edges, topics, decisions, incidents, experts."""
        return self.catalog.service(name)

    def services(self) -> ServiceList:
        """Every service kb knows."""
        return self.catalog.services()

    def guide_facts(self) -> GuideFacts:
        """What the onboarding guide and agent context files cite, read now."""
        from kb.guides.knowledge import GuideFacts

        return GuideFacts(self.store, self.reader, self.staleness.stale().entries, self.adrs())

    def _guide_smoother(self) -> Smoother | None:
        """The configured chat model, to smooth guides' prose (None: no LLM configured)."""
        from kb.answer.llm import build_chat_model
        from kb.guides.prose import Smoother

        model = build_chat_model(self.settings)
        if model is None:
            return None
        return Smoother(model, f"{self.settings.llm_provider}:{self.settings.llm_model}")

    def _service_map(self, service: str | None) -> str | None:
        """The Mermaid map of the system, or of one service and its neighbours."""
        drawn = self.servicemap.map(service)
        return drawn.to_mermaid() if drawn.graph.services else None

    @cached_property
    def onboarding(self) -> OnboardingService:
        """Onboarding guides to the whole system or one service, every item cited."""
        from kb.guides.onboarding import OnboardingService

        return OnboardingService(
            self.guide_facts,
            self.experts,
            self.incident_log,
            self.gaps,
            service_map=self._service_map,
            smoother=self._guide_smoother(),
        )

    @cached_property
    def agent_context(self) -> AgentContextService:
        """Context files for coding agents (AGENTS.md / CLAUDE.md), one per service."""
        from kb.guides.agent_context import AgentContextService

        return AgentContextService(self.guide_facts, self.experts, self._ingested_paths)

    def _ingested_paths(self) -> list[Path]:
        """The local folders kb ingests (repositories, ADR folders): never written unasked."""
        from kb.store.history import source_rows

        return [
            Path(r.location)
            for r in source_rows(self.reader)
            if r.kind in ("git", "adr") and Path(r.location).is_dir()
        ]

    @cached_property
    def incidents(self) -> IncidentService:
        """Incident trace plans: directions, similar incidents, suspect changes, whom to page."""
        from kb.guides.incidents import IncidentService

        return IncidentService(
            self.reader,
            self.servicemap.graph,
            self.experts,
            self.staleness,
            self.hotspots,
            deploy_channels=self.settings.deploy_channels,
            deploy_pattern=self.settings.deploy_pattern,
            blast=self.servicemap.blast_radius,
        )

    @cached_property
    def vectors(self) -> VectorStore:
        """The chunk vector store (chromadb under KB_HOME, or KB_CHROMA_URL)."""
        from kb.store.vectors import VectorStore

        dim = self.embedder.dim
        if self.settings.chroma_url:
            return VectorStore.remote(
                self.settings.chroma_url, self.settings.chroma_collection, dim
            )
        return VectorStore.persistent(
            self.settings.chroma_path, self.settings.chroma_collection, dim
        )

    @cached_property
    def indexer(self) -> Indexer:
        """Writes document batches to SQL and vectors."""
        from kb.ingest.indexing import Indexer

        return Indexer(self.store, self.vectors, self.embedder)

    def init(self) -> InitResult:
        """Create or upgrade the schema and the vector collection; export the query encoder."""
        before, after = self.store.migrate()
        _ = self.vectors
        self.ensure_query_encoder()
        return InitResult(
            database=self.settings.redacted()["effective_database_url"],
            vectors=self.settings.chroma_url or str(self.settings.chroma_path),
            revision_before=before,
            revision=after,
        )

    def status(self) -> dict[str, int]:
        """Rows per table and the number of vectors."""
        counts = self.store.counts()
        counts["vectors"] = self.vectors.count()
        return counts

    def ensure_query_encoder(self) -> Path | None:
        """Export the ONNX query encoder if missing or stale (imports torch: seconds, once).

        A cold `kb ask` then never imports torch. If the export fails, questions are
        embedded by sentence-transformers instead: slower, same vectors.
        """
        if self._embedder is not None:  # a caller that brought its own embedder
            return None
        from kb.embedding.query_encoder import ensure_query_encoder
        from kb.errors import ConfigError

        try:
            path = ensure_query_encoder(
                self.settings.models_path, self.settings.embedding_model_dir
            )
        except ConfigError as exc:
            logging.getLogger(__name__).warning("query encoder not exported: %s", exc)
            return None
        self.__dict__.pop("query_encoder", None)
        self.__dict__.pop("retriever", None)
        self.__dict__.pop("answers", None)
        return path

    def close(self) -> None:
        """Release database connections and the vector index's files."""
        if "store" in self.__dict__:
            self.store.close()
        if "reader" in self.__dict__:
            self.reader.close()
        if "vectors" in self.__dict__:
            self.vectors.close()
