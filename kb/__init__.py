"""kb: the institutional knowledge base of a software team.

The public API every surface (the CLI, the Slack bot, the dashboard, the MCP server) calls:

    from kb import KB, Settings
    app = KB(Settings())                       # KB_* variables, or Settings(home=...)
    answer = app.ask("why is payment to order async?")
    answer.to_json(), answer.to_markdown()

Every capability is a method of `KB` or of a service it builds, and returns one of the result
types below, each with `to_json()` (the stable JSON contract) and `to_markdown()`. Names load
on first use, so `import kb` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kb.analysis.busfactor import BusFactorReport
    from kb.analysis.catalog import AdrList, AdrRecord, ServiceList, ServiceSummary
    from kb.analysis.dangerzones import DangerZones
    from kb.analysis.experts import Experts
    from kb.analysis.hotspots import HotspotReport
    from kb.analysis.incidents import IncidentLog
    from kb.analysis.risk_history import RiskHistory
    from kb.analysis.risk_views import DepartureSimulation, KnowledgeTreemap, RiskOverview
    from kb.analysis.staleness import StaleWisdom, WisdomList, WisdomTable
    from kb.answer.gaps import KnowledgeGaps
    from kb.answer.types import Answer, Citation, Contact
    from kb.app import KB, InitResult
    from kb.contract.connector import SourceConfig
    from kb.errors import ConfigError, KBError, NotFoundError, SourceError
    from kb.guides.agent_context import AgentContext, ContextFiles
    from kb.guides.onboarding import OnboardingGuide
    from kb.guides.trace_report import TraceReport
    from kb.ingest.overview import SourcesOverview
    from kb.ingest.pipeline import IngestReport
    from kb.ingest.teaching import Remembered
    from kb.settings import Settings

_WHERE = {
    "KB": "kb.app",
    "InitResult": "kb.app",
    "Settings": "kb.settings",
    "KBError": "kb.errors",
    "ConfigError": "kb.errors",
    "SourceError": "kb.errors",
    "NotFoundError": "kb.errors",
    "SourceConfig": "kb.contract.connector",
    "Answer": "kb.answer.types",
    "Citation": "kb.answer.types",
    "Contact": "kb.answer.types",
    "KnowledgeGaps": "kb.answer.gaps",
    "BusFactorReport": "kb.analysis.busfactor",
    "AdrRecord": "kb.analysis.catalog",
    "AdrList": "kb.analysis.catalog",
    "ServiceSummary": "kb.analysis.catalog",
    "ServiceList": "kb.analysis.catalog",
    "DangerZones": "kb.analysis.dangerzones",
    "Experts": "kb.analysis.experts",
    "HotspotReport": "kb.analysis.hotspots",
    "WisdomList": "kb.analysis.staleness",
    "StaleWisdom": "kb.analysis.staleness",
    "IngestReport": "kb.ingest.pipeline",
    "Remembered": "kb.ingest.teaching",
    "TraceReport": "kb.guides.trace_report",
    "RiskOverview": "kb.analysis.risk_views",
    "KnowledgeTreemap": "kb.analysis.risk_views",
    "DepartureSimulation": "kb.analysis.risk_views",
    "RiskHistory": "kb.analysis.risk_history",
    "SourcesOverview": "kb.ingest.overview",
    "IncidentLog": "kb.analysis.incidents",
    "WisdomTable": "kb.analysis.staleness",
    "OnboardingGuide": "kb.guides.onboarding",
    "AgentContext": "kb.guides.agent_context",
    "ContextFiles": "kb.guides.agent_context",
}

__all__ = [
    "KB",
    "AdrList",
    "AdrRecord",
    "AgentContext",
    "Answer",
    "BusFactorReport",
    "Citation",
    "ConfigError",
    "Contact",
    "ContextFiles",
    "DangerZones",
    "DepartureSimulation",
    "Experts",
    "HotspotReport",
    "IncidentLog",
    "IngestReport",
    "InitResult",
    "KBError",
    "KnowledgeGaps",
    "KnowledgeTreemap",
    "NotFoundError",
    "OnboardingGuide",
    "Remembered",
    "RiskHistory",
    "RiskOverview",
    "ServiceList",
    "ServiceSummary",
    "Settings",
    "SourceConfig",
    "SourceError",
    "SourcesOverview",
    "StaleWisdom",
    "TraceReport",
    "WisdomList",
    "WisdomTable",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
