"""The connector contract and registry (entry-point group `kb.connectors`).

A connector is configured with a `SourceConfig` and yields `kb.contract.records` from a cursor
(the last checkpoint it reached). Built-in connectors register through the same entry
points as third-party ones, so `kb` never imports a concrete connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

from kb.contract.records import Record
from kb.errors import ConfigError
from kb.settings import Settings

ENTRY_POINT_GROUP = "kb.connectors"
DISTRIBUTION = "system-wisdom"


@dataclass(frozen=True)
class SourceConfig:
    """A configured source: its kind, a stable name, where it is, and options."""

    kind: str
    name: str
    location: str
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """Yields records of one source, starting after `cursor`.

    Contract:
    - every record has a stable external id (re-ingesting upserts);
    - a `Checkpoint(cursor)` closes a batch; the pipeline commits the batch and the cursor
      in one transaction, so a crash resumes from the last checkpoint;
    - unreadable items are yielded as `Failure(where, message)` and skipped;
    - options["history_only"] (git): commits, changes and people only;
    - optionally `prefetch(cursor)`: start reading (a subprocess, a download) before the
      pipeline has loaded its store; `load` then uses what was started for the same cursor
      (the git connector starts `git log`, which runs on another core meanwhile).
    """

    kind: ClassVar[str]

    def __init__(self, source: SourceConfig, settings: Settings) -> None: ...

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        """Yield records after `cursor`, with a Checkpoint closing each batch."""
        ...


def available_connectors() -> dict[str, Any]:
    """Registered connector kinds and their entry points."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _own_connectors() -> dict[str, Any]:
    # Reading kb's own entry points is ~30x cheaper than scanning every installed package.
    try:
        eps = distribution(DISTRIBUTION).entry_points.select(group=ENTRY_POINT_GROUP)
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return {}
    return {ep.name: ep for ep in eps}


def load_connector(kind: str) -> type[Connector]:
    """The connector class registered for `kind` (kb's own first, then any package's)."""
    found = _own_connectors()
    if kind not in found:
        found = available_connectors()
    if kind not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigError(
            f"no connector for source kind {kind!r} (installed: {known}); a connector "
            f"registers in the {ENTRY_POINT_GROUP!r} entry-point group"
        )
    cls = found[kind].load()
    return cls
