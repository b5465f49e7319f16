"""What a surface handled and keeps: claimed deliveries and small state, by key.

A Slack event is delivered again when the ack was late (`X-Slack-Retry-Num`), and again
after the bot restarts; claiming its id here, in the shared store, makes it answered once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from kb.store.models import SurfaceEvent, utcnow
from kb.store.store import Store


class Deliveries:
    """Claims and state of surfaces (the bot), kept in the knowledge base's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, key: str) -> bool:
        """True the first time `key` is claimed, False ever after (any process)."""
        try:
            with self.store.transaction() as s:
                s.add(SurfaceEvent(key=key[:300], data={}))
        except IntegrityError:
            return False
        return True

    def get(self, key: str) -> dict[str, Any] | None:
        """What was kept under `key`, or None."""
        with self.store.transaction() as s:
            row = s.get(SurfaceEvent, key[:300])
            return dict(row.data) if row is not None else None

    def put(self, key: str, data: dict[str, Any]) -> None:
        """Keep `data` under `key` (replacing what was there)."""
        with self.store.transaction() as s:
            row = s.get(SurfaceEvent, key[:300])
            if row is None:
                s.add(SurfaceEvent(key=key[:300], data=dict(data)))
            else:
                row.data = dict(data)
                row.updated_at = utcnow()

    def forget(self, prefix: str, before: datetime) -> int:
        """Drop keys starting with `prefix` claimed before `before`; how many went."""
        with self.store.transaction() as s:
            result = s.execute(
                delete(SurfaceEvent).where(
                    SurfaceEvent.key.startswith(prefix, autoescape=True),
                    SurfaceEvent.created_at < before,
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
