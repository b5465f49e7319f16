"""What every page shares: the KB, its version, cached queries, errors and empty states.

`get_kb()` is the one `KB` of the server (`st.cache_resource`). Queries are cached with
`st.cache_data` keyed on `KB.version()`, which changes after an ingest, a taught note, a
question or a vote: a page redraws from cache until the knowledge base changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from kb import KB, KBError, Settings


def _open_kb() -> KB:
    return KB(Settings())


# Tests point this at a KB of their own before the first run.
open_kb: Callable[[], KB] = _open_kb


@st.cache_resource(show_spinner=False)
def get_kb() -> KB:
    """The knowledge base of this server, built once from KB_* settings."""
    return open_kb()


def version() -> tuple[Any, ...]:
    """The knowledge base's version (one cheap query): the key of every cached query."""
    return get_kb().version()


@contextmanager
def guarded() -> Iterator[None]:
    """Show a failure as `st.error` with its message, never a traceback."""
    try:
        yield
    except KBError as exc:
        st.error(str(exc))
    except Exception as exc:
        st.error(f"{type(exc).__name__}: {exc}")


def require_kb() -> bool:
    """True when there is a knowledge base; otherwise says how to make one."""
    if get_kb().revision() is None:
        home = get_kb().settings.redacted()["effective_database_url"]
        st.info(
            f"No knowledge base at `{home}` yet — run `kb init`, then "
            "`kb ingest git PATH` for each repository (or `kb seed demo-org` for a demo)."
        )
        return False
    return True


def empty(message: str) -> None:
    """An empty state: what is missing and the command that fills it."""
    st.info(message)


# -- cached queries: plain JSON, keyed on the version ----------------------------------------


@st.cache_data(show_spinner=False, max_entries=4)
def overview(v: tuple[Any, ...]) -> dict[str, Any]:
    """KPIs and people (RiskOverview)."""
    return get_kb().risk.overview().to_json()


@st.cache_data(show_spinner=False, max_entries=4)
def busfactor(v: tuple[Any, ...]) -> dict[str, Any]:
    """The bus-factor report (heatmap, services, people)."""
    return get_kb().busfactor.report().to_json()


@st.cache_data(show_spinner=False, max_entries=32)
def treemap(v: tuple[Any, ...], leavers: tuple[str, ...]) -> dict[str, Any]:
    """The knowledge treemap with the leavers' share."""
    return get_kb().risk.treemap(list(leavers)).to_json()


@st.cache_data(show_spinner=False, max_entries=32)
def departure(v: tuple[Any, ...], leavers: tuple[str, ...]) -> dict[str, Any]:
    """The leaver simulation."""
    return get_kb().risk.simulate_departure(list(leavers)).to_json()


@st.cache_data(show_spinner=False, max_entries=4)
def risk_history(v: tuple[Any, ...]) -> dict[str, Any]:
    """The truck factor and orphaned share month by month."""
    return get_kb().risk.history().to_json()


@st.cache_data(show_spinner=False, max_entries=4)
def wisdom(v: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Danger zones, known issues, rules... with stale flags and links."""
    return get_kb().staleness.table().rows()


@st.cache_data(show_spinner=False, max_entries=4)
def incidents(v: tuple[Any, ...]) -> dict[str, Any]:
    """The incident log."""
    return get_kb().incident_log().to_json()


@st.cache_data(show_spinner=False, max_entries=4)
def gaps(v: tuple[Any, ...]) -> dict[str, Any]:
    """Knowledge gaps."""
    return get_kb().gaps().to_json()


@st.cache_data(show_spinner=False, max_entries=4)
def sources(v: tuple[Any, ...]) -> dict[str, Any]:
    """Sources, last runs and counts."""
    return get_kb().sources().to_json()


@st.cache_data(show_spinner=False, max_entries=4)
def service_map(v: tuple[Any, ...]) -> dict[str, Any]:
    """The service map (JSON, DOT, Mermaid) and the couplings no dependency declares."""
    app = get_kb()
    smap = app.servicemap.map()
    # `kb coupling`'s findings: pairs that change together and no dependency declares.
    hidden = [
        [*p["services"], p["support"]]
        for p in app.servicemap.coupling().to_json()["pairs"]
        if p.get("undeclared", not p["declared"])
    ]
    return {
        "map": smap.to_json(),
        "dot": smap.to_dot(),
        "mermaid": smap.to_mermaid(),
        "hidden": hidden,
        "links": app.servicemap.evidence_links(smap),
    }


@st.cache_data(show_spinner=False, max_entries=32)
def service_detail(v: tuple[Any, ...], name: str) -> dict[str, Any]:
    """A service's blast radius, who knows it, and its wisdom entries."""
    app = get_kb()
    return {
        "blast_radius": app.servicemap.blast_radius(name).to_json(),
        "experts": app.experts.who(name).to_json(),
        "wisdom": app.staleness.table(service=name).rows(),
    }


@st.cache_data(show_spinner=False, max_entries=16)
def onboarding(v: tuple[Any, ...], service: str | None) -> str:
    """The onboarding guide (markdown) to the whole system or one service."""
    return str(get_kb().onboarding.guide(service).to_markdown())
