"""kb's MCP resources: decision records, service pages and onboarding guides, as markdown.

    adr://{repo}/{number}       a decision record as written, with its status and chain
    service://{name}            what kb knows of a service at a glance
    onboarding://{service}      the onboarding guide of a service (when this kb has guides)

`resources/list` names every concrete one, RESOURCE_PAGE at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from kb import KB, NotFoundError
from kb_mcp.schemas import RESOURCE_PAGE

MARKDOWN = "text/markdown"


@dataclass(frozen=True)
class Template:
    """A resource template: its URI pattern, name and what it holds."""

    uri_template: str
    name: str
    title: str
    description: str
    needs: str | None = None

    def available(self, app: KB) -> bool:
        """Whether this kb can serve resources of this template."""
        return self.needs is None or hasattr(type(app), self.needs)


TEMPLATES = (
    Template(
        "adr://{repo}/{number}",
        "adr",
        "Decision record",
        "An architecture decision record by repository (or ADR folder) and number, as "
        "written, with its status and what it supersedes or was superseded by.",
    ),
    Template(
        "service://{name}",
        "service",
        "Service",
        "What kb knows of a service: owner, what it calls and what calls it (with evidence), "
        "its events, decisions, incidents and who knows it now.",
    ),
    Template(
        "onboarding://{service}",
        "onboarding",
        "Onboarding guide",
        "The onboarding guide of a service: what to read first, whom to meet, what not to touch.",
        needs="onboarding",
    ),
)


@dataclass(frozen=True)
class Listed:
    """One concrete resource of a listing."""

    uri: str
    name: str
    title: str
    description: str | None


def adr_uri(repo: str, number: int) -> str:
    """The URI of a decision record."""
    return f"adr://{quote(repo, safe='')}/{number}"


def templates_for(app: KB) -> list[Template]:
    """The templates this kb serves."""
    return [t for t in TEMPLATES if t.available(app)]


def listing(app: KB) -> list[Listed]:
    """Every concrete resource: services, their onboarding guides, decision records."""
    services = app.services().to_json()["services"]
    out = [
        Listed(f"service://{quote(s['name'], safe='')}", s["name"], s["name"], s["description"])
        for s in services
    ]
    if TEMPLATES[2].available(app):
        out += [
            Listed(
                f"onboarding://{quote(s['name'], safe='')}",
                f"onboarding {s['name']}",
                f"Onboarding: {s['name']}",
                None,
            )
            for s in services
        ]
    for adr in app.adrs().to_json()["adrs"]:
        if adr["number"] is not None:
            out.append(
                Listed(
                    adr_uri(adr["repo"], adr["number"]),
                    f"{adr['repo']} ADR {adr['number']}",
                    f"{adr['repo']}: {adr['title']}",
                    f"status: {adr['status'] or 'unknown'}",
                )
            )
    return out


def page_of(items: list[Listed], offset: int) -> tuple[list[Listed], str | None]:
    """One page of a listing and the cursor of the next."""
    end = offset + RESOURCE_PAGE
    return items[offset:end], (str(end) if end < len(items) else None)


def read(app: KB, uri: str) -> str:
    """The markdown of a resource; NotFoundError for a URI kb cannot resolve."""
    parts = urlsplit(uri)
    scheme, host = parts.scheme, unquote(parts.netloc)
    rest = [unquote(p) for p in parts.path.split("/") if p]
    if scheme == "adr" and host and len(rest) == 1:
        return app.adr(host, rest[0]).to_markdown()
    if scheme == "service" and host and not rest:
        return app.service(host).to_markdown()
    if scheme == "onboarding" and host and not rest:
        if not TEMPLATES[2].available(app):
            raise NotFoundError("this kb has no onboarding guides")
        return str(app.onboarding.guide(host).to_markdown())  # type: ignore[attr-defined]
    shapes = ", ".join(t.uri_template for t in templates_for(app))
    raise NotFoundError(f"unknown resource {uri!r} (kb serves {shapes})")
