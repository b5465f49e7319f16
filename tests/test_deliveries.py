"""KB.deliveries: a surface's claims (a delivery handled once, by any process) and state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.store import Store
from kb.store.deliveries import Deliveries


def test_claims_state_and_forgetting(store: Store) -> None:
    deliveries, again = Deliveries(store), Deliveries(store)  # two processes, one database
    assert deliveries.claim("slack:event:T1:Ev1") is True
    assert again.claim("slack:event:T1:Ev1") is False
    assert deliveries.claim("slack:event:T1:Ev2") is True
    assert deliveries.get("slack:brief:C1") is None
    deliveries.put("slack:brief:C1", {"ts": "1.2", "services": ["a"]})
    again.put("slack:brief:C1", {"ts": "1.2", "services": ["a", "b"]})
    assert deliveries.get("slack:brief:C1") == {"ts": "1.2", "services": ["a", "b"]}
    assert deliveries.forget("slack:event:", datetime.now(UTC) - timedelta(hours=1)) == 0
    assert deliveries.forget("slack:event:", datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert deliveries.claim("slack:event:T1:Ev1") is True  # forgotten, so claimable again
    assert deliveries.get("slack:brief:C1") is not None  # other keys stay
