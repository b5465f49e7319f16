"""A connector of hand-written records (services, incidents, people, wisdom) for tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from kb.contract.records import Checkpoint, Record


class Facts:
    """Yields the records it was given, then a checkpoint: a real Connector."""

    kind: ClassVar[str] = "slack"

    def __init__(self, *records: Record) -> None:
        self.records = records

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        yield from self.records
        yield Checkpoint({"done": True})
