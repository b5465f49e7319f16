"""HTTP endpoints as the map compares them: `GET /users/{id}` and `GET /users/{user_id}`
are one endpoint, and a call whose edge names only its setting (`ORDERS_URL`) is read off
the calling line (`ordersURL+"/orders"` in an `http.Post`)."""

from __future__ import annotations

import re

from kb.analysis.servicemap.graph import Edge, Location
from kb.analysis.servicemap.sources import RepoFiles

_ENDPOINT = re.compile(r"^(?:(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+)?(/\S*)$", re.I)
_PLACEHOLDER = re.compile(r"\{[^}]*\}|:[A-Za-z_]\w*|<[^>]*>")
_PATH_LITERAL = re.compile(r"""["'`](/[A-Za-z0-9_\-./{}:$]*)""")
_METHOD_WORD = re.compile(r"\b(get|post|put|patch|delete|head)(?:async)?\b", re.I)


def _norm_path(path: str) -> str:
    return _PLACEHOLDER.sub("{}", path.split("?", 1)[0].rstrip("/") or "/")


def endpoint_key(text: str) -> tuple[str | None, str] | None:
    """("GET", "/users/{}") for "GET /users/{id}"; (None, path) with no method; None if no
    endpoint."""
    m = _ENDPOINT.match(text.strip())
    if not m:
        return None
    return (m.group(1).upper() if m.group(1) else None, _norm_path(m.group(2)))


def http_calls(
    edge: Edge, consumer_repo: str | None, files: RepoFiles
) -> list[tuple[str, Location]]:
    """The (endpoint, location) calls an edge stands for: its `via`, or the path literals on
    the lines of its evidence in the consumer's code."""
    mine = [loc for loc in edge.evidence if loc.repo == consumer_repo] or edge.evidence[:1]
    if endpoint_key(edge.via):
        return [(edge.via, mine[0])] if mine else []
    out = []
    for loc in mine:
        text = files.text(loc.repo, loc.path) if loc.line else None
        if not text or loc.line is None:
            continue
        lines = text.splitlines()
        line = lines[loc.line - 1] if loc.line <= len(lines) else ""
        for m in _PATH_LITERAL.finditer(line):
            method = _METHOD_WORD.search(line)
            call = f"{method.group(1).upper()} {m.group(1)}" if method else m.group(1)
            out.append((call, loc))
    return out
