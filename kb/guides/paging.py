"""Who to page for a service: the people who know it now and its code owners; who left is
named apart, and a service that only one person still knows gets a bus-factor warning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kb.analysis.experts import ExpertService
from kb.errors import NotFoundError
from kb.guides.incident_plan import Pager
from kb.guides.mapview import ServiceMap
from kb.store import changes as sc
from kb.store import history as sh
from kb.store.reader import Reader

EXPERTS_PER_SERVICE = 3


def _seen(when: Any) -> str:
    return f"last active {when.date().isoformat()}" if when else "no activity known"


def pagers(
    reader: Reader, experts: ExpertService, graph: ServiceMap, services: Sequence[str]
) -> list[Pager]:
    """One `Pager` per service, in the order given."""
    people = sh.people(reader)
    departed = experts.busfactor.is_departed
    out = []
    for name in services:
        node = graph.service(name)
        try:
            who = experts.who(name, limit=EXPERTS_PER_SERVICE)
        except NotFoundError:
            who = None
        current = [{"name": e.name, "reason": e.reason()} for e in who.current] if who else []
        gone: dict[str, dict[str, Any]] = {}
        for e in who.departed if who else []:
            why = f"has left ({_seen(e.last_activity)}); knew it: {e.reason()}"
            gone[e.name] = {"name": e.name, "last_seen": _date(e.last_activity), "why": why}
        owners: list[dict[str, Any]] = []
        for rule in sc.code_owners(reader, [node.repo] if node and node.repo else []):
            pid = rule.person_id or handle_person(rule.owner, people)
            person = people.get(pid) if pid else None
            if person is not None and departed(person):
                if person.name in gone:
                    gone[person.name]["why"] += f"; still on CODEOWNERS as {rule.owner}"
                else:
                    gone[person.name] = {
                        "name": person.name, "last_seen": _date(person.last_activity_at),
                        "why": f"on CODEOWNERS ({rule.owner}) but has left "
                               f"({_seen(person.last_activity_at)})",
                    }  # fmt: skip
                continue
            if any(o["owner"] == rule.owner for o in owners):
                continue
            named = rule.person or (person.name if person else None)
            owners.append({"owner": rule.owner, "name": named, "pattern": rule.pattern})
        warning = None
        if len(current) == 1:
            warning = f"bus factor 1: {current[0]['name']} is the only one left who knows {name}"
        elif not current and who is not None:
            warning = f"nobody who knows {name} is still here"
        out.append(Pager(name, current, owners, list(gone.values()), warning))
    return out


def handle_person(handle: str, people: dict[int, sh.PersonRow]) -> int | None:
    """The one person a CODEOWNERS login most likely is (`@bokafor` is Ben Okafor,
    `@chenwei-dev` Chen Wei), by the usual ways logins are made of names; None when no one
    or several fit. Teams (`@org/team`) and emails are nobody here."""
    login = handle.strip().lstrip("@").lower()
    if "/" in login or "@" in login:
        return None
    flat = "".join(ch for ch in login if ch.isalpha())
    fits = set()
    for pid, p in people.items():
        parts = ["".join(ch for ch in w.lower() if ch.isalpha()) for w in p.name.split()]
        parts = [w for w in parts if w]
        if p.is_bot or len(parts) < 2:
            continue
        first, last = parts[0], parts[-1]
        forms = {first + last, first[0] + last, last + first, first + last[0], last + first[0]}
        if any(flat == f or (flat.startswith(f) and len(f) >= 6) for f in forms):
            fits.add(pid)
    return fits.pop() if len(fits) == 1 else None


def _date(when: Any) -> str | None:
    return when.date().isoformat() if when else None
