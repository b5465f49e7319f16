"""Writing the service map's facts: aliases, libraries, infrastructure, evidence lists.

Used by `RecordWriter`; kept apart so the writer stays one screenful per concern.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kb.contract.identity import service_key
from kb.contract.records import Evidence, InfrastructureRecord
from kb.store.models import (
    DependencyEvidence,
    DependencyKind,
    Infrastructure,
    Service,
    ServiceAlias,
    ServiceDependency,
    ServiceEvent,
)


def replace_aliases(session: Session, service_id: int, name: str, aliases: tuple[str, ...]) -> None:
    """Store a service's other spellings, in order, replacing those stored before."""
    session.execute(delete(ServiceAlias).where(ServiceAlias.service_id == service_id))
    seen = {name}
    for i, alias in enumerate(a for a in aliases if a):
        if alias not in seen:
            seen.add(alias)
            session.add(ServiceAlias(service_id=service_id, alias=alias[:200], position=i))


def find_service(session: Session, name: str) -> int | None:
    """The service a name means: by name, by alias, else by the normalised key of either.

    A name seen in another repository ("orders-service") thus lands on the service its own
    repository calls "orders".
    """
    sid = session.scalar(select(Service.id).where(Service.name == name))
    if sid is None:
        sid = session.scalar(select(ServiceAlias.service_id).where(ServiceAlias.alias == name))
    if sid is not None:
        return sid
    key = service_key(name)
    if not key:
        return None
    hits = {
        s
        for s, n in session.execute(select(Service.id, Service.name)).tuples()
        if service_key(n) == key
    } | {
        s
        for s, a in session.execute(select(ServiceAlias.service_id, ServiceAlias.alias)).tuples()
        if service_key(a) == key
    }
    return hits.pop() if len(hits) == 1 else None


def replace_evidence(session: Session, dependency_id: int, evidence: list[Evidence]) -> None:
    """Store every place that shows a dependency, in order."""
    session.execute(
        delete(DependencyEvidence).where(DependencyEvidence.dependency_id == dependency_id)
    )
    for i, ev in enumerate(evidence):
        session.add(
            DependencyEvidence(
                dependency_id=dependency_id, position=i, repo=ev.repo, path=ev.path, line=ev.line
            )
        )


def upsert_infrastructure(session: Session, repo_id: int, rec: InfrastructureRecord) -> None:
    """Store (or update) a piece of infrastructure a repository runs."""
    row = session.scalar(
        select(Infrastructure).where(
            Infrastructure.repo_id == repo_id, Infrastructure.name == rec.name
        )
    )
    if row is None:
        row = Infrastructure(repo_id=repo_id, name=rec.name, kind=rec.kind)
        session.add(row)
    row.kind, row.path, row.line = rec.kind, rec.path, rec.line


def drop_repo_map(session: Session, repo: str, repo_id: int | None) -> None:
    """Forget the map facts a repository's last run stored (its new map follows).

    Derived async edges follow the topics at the end of the run.
    """
    session.execute(
        delete(ServiceDependency).where(
            ServiceDependency.evidence_repo == repo,
            ServiceDependency.kind != DependencyKind.ASYNC_EVENT,
        )
    )
    session.execute(delete(ServiceEvent).where(ServiceEvent.evidence_repo == repo))
    if repo_id is not None:
        session.execute(delete(Infrastructure).where(Infrastructure.repo_id == repo_id))
